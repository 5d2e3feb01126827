/**
 * A profile deleted in Klaviyo (its UI, or a privacy request handled there): Klaviyo reports no
 * deletions, so segsync learns of one when it next writes to the profile by id. The contact is then
 * unlinked there, as when HubSpot or Mailchimp report a deletion: the profile is not made again, no
 * write is dead-lettered, and the contact stays in sync on the other ESPs. When the person comes back
 * to Klaviyo (a new profile with the address), a pull links it and writes go to it.
 */
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const MAPPINGS = `fields:
  first_name: { type: string, conflict: latest }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
`;

describe('a profile deleted in Klaviyo', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeEach(async () => {
    s = await startSandboxes();
  });
  afterEach(async () => {
    await h.close();
    await s.close();
  });

  /** Three contacts pushed everywhere, then Klaviyo deletes ann's profile; every contact is renamed locally and pushed. */
  async function deleteAnnThenRename(): Promise<number> {
    const emails = ['ann@x.com', 'bob@x.com', 'cat@x.com'];
    h.store.upsertContacts(emails.map((email) => ({ email, properties: { first_name: 'Old' }, consent: 'subscribed' as const, source: 'local' })));
    await h.pushAll();
    const ann = h.store.findContactByEmail('ann@x.com')!;
    expect(ann.externalIds['klaviyo']).toBe(s.klaviyo.profileByEmail('ann@x.com')!.id);
    s.klaviyo.state.requestDeletion({ email: 'ann@x.com' });
    expect(s.klaviyo.profileByEmail('ann@x.com')).toBeUndefined();
    h.store.upsertContacts(emails.map((email) => ({ email, properties: { first_name: 'New' }, source: 'local' })));
    h.engine.enqueue(emails.map((e) => h.store.findContactByEmail(e)!.id));
    const report = await h.engine.drainAll('klaviyo');
    for (const esp of h.esps.filter((e) => e !== 'klaviyo')) await h.engine.drainAll(esp);
    expect(report).toMatchObject({ gone: 1, failed: 0 });
    return ann.id;
  }

  async function expectUnlinkedAndRestAsBefore(annId: number): Promise<void> {
    // Not made again, nothing dead-lettered or queued, the decision recorded; the others renamed there.
    expect(s.klaviyo.profileByEmail('ann@x.com')).toBeUndefined();
    expect(['bob@x.com', 'cat@x.com'].map((e) => s.klaviyo.profileByEmail(e)?.first_name)).toEqual(['New', 'New']);
    expect(h.store.counts().outbox).toEqual([]);
    expect(h.store.decisionsFor(annId, '@link').map((d) => d.reason)).toEqual([expect.stringMatching(/^klaviyo record not found there: unlinked/)]);
    // Still in sync on the other ESPs.
    expect([s.hubspot.contact('ann@x.com')?.properties['firstname'], s.mailchimp.member('ann@x.com')?.merge_fields['FNAME']]).toEqual(['New', 'New']);
    // A later change is not sent to Klaviyo at all.
    h.store.upsertContacts([{ email: 'ann@x.com', properties: { first_name: 'Later' }, source: 'local' }]);
    await h.pushAll();
    expect(s.klaviyo.profileByEmail('ann@x.com')).toBeUndefined();
    expect(h.store.counts().outbox).toEqual([]);
  }

  it('unlinks the contact there when a write by its id answers 404 (one profile at a time)', async () => {
    h = harness(sandboxConfig(s, MAPPINGS));
    await expectUnlinkedAndRestAsBefore(await deleteAnnThenRename());

    // The person signs up again on Klaviyo: the next pull links the new profile, and writes go to it.
    await new Promise((r) => setTimeout(r, 1100));
    s.klaviyo.state.upsertProfile({ attributes: { email: 'ann@x.com', first_name: 'Signup' } });
    await new Promise((r) => setTimeout(r, 1100));
    await h.engine.pull('klaviyo');
    const ann = h.store.findContactByEmail('ann@x.com')!;
    expect(ann.externalIds['klaviyo']).toBe(s.klaviyo.profileByEmail('ann@x.com')!.id);
    h.store.upsertContacts([{ email: 'ann@x.com', properties: { first_name: 'Back' }, source: 'local' }]);
    await h.pushAll();
    expect(s.klaviyo.profileByEmail('ann@x.com')?.first_name).toBe('Back');
  }, 30_000);

  it('unlinks the contact there when a bulk import job rejects its profile id', async () => {
    // Bulk import jobs from two profiles on: the three renames go as one job.
    h = harness(sandboxConfig(s, `    bulkThreshold: 2\n    jobPollIntervalMs: 50\n${MAPPINGS}`));
    await expectUnlinkedAndRestAsBefore(await deleteAnnThenRename());
    expect(s.klaviyo.state.bulkJobs.size).toBeGreaterThan(0);
  }, 30_000);
});
