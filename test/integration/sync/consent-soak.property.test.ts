/**
 * The randomized consent soak (bounded, seeded): opt-outs made locally and on each sandbox, people
 * signing up again on an ESP, field edits and email changes on every side, interleaved with single pulls, pushes
 * without a pull first, and full syncs (a consent change on HubSpot or Mailchimp is pulled at once,
 * as its webhook would bring it: neither says when it happened). Two invariants:
 * - after every pull or push, no ESP record that was opted out is subscribed: segsync never
 *   resubscribes anyone, whatever order it read and wrote in;
 * - at the end, a person whose last consent change was an opt-out (wherever it was made) is opted out
 *   locally and on every ESP.
 */
import fc from 'fast-check';
import type { EspName } from '../../../connectors/connector';
import type { ManualClock } from '../../../src/model/clock';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { FIRST_NAME_MAPPING, changeEmail, editFirstName, soakRun } from '../../support/sandboxes';

const PEOPLE = 3;
const ESPS: EspName[] = ['hubspot', 'mailchimp', 'klaviyo'];
const USER = { source: 'CRM_UI' as const, sourceId: 'userId:1' };

type Where = 'local' | EspName;
type Op =
  | { kind: 'optOut'; who: number; where: Where }
  | { kind: 'signUp'; who: number; where: EspName }
  | { kind: 'edit'; who: number; where: Where }
  | { kind: 'email'; who: number; where: Where }
  | { kind: 'pull'; esp: EspName }
  | { kind: 'push' }
  | { kind: 'sync' };

const who = fc.integer({ min: 0, max: PEOPLE - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('optOut' as const), who, where: fc.constantFrom<Where>('local', ...ESPS) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('signUp' as const), who, where: fc.constantFrom(...ESPS) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('edit' as const), who, where: fc.constantFrom<Where>('local', ...ESPS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('email' as const), who, where: fc.constantFrom<Where>('local', ...ESPS) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pull' as const), esp: fc.constantFrom(...ESPS) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'push' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'sync' as const }) },
);

/** Whether a record can be mailed: true, false (opted out), or undefined (none, or neither). */
function subscribed(s: Sandboxes, esp: EspName, email: string): boolean | undefined {
  switch (esp) {
    case 'hubspot': {
      const c = s.hubspot.contact(email);
      return c && c.properties.hs_email_optout !== 'true';
    }
    case 'mailchimp': {
      const status = s.mailchimp.member(email)?.status;
      return status === 'subscribed' ? true : status === 'unsubscribed' || status === 'cleaned' ? false : undefined;
    }
    case 'klaviyo': {
      const consent = s.klaviyo.profileByEmail(email)?.marketing.consent;
      return consent === 'SUBSCRIBED' ? true : consent === 'UNSUBSCRIBED' ? false : undefined;
    }
  }
}

describe('randomized consent soak against the three sandboxes', () => {
  it('never resubscribes anyone, and carries every last opt-out everywhere', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 12, maxLength: 30 }), async (ops) => {
        run++;
        await soakRun(FIRST_NAME_MAPPING, Date.UTC(2026, 7, 1, 9, 0, 0, 100), (s, h, clock) => soak(s, h, clock, ops, run));
      }),
      { numRuns: Number(process.env.SOAK_RUNS ?? 10), seed: Number(process.env.SOAK_SEED ?? 20_26), endOnFailure: true },
    );
  }, 300_000);
});

async function soak(s: Sandboxes, h: Harness, clock: ManualClock, ops: Op[], run: number): Promise<void> {
  let serial = 0;
  const later = (): Promise<void> => clock.advance(1500);
  const emails = Array.from({ length: PEOPLE }, (_, i) => `c${i}.r${run}@x.com`);
  const ids = emails.map(
    (email) =>
      h.store.upsertContacts([{ email, properties: { first_name: `N${serial++}` }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!.contactId,
  );
  /** Each person's last consent change: an opt-out or a signup, and where. */
  const last: ('optOut' | 'signUp')[] = emails.map(() => 'signUp');
  // A segsync step: no record opted out before it is subscribed after it.
  const step = async (what: string, act: () => Promise<unknown>): Promise<void> => {
    const before = emails.map((e) => ESPS.map((esp) => subscribed(s, esp, e)));
    await act();
    emails.forEach((e, i) =>
      ESPS.forEach((esp, k) => {
        if (before[i]![k] === false) expect({ what, esp, email: e, subscribed: subscribed(s, esp, e) }).toEqual({ what, esp, email: e, subscribed: false });
      }),
    );
  };
  const sync = async (): Promise<void> => {
    for (const e of ESPS) await step(`pull ${e}`, () => h.engine.pull(e));
    await step('push', () => h.pushAll());
  };
  // HubSpot and Mailchimp give no consent time: a change there is known by its webhook, or by a pull
  // before the next change there (a signup and an opt-out between two pulls look like nothing at all).
  // So a change on either is pulled at once, as the daemon hears of it; Klaviyo's is stamped, and left
  // to whichever pull comes next.
  const heard = async (where: Where): Promise<void> => {
    if (where !== 'hubspot' && where !== 'mailchimp') return;
    await later();
    await step(`pull ${where}`, () => h.engine.pull(where));
  };
  await step('first push', () => h.pushAll());
  await later();
  await sync();

  for (const op of ops) {
    await later();
    switch (op.kind) {
      case 'optOut': {
        const email = emails[op.who]!;
        // Opting out again where HubSpot or Mailchimp already hold an opt-out changes nothing there
        // (no time, no status): no reader could see it. Klaviyo stamps a new consent time; locally, too.
        const unseen = (op.where === 'hubspot' || op.where === 'mailchimp') && subscribed(s, op.where, email) === false;
        if (op.where === 'local') h.store.setConsent(ids[op.who]!, { status: 'unsubscribed', updatedAt: clock.now(), source: 'local' });
        else if (op.where === 'hubspot')
          for (const t of s.hubspot.state.subscriptionTypes) s.hubspot.state.setSubscription(email, t.id, 'NOT_SUBSCRIBED', USER);
        else if (op.where === 'mailchimp') s.mailchimp.admin.update(email, { status: 'unsubscribed' });
        else s.klaviyo.state.unsubscribe([email], undefined);
        if (!unseen) last[op.who] = 'optOut';
        await heard(op.where);
        break;
      }
      case 'signUp': {
        // The person signs up again there, through the ESP's own form (Mailchimp: confirmed double opt-in).
        const email = emails[op.who]!;
        const unseen = op.where === 'hubspot' && subscribed(s, 'hubspot', email) === true;
        if (op.where === 'hubspot') for (const t of s.hubspot.state.subscriptionTypes) s.hubspot.state.setSubscription(email, t.id, 'SUBSCRIBED', USER);
        else if (op.where === 'mailchimp') {
          s.mailchimp.admin.update(email, { status: 'pending' });
          s.mailchimp.admin.update(email, { status: 'subscribed' });
        } else s.klaviyo.state.subscribe([email], undefined);
        if (!unseen) last[op.who] = 'signUp';
        await heard(op.where);
        break;
      }
      case 'edit': {
        editFirstName(s, h, op.where, { id: ids[op.who]!, email: emails[op.who]! }, `N${serial++}`, clock.now());
        break;
      }
      case 'email': {
        // An email change is followed by a full sync, as in the two-way soak: two changes of one
        // identity between syncs have no "latest".
        await sync();
        const email = `c${op.who}.${serial++}.r${run}@x.com`;
        changeEmail(s, h, op.where, { id: ids[op.who]!, email: emails[op.who]! }, email);
        emails[op.who] = email;
        await later();
        await sync();
        break;
      }
      case 'pull':
        await step(`pull ${op.esp}`, () => h.engine.pull(op.esp));
        break;
      case 'push':
        await step('push', () => h.pushAll());
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

  emails.forEach((email, i) => {
    if (last[i] !== 'optOut') return;
    const everywhere = { local: h.store.getContact(ids[i]!)!.consent?.status, ...Object.fromEntries(ESPS.map((esp) => [esp, subscribed(s, esp, email)])) };
    expect({ email, ...everywhere }).toEqual({ email, local: 'unsubscribed', hubspot: false, mailchimp: false, klaviyo: false });
  });
  expect(h.store.counts().outbox.filter((o) => o.pending > 0 || o.dead > 0)).toEqual([]);
}
