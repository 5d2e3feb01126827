/**
 * Erase on Klaviyo, whose deletion runs as an asynchronous job: until it has run, the profile and its
 * events are still there to be pulled. The erased identities are suppressed, so neither a profile
 * pull nor the engagement events of the erased person bring the contact back, and nothing is pushed
 * to any ESP for it afterwards.
 */
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const CONFIG = `fields:
  first_name: { type: string, conflict: latest }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
`;

describe('erase on Klaviyo leaves a suppression', () => {
  let s: Sandboxes;
  let h: Harness;
  const JOB_MS = 3000;
  beforeEach(async () => {
    // Klaviyo's jobs take a while, as they do: its deletion job runs JOB_MS after it is accepted.
    s = await startSandboxes({ klaviyoJobMs: JOB_MS });
    h = harness(sandboxConfig(s, CONFIG));
  });
  afterEach(async () => {
    await h.close();
    await s.close();
  });

  it('neither a pull of the profile nor its engagement events bring the erased contact back, before or after the deletion job ran', async () => {
    const id = h.store.upsertContacts([{ email: 'gone@x.com', properties: { first_name: 'Gone' }, consent: 'subscribed', source: 'local' }])[0]!.contactId;
    await h.pushAll();
    expect(s.klaviyo.profileByEmail('gone@x.com')).toBeDefined();
    // Engagement the daemon has not pulled yet.
    s.klaviyo.state.addEvent({ email: 'gone@x.com', metric: 'Opened Email', time: Date.now() }, true);

    h.engine.erase(id);
    await Promise.all(h.esps.map((e) => h.engine.drainAll(e)));
    // Klaviyo accepted the deletion job; it has not run yet: profile and event are still listed.
    expect(s.klaviyo.state.deletionJobs.some((j) => !j.done)).toBe(true);
    // Pulls stop at a whole-second bound fixed when they start.
    await new Promise((r) => setTimeout(r, 1100));
    await h.engine.pull('klaviyo');
    expect(s.klaviyo.profileByEmail('gone@x.com')).toBeDefined();
    expect(h.store.findContactByEmail('gone@x.com')).toBeUndefined();
    expect(h.store.counts().events).toBe(0);

    // The job runs; later pulls and pushes find nothing and do nothing.
    await new Promise((r) => setTimeout(r, JOB_MS));
    s.klaviyo.settle();
    expect(s.klaviyo.profileByEmail('gone@x.com')).toBeUndefined();
    for (const esp of h.esps) await h.engine.pull(esp);
    await h.pushAll();
    expect([s.hubspot.contact('gone@x.com'), s.mailchimp.member('gone@x.com'), s.klaviyo.profileByEmail('gone@x.com')]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(h.store.findContactByEmail('gone@x.com')).toBeUndefined();
    expect(h.store.counts().outbox).toEqual([]);
  }, 60_000);

  it('tells the rules engine of the erased contact, so its answers leave the caches too', async () => {
    const told: number[][] = [];
    const local = harness(sandboxConfig(s, CONFIG), (ids) => told.push(ids));
    try {
      const id = local.store.upsertContacts([{ email: 'told@x.com', properties: {}, source: 'local' }])[0]!.contactId;
      local.engine.erase(id);
      expect(told).toContainEqual([id]);
    } finally {
      await local.close();
    }
  });
});
