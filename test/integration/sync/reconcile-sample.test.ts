/**
 * Sampled reconcile (`reconcile.sample`, the daemon's scheduled runs): each run reads a sample of the
 * ESP's bulk listing, going on where the last stopped, so successive runs find drift anywhere in the
 * account; a full reconcile still reads everything.
 */
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const N = 250;
const CONFIG = `fields:
  plan: { type: string, owner: local }
mappings:
  hubspot: [{ local: plan, remote: segsync_plan, direction: out }]
`;

describe('sampled reconcile against the HubSpot sandbox (pages of 100)', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeAll(async () => {
    s = await startSandboxes();
    h = harness(sandboxConfig(s, CONFIG));
    h.store.upsertContacts(Array.from({ length: N }, (_, i) => ({ email: `r${i}@x.com`, properties: { plan: 'pro' }, source: 'local' as const })));
    await h.pushAll();
  }, 60_000);
  afterAll(async () => {
    await h.close();
    await s.close();
  });

  it('covers the whole account in turns: a sample of 100 records per run finds drift at the start, the middle and the end', async () => {
    // Changed directly on HubSpot, behind segsync's back, at three places in the listing.
    for (const i of [5, 120, 240]) s.hubspot.edit(`r${i}@x.com`, { segsync_plan: 'hacked' });
    const runs = [];
    for (let k = 0; k < 4; k++) {
      const r = await h.engine.reconcile('hubspot', { sample: 100 });
      runs.push({ read: r.contacts, drifted: r.drifted, queued: r.queued, more: r.next !== undefined });
    }
    // Three runs read the 250 records in turn; the fourth starts over from the beginning, where the
    // drift it finds is already known and its repair queued.
    expect(runs).toEqual([
      { read: 100, drifted: 1, queued: 1, more: true },
      { read: 100, drifted: 1, queued: 1, more: true },
      { read: 50, drifted: 1, queued: 1, more: false },
      { read: 100, drifted: 0, queued: 0, more: true },
    ]);
    await h.engine.drainAll('hubspot');
    for (const i of [5, 120, 240]) expect(s.hubspot.contact(`r${i}@x.com`)!.properties.segsync_plan).toBe('pro');
  }, 60_000);

  it('takes a share below 1 as a share of the contacts segsync knows, and a full reconcile reads everything', async () => {
    s.hubspot.edit('r150@x.com', { segsync_plan: 'hacked' });
    // The sample cursor stands after the first page (the last test's fourth run): 0.4 of 250 is 100 records.
    const shared = await h.engine.reconcile('hubspot', { sample: 0.4 });
    expect([shared.contacts, shared.drifted]).toEqual([100, 1]);
    s.hubspot.edit('r7@x.com', { segsync_plan: 'hacked' });
    const full = await h.engine.reconcile('hubspot');
    expect([full.contacts, full.drifted, full.next]).toEqual([N, 1, undefined]);
    await h.engine.drainAll('hubspot');
    expect([s.hubspot.contact('r150@x.com')!.properties.segsync_plan, s.hubspot.contact('r7@x.com')!.properties.segsync_plan]).toEqual(['pro', 'pro']);
  }, 60_000);
});
