/** Push summaries count the HTTP requests the ESPs served, and progress reaches its total. */
import type { Sandboxes, Harness } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';
import type { EspName } from '../../../src/model/types';
import { lastSync } from '../../../src/sync/last-sync';

const CONFIG = `fields:
  first_name: { type: string }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
tags:
  owned: { prefix: "seg:" }
segments:
  vip:
    rule: 'true'
    push: [{ esp: hubspot, name: "seg:vip" }, { esp: mailchimp, name: "seg:vip" }, { esp: klaviyo, name: "seg:vip" }]
`;

/** Every request each sandbox has answered so far. */
function served(s: Sandboxes): Record<EspName, number> {
  const sum = (counts: Iterable<number>): number => [...counts].reduce((n, c) => n + c, 0);
  return {
    hubspot: sum(Object.values(s.hubspot.stats().requests)),
    mailchimp: sum(Object.values(s.mailchimp.stats().calls)),
    klaviyo: sum(s.klaviyo.calls.values()),
  };
}

describe('counting a push', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeAll(async () => {
    s = await startSandboxes();
    h = harness(sandboxConfig(s, CONFIG));
  });
  afterAll(async () => {
    await h.close();
    await s.close();
  });

  it('reports the HTTP requests each ESP served, and progress ends at the outbox total', async () => {
    const now = Date.now();
    const ids = h.store
      .upsertContacts(
        Array.from({ length: 230 }, (_, i) => ({
          email: `p${i}@x.com`,
          properties: { first_name: `P${i}` },
          consent: 'subscribed' as const,
          source: 'local' as const,
        })),
      )
      .map((o) => o.contactId);
    for (const id of ids) h.store.saveEvaluation(id, [{ contactId: id, segment: 'vip', value: true, since: now }], undefined);
    for (const e of h.esps) await h.engine.ensureSchema(e);
    const plans = new Map(h.engine.plan().map((p) => [p.esp, p]));
    h.engine.enqueueAll();
    for (const esp of h.esps) {
      const pending = h.store.counts().outbox.find((o) => o.esp === esp)!.pending;
      const before = served(s)[esp];
      const progress: number[] = [];
      const report = await h.engine.drainAll(esp, { onProgress: (n) => progress.push(n) });
      expect({ esp, ok: report.ok, failed: report.failed }).toEqual({ esp, ok: 230, failed: 0 });
      // Requests, not batches: each ESP needed more than one request per batch here (tags, jobs, reads).
      expect({ esp, requests: report.requests }).toEqual({ esp, requests: served(s)[esp] - before });
      expect(report.requests).toBeGreaterThan(report.calls);
      // The dry run's plan and the push agree on contacts and batches (requests: dry-run-calls.test.ts, where no adopting pull comes first).
      expect({ esp, contacts: plans.get(esp)!.contacts, batches: plans.get(esp)!.batches }).toEqual({ esp, contacts: report.ok, batches: report.calls });
      expect({ esp, last: progress.at(-1) }).toEqual({ esp, last: pending });
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
    }
    for (const esp of h.esps) expect(lastSync(h.store, esp).push).toMatchObject({ ok: true, failed: 0, calls: expect.any(Number) });
  });
});
