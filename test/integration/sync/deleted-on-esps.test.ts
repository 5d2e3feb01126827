/**
 * A record deleted on an ESP that segsync has not been told of: Klaviyo reports no deletions at all, a
 * Mailchimp member permanently deleted is in no listing, and a HubSpot or Mailchimp deletion made since
 * the last pull (no webhook reaching this store) is found by the next write to it. The write by its id
 * answers "no such record", and the contact is unlinked there, as when an ESP reports a deletion: the
 * record is not made again, no write is dead-lettered, and the contact stays in sync on the other
 * ESPs. When the person comes back (restored, or a new record with the address), a pull links it.
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

describe('a record deleted on an ESP that segsync was not told of', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeEach(async () => {
    s = await startSandboxes();
  });
  afterEach(async () => {
    await h.close();
    await s.close();
  });

  describe('a profile deleted in Klaviyo', () => {
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

  describe('a Mailchimp address deleted for good', () => {
    it('unlinks a contact whose address was permanently deleted from the audience, which Mailchimp does not let the API add again', async () => {
      h = harness(sandboxConfig(s, MAPPINGS));
      // Deleted for good in Mailchimp before segsync ever wrote the person there.
      s.mailchimp.seed([{ email: 'gdpr@x.com' }]);
      s.mailchimp.audience().erase(s.mailchimp.member('gdpr@x.com')!.id as string);
      h.store.upsertContacts([{ email: 'gdpr@x.com', properties: { first_name: 'Old' }, consent: 'subscribed', source: 'local' }]);
      const id = h.store.findContactByEmail('gdpr@x.com')!.id;
      h.engine.enqueue([id]);
      expect(await h.engine.drainAll('mailchimp')).toMatchObject({ gone: 1, failed: 0 });
      expect(s.mailchimp.member('gdpr@x.com')).toBeUndefined();
      expect(h.store.decisionsFor(id, '@link').map((d) => d.reason)).toEqual([expect.stringMatching(/^mailchimp record not found there: unlinked/)]);
      // Later changes do not call Mailchimp for it again.
      const calls = s.mailchimp.stats().requests;
      h.store.upsertContacts([{ email: 'gdpr@x.com', properties: { first_name: 'New' }, source: 'local' }]);
      h.engine.enqueue([id]);
      await h.engine.drainAll('mailchimp');
      expect(s.mailchimp.stats().requests).toBe(calls);
      expect(h.store.counts().outbox.filter((o) => o.esp === 'mailchimp')).toEqual([]);
    }, 30_000);
  });

  describe('a Mailchimp email changed there before segsync pulled', () => {
    it('is followed, not taken for a deletion: the member id is the email hash, so the old id answers 404 too', async () => {
      h = harness(sandboxConfig(s, MAPPINGS));
      h.store.upsertContacts([{ email: 'old@x.com', properties: { first_name: 'Old' }, consent: 'subscribed', source: 'local' }]);
      await h.pushAll();
      // A pull learns the member's stable key, as every running store has.
      await new Promise((r) => setTimeout(r, 1100));
      await h.engine.pull('mailchimp');
      const id = h.store.findContactByEmail('old@x.com')!.id;
      s.mailchimp.admin.changeEmail('old@x.com', 'new@x.com');
      h.store.upsertContacts([{ email: 'old@x.com', properties: { first_name: 'Renamed' }, source: 'local' }]);
      h.engine.enqueue([id]);
      expect(await h.engine.drainAll('mailchimp')).toMatchObject({ gone: 0 });
      await new Promise((r) => setTimeout(r, 1100));
      await h.engine.pull('mailchimp');
      await h.pushAll();
      // The email changed there is followed here, kept there, and the rename reaches the member.
      expect(h.store.getContact(id)?.email).toBe('new@x.com');
      expect(s.mailchimp.member('old@x.com')).toBeUndefined();
      expect(s.mailchimp.member('new@x.com')?.merge_fields['FNAME']).toBe('Renamed');
      expect(h.store.decisionsFor(id, '@link')).toEqual([]);
    }, 30_000);
  });

  describe('a HubSpot contact deleted before segsync pulled', () => {
    it('applies onDelete: erase when the pull lists the record archived after a write found it gone', async () => {
      const config = sandboxConfig(s, MAPPINGS);
      config.connectors.hubspot!.onDelete = 'erase';
      h = harness(config);
      h.store.upsertContacts([{ email: 'arc@x.com', properties: { first_name: 'Old' }, consent: 'subscribed', source: 'local' }]);
      await h.pushAll();
      const arc = h.store.findContactByEmail('arc@x.com')!;
      // Deleted in HubSpot's UI; no webhook reaches this store, and no pull ran since.
      s.hubspot.state.archive(arc.externalIds['hubspot']!, { source: 'CRM_UI', sourceId: 'userId:1' });
      h.store.upsertContacts([{ email: 'arc@x.com', properties: { first_name: 'New' }, source: 'local' }]);
      h.engine.enqueue([arc.id]);
      expect(await h.engine.drainAll('hubspot')).toMatchObject({ gone: 1, failed: 0 });
      // The pull lists it archived: as configured, the contact is erased everywhere.
      await new Promise((r) => setTimeout(r, 1100));
      await h.engine.pull('hubspot');
      for (const esp of h.esps) await h.engine.drainAll(esp);
      expect(h.store.findContactByEmail('arc@x.com')).toBeUndefined();
      expect(s.mailchimp.member('arc@x.com')).toBeUndefined();
      expect(s.klaviyo.profileByEmail('arc@x.com')).toBeUndefined();
    }, 30_000);

    it('unlinks the contact when the batch update by its id answers OBJECT_NOT_FOUND, and a restore from the recycle bin links it again', async () => {
      h = harness(sandboxConfig(s, MAPPINGS));
      h.store.upsertContacts(
        ['hs0@x.com', 'hs1@x.com'].map((email) => ({ email, properties: { first_name: 'Old' }, consent: 'subscribed' as const, source: 'local' })),
      );
      await h.pushAll();
      const gone = h.store.findContactByEmail('hs0@x.com')!;
      const id = gone.externalIds['hubspot']!;
      // Deleted in HubSpot's UI; no webhook reaches this store, and no pull ran since.
      s.hubspot.state.archive(id, { source: 'CRM_UI', sourceId: 'userId:1' });
      h.store.upsertContacts(['hs0@x.com', 'hs1@x.com'].map((email) => ({ email, properties: { first_name: 'New' }, source: 'local' })));
      h.engine.enqueue([gone.id, h.store.findContactByEmail('hs1@x.com')!.id]);
      expect(await h.engine.drainAll('hubspot')).toMatchObject({ gone: 1, failed: 0 });
      // Not upserted again by email: HubSpot holds no live contact with the address.
      expect(s.hubspot.contact('hs0@x.com')).toBeUndefined();
      expect(s.hubspot.contact('hs1@x.com')?.properties['firstname']).toBe('New');
      expect(h.store.decisionsFor(gone.id, '@link').map((d) => d.reason)).toEqual([expect.stringMatching(/^hubspot record not found there: unlinked/)]);
      expect(h.store.counts().outbox.filter((o) => o.esp === 'hubspot')).toEqual([]);

      // Restored from the recycle bin: the next pull links it, and the rename made meanwhile goes to it.
      await new Promise((r) => setTimeout(r, 1100));
      s.hubspot.unarchive(id);
      await new Promise((r) => setTimeout(r, 1100));
      await h.engine.pull('hubspot');
      await h.engine.drainAll('hubspot');
      expect(h.store.findContactByEmail('hs0@x.com')!.externalIds['hubspot']).toBe(id);
      expect(s.hubspot.contact(id)?.properties['firstname']).toBe('New');
    }, 30_000);
  });
});
