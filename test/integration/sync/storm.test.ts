import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const N = 10_000;

describe('rate-limit storm', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeAll(async () => {
    s = await startSandboxes({ limits: 'tight' });
    // The connectors believe in far higher limits than the sandboxes grant.
    h = harness(
      sandboxConfig(
        s,
        `fields:
  plan: { type: string }
mappings:
  hubspot: [{ local: plan, remote: segsync_plan }]
  mailchimp: [{ local: plan, remote: PLAN }]
  klaviyo: [{ local: plan, remote: plan }]
`,
      ),
    );
  });
  afterAll(async () => {
    await h.close();
    await s.close();
  });

  it('pushes 10,000 contacts through 429s, honouring the waits, with nothing dead-lettered', async () => {
    h.store.upsertContacts(
      Array.from({ length: N }, (_, i) => ({ email: `s${i}@x.com`, properties: { plan: i % 2 ? 'pro' : 'free' }, source: 'local' as const })),
    );
    for (const e of h.esps) await h.engine.ensureSchema(e);
    h.engine.enqueueAll();
    const reports = await Promise.all(h.esps.map((e) => h.engine.drainAll(e)));
    expect(reports.map((r) => ({ esp: r.esp, ok: r.ok, failed: r.failed }))).toEqual([
      { esp: 'hubspot', ok: N, failed: 0 },
      { esp: 'mailchimp', ok: N, failed: 0 },
      { esp: 'klaviyo', ok: N, failed: 0 },
    ]);
    expect(h.store.counts().outbox).toEqual([]);
    expect(h.store.deadOutbox(undefined, 1)).toEqual([]);
    // The storm really happened where the ESP does not announce its limit: Mailchimp refused calls.
    // It grants one connection (another tool holds the rest) and answers slowly, so the first burst of
    // ten batches is refused but one; the connector learns from that burst and sends one at a time, so
    // refusals stay near that one burst instead of escalating backoffs for minutes.
    // HubSpot announces its window in every answer's headers; the connector adopts it from the first
    // answers, so HubSpot refuses next to nothing though the config declares a thousand times more.
    expect(Object.values(s.hubspot.stats().rejected).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5);
    expect(s.mailchimp.stats().rejected429).toBeGreaterThan(0);
    expect(s.mailchimp.stats().rejected429).toBeLessThanOrEqual(12);
    for (const i of [0, 1, 4321, N - 1]) {
      const plan = i % 2 ? 'pro' : 'free';
      expect(s.hubspot.contact(`s${i}@x.com`)?.properties.segsync_plan).toBe(plan);
      expect(s.mailchimp.member(`s${i}@x.com`)?.merge_fields.PLAN).toBe(plan);
      expect(s.klaviyo.profileByEmail(`s${i}@x.com`)?.properties.plan).toBe(plan);
    }
  }, 120_000);
});
