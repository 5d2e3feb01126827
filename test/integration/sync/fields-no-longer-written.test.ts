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
import { fieldsNoLongerWritten } from '../../../src/sync/unwritten-fields';
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
});
