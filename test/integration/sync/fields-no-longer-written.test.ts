/**
 * A field taken out of segsync.yaml after segsync wrote it (a segment's property push removed or
 * renamed, a mapping dropped) keeps on each record the last value segsync wrote, and nothing updates
 * it any more. segsync leaves it there (the user may have handed it to something else) and names it
 * until told to forget it; put back, the field is written again from what the store holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveMapping } from '../../../src/sync/mapping';
import { fieldsNoLongerWritten, tagsNoLongerOwned } from '../../../src/sync/unwritten-fields';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const FIELDS = `fields:
  first_name: { type: string, conflict: latest }
  plan: { type: string }
`;
const BOTH = `${FIELDS}mappings:
  klaviyo: [{ local: first_name, remote: first_name }, { local: plan, remote: plan }]
  hubspot: [{ local: first_name, remote: firstname }]
`;
const WITHOUT_PLAN = `${FIELDS}mappings:
  klaviyo: [{ local: first_name, remote: first_name }]
  hubspot: [{ local: first_name, remote: firstname }]
`;
const PLAN_PULLED_ONLY = `${FIELDS}mappings:
  klaviyo: [{ local: first_name, remote: first_name }, { local: plan, remote: plan, direction: in }]
  hubspot: [{ local: first_name, remote: firstname }]
`;

describe('a field segsync wrote and no longer writes', () => {
  let s: Sandboxes;
  let dir: string;
  let running: Harness | undefined;
  beforeEach(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-unwritten-'));
  });
  afterEach(async () => {
    await running?.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** One process after another on the same store, each with its own segsync.yaml. */
  const run = async (mappings: string): Promise<Harness> => {
    await running?.close();
    running = harness(sandboxConfig(s, mappings), undefined, undefined, join(dir, 'segsync.db'));
    return running;
  };
  const planOnKlaviyo = (): unknown => s.klaviyo.profileByEmail('ann@x.com')?.properties['plan'];

  it('is named with when it was last written, left as it is on the ESP, forgotten on request, and written again when mapped again', async () => {
    const first = await run(BOTH);
    const id = first.store.upsertContacts([{ email: 'ann@x.com', properties: { first_name: 'Ann', plan: 'pro' }, source: 'local' }])[0]!.contactId;
    const before = Date.now();
    await first.pushAll();
    expect(planOnKlaviyo()).toBe('pro');
    // Written fields are recorded by the push (never the `@` keys: email, tags, consent).
    expect(first.store.writtenFields('klaviyo').map((w) => w.key)).toEqual(['first_name', 'plan']);
    expect(first.store.writtenFields('klaviyo')[1]!.lastWrittenAt).toBeGreaterThanOrEqual(before);
    expect(first.store.writtenFields('hubspot').map((w) => w.key)).toEqual(['firstname']);
    expect(fieldsNoLongerWritten(first.store, first.engine.mapping)).toEqual([]);

    // plan is taken out of segsync.yaml: the next process names it, and never writes it again.
    const second = await run(WITHOUT_PLAN);
    expect(fieldsNoLongerWritten(second.store, second.engine.mapping)).toEqual([{ esp: 'klaviyo', key: 'plan', lastWrittenAt: expect.any(Number) as number }]);
    for (const [name, value] of [
      ['plan', 'enterprise'],
      ['first_name', 'Anna'],
    ])
      second.store.setProperty(id, name!, { value: value!, updatedAt: Date.now(), source: 'local' });
    await second.pushAll();
    expect(s.klaviyo.profileByEmail('ann@x.com')?.first_name).toBe('Anna');
    expect(planOnKlaviyo()).toBe('pro');
    // Still mapped, only pulled: the ESP's value is the truth there, nothing stale to name.
    expect(fieldsNoLongerWritten(second.store, resolveMapping(sandboxConfig(s, PLAN_PULLED_ONLY)))).toEqual([]);

    // Forgotten once dealt with: no longer named, and its sync state is gone.
    expect(second.store.forgetWrittenField('klaviyo', 'plan')).toBe(1);
    expect(fieldsNoLongerWritten(second.store, second.engine.mapping)).toEqual([]);
    expect(second.store.getSyncState(id, 'klaviyo').map((r) => r.key)).not.toContain('plan');

    // Mapped again: written from what the store holds now.
    const third = await run(BOTH);
    await third.pushAll();
    expect(planOnKlaviyo()).toBe('enterprise');
    expect(third.store.writtenFields('klaviyo').map((w) => w.key)).toEqual(['first_name', 'plan']);
  });

  it('names a segment tag outside the owned prefix that is no longer pushed, on the contacts segsync put it on, and never removes it', async () => {
    const pushed = `${FIELDS}segments:
  vip: { rule: 'true', push: [{ esp: mailchimp, name: vip }, { esp: mailchimp, name: "seg:vip" }] }
  gone: { rule: 'true', push: [{ esp: mailchimp, name: was_here }] }
mappings:
  mailchimp: [{ local: first_name, remote: FNAME }]
`;
    const first = await run(pushed);
    const [ann, bo, cy] = ['ann@x.com', 'bo@x.com', 'cy@x.com'].map(
      (email) => first.store.upsertContacts([{ email, properties: { first_name: email.slice(0, 2) }, source: 'local' }])[0]!.contactId,
    );
    // cy carried vip before segsync (a user's own tag): never segsync's to name or remove.
    s.mailchimp.seed([{ email: 'cy@x.com', tags: ['vip'] }]);
    const flags = (id: number, vip: boolean, gone: boolean): void =>
      first.store.saveEvaluation(
        id,
        [
          { contactId: id, segment: 'vip', value: vip, since: Date.now() },
          { contactId: id, segment: 'gone', value: gone, since: Date.now() },
        ],
        undefined,
      );
    flags(ann!, true, true);
    flags(bo!, true, false);
    flags(cy!, true, false);
    await first.pushAll();
    const tags = (email: string): string[] => ((s.mailchimp.member(email)?.tags ?? []) as { name: string }[]).map((t) => t.name).sort();
    expect([tags('ann@x.com'), tags('bo@x.com'), tags('cy@x.com')]).toEqual([
      ['seg:vip', 'vip', 'was_here'],
      ['seg:vip', 'vip'],
      ['seg:vip', 'vip'],
    ]);
    // was_here is taken off bo's... bo never had it; ann loses it when its segment turns off, before its push leaves.
    flags(ann!, true, false);
    first.engine.enqueue([ann!]);
    await first.pushAll();
    expect(tags('ann@x.com')).toEqual(['seg:vip', 'vip']);

    // Both pushes leave segsync.yaml: seg:vip (the owned prefix) is taken off; vip is left on ann and bo, named.
    const second = await run(`${FIELDS}mappings:
  mailchimp: [{ local: first_name, remote: FNAME }]
`);
    const left = [{ esp: 'mailchimp', tag: 'vip', contacts: 2, lastAddedAt: expect.any(Number) as number }];
    // A reader (status) names what is left and writes nothing.
    expect(tagsNoLongerOwned(second.store, second.engine.mapping)).toEqual(left);
    expect(second.store.addedTagNames('mailchimp').map((t) => t.tag)).toEqual(['seg:vip', 'vip', 'was_here']);
    // A push prunes: was_here no contact holds any more, nothing was left behind, and it is forgotten.
    expect(tagsNoLongerOwned(second.store, second.engine.mapping, true)).toEqual(left);
    expect(second.store.addedTagNames('mailchimp').map((t) => t.tag)).toEqual(['seg:vip', 'vip']);
    await second.pushAll();
    expect([tags('ann@x.com'), tags('bo@x.com'), tags('cy@x.com')]).toEqual([['vip'], ['vip'], ['vip']]);
    expect(second.store.forgetAddedTag('mailchimp', 'vip')).toBe(2);
    expect(tagsNoLongerOwned(second.store, second.engine.mapping)).toEqual([]);
    expect([tags('ann@x.com'), tags('bo@x.com')]).toEqual([['vip'], ['vip']]);
  });
});
