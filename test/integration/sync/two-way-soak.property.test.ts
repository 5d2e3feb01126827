/**
 * The randomized two-way soak (bounded, seeded): first-name edits, email changes, archives, restores
 * and tag changes on the three sandboxes and locally, interleaved with single pulls and full syncs
 * (every ESP pulled, then a push). At the end every ESP and the store agree, field by field, with a
 * model of the intended outcome: the latest edit of each field wins (edits are at least 1.5 s apart,
 * above the vendors' one-second timestamps), emails follow the latest change (Mailchimp's too, seen by
 * a pull through the member's contact_id), tags the latest action per tag, an archived record is left
 * alone while the contact lives on elsewhere, and a restored record (HubSpot's recycle bin, or the
 * person signing up again on Mailchimp with the address the member had) links again and gets the
 * contact's current name, email and tags. No edit lost, none reverted.
 */
import fc from 'fast-check';
import type { EspName } from '../../../connectors/connector';
import type { ManualClock } from '../../../src/model/clock';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { FIRST_NAME_MAPPING, changeEmail, editFirstName, soakRun } from '../../support/sandboxes';

const MAPPING = `${FIRST_NAME_MAPPING}tags:
  owned: { prefix: "seg:" }
`;
const PEOPLE = 3;
const ESPS: EspName[] = ['hubspot', 'mailchimp', 'klaviyo'];
const TAGS = ['seg:a', 'seg:b'];
const UI = { source: 'CRM_UI' as const, sourceId: 'userId:1' };

type Where = 'local' | EspName;
type Op =
  | { kind: 'edit'; who: number; where: Where }
  | { kind: 'email'; who: number; where: Where }
  | { kind: 'tag'; who: number; where: Where; tag: string; on: boolean }
  | { kind: 'archive'; who: number; where: 'mailchimp' | 'hubspot' }
  | { kind: 'restore'; who: number; where: 'mailchimp' | 'hubspot' }
  | { kind: 'pull'; esp: EspName }
  | { kind: 'sync' };

const who = fc.integer({ min: 0, max: PEOPLE - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('edit' as const), who, where: fc.constantFrom<Where>('local', ...ESPS) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('email' as const), who, where: fc.constantFrom<Where>('local', ...ESPS) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('tag' as const),
      who,
      where: fc.constantFrom<Where>('local', ...ESPS),
      tag: fc.constantFrom(...TAGS),
      on: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('archive' as const), who, where: fc.constantFrom('mailchimp' as const, 'hubspot' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('restore' as const), who, where: fc.constantFrom('mailchimp' as const, 'hubspot' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pull' as const), esp: fc.constantFrom(...ESPS) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'sync' as const }) },
);

interface Person {
  id: number;
  email: string;
  name: string;
  tags: Set<string>;
  /** Where the person's record is archived, and what it is known by there (the email it had, its HubSpot id). */
  archived: Map<EspName, { email: string; id: string }>;
  /** Records restored since the last sync: still under the email they had when they left. */
  restored: Map<EspName, { email: string; id: string }>;
}

/** How a person's record is found on an ESP now: a record restored since the last sync by what it had. */
function address(p: Person, esp: EspName): string {
  const back = p.restored.get(esp);
  return back ? (esp === 'hubspot' ? back.id : back.email) : p.email;
}

describe('randomized two-way soak against the three sandboxes', () => {
  it('ends with every ESP and the store agreeing with the model, field by field', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 15, maxLength: 40 }), async (ops) => {
        run++;
        await soakRun(MAPPING, Date.UTC(2026, 6, 1, 9, 0, 0, 100), (s, h, clock) => soak(s, h, clock, ops, run));
      }),
      { numRuns: Number(process.env.SOAK_RUNS ?? 15), seed: Number(process.env.SOAK_SEED ?? 15_15), endOnFailure: true },
    );
  }, 300_000);
});

async function soak(s: Sandboxes, h: Harness, clock: ManualClock, ops: Op[], run: number): Promise<void> {
  let serial = 0;
  const fresh = (): string => `N${run}x${++serial}`;
  const later = (): Promise<void> => clock.advance(1500);
  const sync = async (): Promise<void> => {
    for (const e of ESPS) await h.engine.pull(e);
    await h.pushAll();
    // A restored record now has the contact's email.
    for (const p of people) p.restored.clear();
  };
  const people: Person[] = [];
  for (let i = 0; i < PEOPLE; i++) {
    const email = `p${i}.r${run}@x.com`;
    const name = fresh();
    const id = h.store.upsertContacts([{ email, properties: { first_name: name }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!.contactId;
    people.push({ id, email, name, tags: new Set(), archived: new Map(), restored: new Map() });
  }
  await h.pushAll();
  await later();
  await sync();

  for (const op of ops) {
    await later();
    switch (op.kind) {
      case 'edit': {
        const p = people[op.who]!;
        if (op.where !== 'local' && p.archived.has(op.where)) break;
        const name = fresh();
        // A record restored since the last sync is edited as it stands there.
        editFirstName(s, h, op.where, { id: p.id, email: op.where === 'local' ? p.email : address(p, op.where) }, name, clock.now());
        p.name = name;
        break;
      }
      case 'email': {
        const p = people[op.who]!;
        if (op.where !== 'local' && p.archived.has(op.where)) break;
        // An email change is followed by a full sync: two changes of one identity between syncs have no "latest".
        await sync();
        const email = `${fresh().toLowerCase()}@x.com`;
        changeEmail(s, h, op.where, p, email);
        p.email = email;
        await later();
        await sync();
        break;
      }
      case 'tag': {
        const p = people[op.who]!;
        if (op.where !== 'local' && p.archived.has(op.where)) break;
        // A tag changed on two sides between syncs is a set difference per side, not "latest": sync first.
        await sync();
        if (op.where === 'local') h.store.updateTags(p.id, op.on ? [op.tag] : [], op.on ? [] : [op.tag], 'local', clock.now());
        else if (op.where === 'mailchimp') s.mailchimp.admin.tag(p.email, op.tag, op.on);
        else {
          // HubSpot and Klaviyo hold the tags in one property, edited whole in their UI.
          const now = new Set(onEsp(s, op.where, p.email)!.tags);
          if (op.on) now.add(op.tag);
          else now.delete(op.tag);
          if (op.where === 'hubspot') {
            // HubSpot's tag property is a multiple checkbox: a new tag is an option added in its settings first.
            const def = s.hubspot.state.properties.require('segsync_tags');
            if (!def.options.some((o) => o.value === op.tag))
              s.hubspot.state.properties.update('segsync_tags', {
                options: [...def.options, { label: op.tag, value: op.tag, hidden: false, displayOrder: def.options.length }],
              });
            s.hubspot.edit(p.email, { segsync_tags: [...now].join(';') });
          } else s.klaviyo.state.patchProfile(s.klaviyo.profileByEmail(p.email)!.id, { attributes: { properties: { segsync_tags: [...now] } } });
        }
        if (op.on) p.tags.add(op.tag);
        else p.tags.delete(op.tag);
        await later();
        await sync();
        break;
      }
      case 'archive': {
        const p = people[op.who]!;
        if (p.archived.has(op.where)) break;
        // The archived record keeps what it had; sync first so the model knows what that is.
        await sync();
        const hubspotId = s.hubspot.contact(p.email)?.id ?? '';
        if (op.where === 'mailchimp') s.mailchimp.admin.archive(p.email);
        else s.hubspot.state.archive(hubspotId, UI);
        p.archived.set(op.where, { email: p.email, id: hubspotId });
        break;
      }
      case 'restore': {
        // The person chosen, or else whoever is archived there (so restores are not left to chance).
        const p = [people[op.who]!, ...people].find((q) => q.archived.has(op.where));
        const gone = p?.archived.get(op.where);
        if (!p || !gone) break;
        // The record comes back as it was (its old email, name and tags); segsync brings it up to date.
        if (op.where === 'mailchimp') s.mailchimp.seed([{ email: gone.email }]);
        else s.hubspot.unarchive(gone.id);
        p.archived.delete(op.where);
        p.restored.set(op.where, gone);
        break;
      }
      case 'pull':
        await h.engine.pull(op.esp);
        break;
      case 'sync':
        await sync();
        break;
    }
  }
  await later();
  await sync();
  await later();
  await sync();

  expect(h.store.counts().contacts).toBe(PEOPLE);
  for (const p of people) {
    const local = h.store.getContact(p.id)!;
    expect({ email: local.email, name: local.properties.first_name?.value, tags: [...local.tags].sort() }).toEqual({
      email: p.email,
      name: p.name,
      tags: [...p.tags].sort(),
    });
    for (const esp of ESPS) {
      if (p.archived.has(esp)) continue;
      expect({ esp, email: p.email, ...onEsp(s, esp, p.email) }).toEqual({ esp, email: p.email, name: p.name, tags: [...p.tags].sort() });
    }
  }
  expect(h.store.counts().outbox.filter((o) => o.pending > 0)).toEqual([]);
}

function onEsp(s: Sandboxes, esp: EspName, email: string): { name: unknown; tags: string[] } | undefined {
  switch (esp) {
    case 'hubspot': {
      const c = s.hubspot.contact(email);
      return c && { name: c.properties.firstname, tags: (c.properties.segsync_tags ?? '').split(';').filter(Boolean).sort() };
    }
    case 'mailchimp': {
      const m = s.mailchimp.member(email);
      return m && { name: m.merge_fields.FNAME, tags: ((m.tags ?? []) as { name: string }[]).map((t) => t.name).sort() };
    }
    case 'klaviyo': {
      const p = s.klaviyo.profileByEmail(email);
      return p && { name: p.first_name, tags: ((p.properties.segsync_tags ?? []) as string[]).slice().sort() };
    }
  }
}
