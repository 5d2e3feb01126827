/**
 * Identity on the ESPs, end to end against the three sandboxes (real connectors and SDKs, a SQLite
 * store, one manual clock): ids reused by a replaced account, Mailchimp email changes seen by a pull,
 * and the writes dropped when a record is unlinked.
 */
import { Client } from '@hubspot/api-client';
import { startHubspotSandbox } from '../../../connectors/hubspot/sandbox';
import type { HubspotSandbox } from '../../../connectors/hubspot/sandbox';
import { ManualClock } from '../../../src/model/clock';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { FIRST_NAME_MAPPING, harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const MAPPING = `${FIRST_NAME_MAPPING}tags:
  owned: { prefix: "seg:" }
`;

describe('two-way identity: reused ids, Mailchimp email changes, unlinked writes (issue 15)', () => {
  let clock: ManualClock;
  let s: Sandboxes;
  let h: Harness;
  let replaced: HubspotSandbox | undefined;
  beforeEach(async () => {
    clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0, 250));
    s = await startSandboxes({ clock });
    h = harness(sandboxConfig(s, MAPPING), undefined, clock);
    for (const e of h.esps) await h.engine.ensureSchema(e);
  });
  afterEach(async () => {
    await h.close();
    await s.close();
    await replaced?.close();
    replaced = undefined;
  });

  const later = (): Promise<void> => clock.advance(1500);
  const push = async (): Promise<void> => {
    h.engine.enqueueAll();
    await Promise.all(h.esps.map((e) => h.engine.drainAll(e)));
  };
  const values = (email: string, hubspot: HubspotSandbox = s.hubspot): Record<string, unknown> => ({
    hubspot: hubspot.contact(email)?.properties.firstname ?? null,
    mailchimp: s.mailchimp.member(email)?.merge_fields.FNAME ?? null,
    klaviyo: s.klaviyo.profileByEmail(email)?.first_name ?? null,
  });
  const add = (email: string, name: string): number =>
    h.store.upsertContacts([{ email, properties: { first_name: name }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!.contactId;

  it('HubSpot ids reused after a restart without --state are neither taken for an email change nor for an archive: carol keeps her email, dave gets the id, carol and bea are re-created by email', async () => {
    const carol = add('carol@x.com', 'Carol');
    const bea = add('bea@x.com', 'Bea');
    await push();
    await later();
    for (const e of h.esps) await h.engine.pull(e);
    expect([h.store.getContact(carol)!.externalIds.hubspot, h.store.getContact(bea)!.externalIds.hubspot]).toEqual(['1001', '1002']);

    // The HubSpot account comes back empty on the same address; the next record created gets id 1001 again.
    const port = Number(new URL(s.hubspot.url).port);
    await s.hubspot.close();
    await later();
    replaced = await startHubspotSandbox({ accessToken: 'hs-token', rateLimits: false, clock, port });
    expect(
      replaced.seed([
        { email: 'dave@x.com', properties: { firstname: 'Dave' } },
        { email: 'eve@x.com', properties: { firstname: 'Eve' } },
      ]),
    ).toEqual(['1001', '1002']);
    // 1002 is archived in the new account: someone else's removal, not bea's.
    replaced.state.archive('1002', { source: 'CRM_UI', sourceId: 'userId:1' });
    await later();
    await h.engine.pull('hubspot');

    expect(h.store.getContact(carol)).toMatchObject({ email: 'carol@x.com', properties: { first_name: expect.objectContaining({ value: 'Carol' }) } });
    expect(h.store.getContact(carol)!.externalIds.hubspot).toBeUndefined();
    const dave = h.store.findContactByEmail('dave@x.com')!;
    expect(dave.externalIds.hubspot).toBe('1001');
    expect(h.store.decisionsFor(carol, '@email')).toEqual([]);
    expect(h.store.decisionsFor(carol, '@link').at(-1)).toMatchObject({
      winner: 'local',
      reason: expect.stringMatching(/^hubspot id 1001 now names another record .*link dropped, not followed as an email change/),
    });
    expect(h.store.decisionsFor(dave.id, '@link').at(-1)).toMatchObject({
      winner: 'hubspot',
      reason: expect.stringContaining(`linked to contact ${carol} before`),
    });
    expect(h.store.getContact(bea)!.externalIds.hubspot).toBeUndefined();
    expect(h.store.decisionsFor(bea, '@link').map((d) => d.reason)).toEqual([expect.stringMatching(/^hubspot id 1002 now names another record/)]);

    await push();
    // carol is found again by email (a new record in the new account); nobody was renamed anywhere.
    expect(values('carol@x.com', replaced)).toEqual({ hubspot: 'Carol', mailchimp: 'Carol', klaviyo: 'Carol' });
    expect(values('dave@x.com', replaced)).toEqual({ hubspot: 'Dave', mailchimp: 'Dave', klaviyo: 'Dave' });
    expect(values('bea@x.com', replaced)).toEqual({ hubspot: 'Bea', mailchimp: 'Bea', klaviyo: 'Bea' });
    expect(replaced.contact('1001')?.properties.email).toBe('dave@x.com');
    expect(h.store.getContact(carol)!.externalIds.hubspot).toBe(replaced.contact('carol@x.com')!.id);
    // Settled (once dave's new Klaviyo profile was pulled back: its consent is news): nothing more
    // to pull or send, and no new decision.
    await later();
    for (const e of h.esps) await h.engine.pull(e);
    await later();
    for (const e of h.esps) expect([e, await h.engine.pull(e)]).toEqual([e, expect.objectContaining({ changed: 0 })]);
    expect(h.engine.enqueueAll()).toBe(0);
    expect(h.store.decisionsFor(carol, '@link')).toHaveLength(1);
  });

  it('a new HubSpot record made for a contact whose record was archived there does not wipe the name with its empty field', async () => {
    const id = add('nia@x.com', 'Nia');
    await push();
    await later();
    for (const e of h.esps) await h.engine.pull(e);
    s.hubspot.state.archive('1001', { source: 'CRM_UI', sourceId: 'userId:1' });
    expect(s.hubspot.seed([{ email: 'nia@x.com' }])).toEqual(['1002']);
    await later();
    await h.engine.pull('hubspot');
    expect(h.store.getContact(id)).toMatchObject({
      externalIds: expect.objectContaining({ hubspot: '1002' }),
      properties: { first_name: expect.objectContaining({ value: 'Nia' }) },
    });
    expect(h.store.decisionsFor(id, '@link').at(-1)).toMatchObject({
      winner: 'hubspot',
      reason: expect.stringMatching(/^hubspot record 1002 holds this contact's email now, not record 1001/),
    });
    await push();
    expect(values('nia@x.com')).toEqual({ hubspot: 'Nia', mailchimp: 'Nia', klaviyo: 'Nia' });
  });

  it('an email changed on HubSpot itself is still followed (the same record: created when segsync first saw it)', async () => {
    const id = add('erin@x.com', 'Erin');
    await push();
    await later();
    await h.engine.pull('hubspot');
    s.hubspot.edit('erin@x.com', { email: 'erin.new@x.com' });
    await later();
    await h.engine.pull('hubspot');
    expect(h.store.getContact(id)).toMatchObject({ email: 'erin.new@x.com', externalIds: { hubspot: '1001' } });
    expect(h.store.decisionsFor(id, '@link')).toEqual([]);
  });

  it('a Mailchimp email change seen by a pull (its contact_id stays) travels to HubSpot and Klaviyo; no duplicate anywhere', async () => {
    const id = add('mia@x.com', 'Mia');
    await push();
    await later();
    for (const e of h.esps) await h.engine.pull(e);
    s.mailchimp.admin.changeEmail('mia@x.com', 'mia.new@x.com');
    await later();
    expect(await h.engine.pull('mailchimp')).toMatchObject({ changed: 1 });
    expect(h.store.getContact(id)).toMatchObject({ email: 'mia.new@x.com' });
    expect(h.store.decisionsFor(id, '@email').at(-1)).toMatchObject({ winner: 'mailchimp', reason: expect.stringMatching(/^mailchimp changed the email/) });
    await push();
    expect(values('mia.new@x.com')).toEqual({ hubspot: 'Mia', mailchimp: 'Mia', klaviyo: 'Mia' });
    expect(values('mia@x.com')).toEqual({ hubspot: null, mailchimp: null, klaviyo: null });
    expect([s.hubspot.contacts().length, s.mailchimp.contacts().length, s.klaviyo.contacts().length, h.store.counts().contacts]).toEqual([1, 1, 1, 1]);
    // An edit on the renamed member still reaches everyone, and a second round is quiet.
    await later();
    s.mailchimp.admin.update('mia.new@x.com', { merges: { FNAME: 'Mira' } });
    await later();
    await h.engine.pull('mailchimp');
    await push();
    expect(values('mia.new@x.com')).toEqual({ hubspot: 'Mira', mailchimp: 'Mira', klaviyo: 'Mira' });
    await later();
    for (const e of h.esps) expect(await h.engine.pull(e)).toMatchObject({ changed: 0 });
    expect(h.engine.enqueueAll()).toBe(0);
  });

  it.each(['hubspot', 'mailchimp'] as const)(
    "a record restored on %s after the contact's email, name and tags changed comes back linked and is brought up to date, reverting nothing",
    async (esp) => {
      const id = add('rita@x.com', 'Rita');
      h.store.updateTags(id, ['seg:a'], [], 'local', clock.now());
      await push();
      await later();
      for (const e of h.esps) await h.engine.pull(e);
      const hubspotId = s.hubspot.contact('rita@x.com')!.id;
      if (esp === 'mailchimp') s.mailchimp.admin.archive('rita@x.com');
      else s.hubspot.state.archive(hubspotId, { source: 'CRM_UI', sourceId: 'userId:1' });
      await later();
      await h.engine.pull(esp);
      // While the record is gone: a new email, name and tag set, locally.
      h.store.changeEmail(id, 'rita.new@x.com');
      h.store.setProperty(id, 'first_name', { value: 'Rhea', updatedAt: clock.now(), source: 'local' });
      h.store.updateTags(id, ['seg:b'], ['seg:a'], 'local', clock.now());
      await push();
      await later();
      // Restored: the record comes back with the old email, name and tags.
      if (esp === 'mailchimp') s.mailchimp.seed([{ email: 'rita@x.com' }]);
      else s.hubspot.unarchive(hubspotId);
      await later();
      await h.engine.pull(esp);
      expect(h.store.getContact(id)).toMatchObject({ email: 'rita.new@x.com', properties: { first_name: expect.objectContaining({ value: 'Rhea' }) } });
      expect([...h.store.getContact(id)!.tags].sort()).toEqual(['seg:b']);
      expect(h.store.decisionsFor(id, '@link').at(-1)).toMatchObject({ winner: esp, reason: expect.stringMatching(/is live again/) });
      expect(h.store.counts().contacts).toBe(1);
      await push();
      expect(values('rita.new@x.com')).toEqual({ hubspot: 'Rhea', mailchimp: 'Rhea', klaviyo: 'Rhea' });
      expect(values('rita@x.com')).toEqual({ hubspot: null, mailchimp: null, klaviyo: null });
      if (esp === 'mailchimp') expect((s.mailchimp.member('rita.new@x.com')!.tags as { name: string }[]).map((t) => t.name)).toEqual(['seg:b']);
      else expect(s.hubspot.contact('rita.new@x.com')).toMatchObject({ id: hubspotId, properties: { segsync_tags: 'seg:b' } });
      await later();
      for (const e of h.esps) await h.engine.pull(e);
      await later();
      for (const e of h.esps) expect([e, await h.engine.pull(e)]).toEqual([e, expect.objectContaining({ changed: 0 })]);
      expect(h.engine.enqueueAll()).toBe(0);
    },
  );

  it('a HubSpot merge (through the SDK) unlinks the contact of the merged-away record with a decision naming the survivor; nothing is erased and no write fails', async () => {
    const [aId, bId] = s.hubspot.seed([
      { email: 'ann@x.com', properties: { firstname: 'Ann' } },
      { email: 'ann.work@x.com', properties: { firstname: 'Annie', lastname: 'Work' } },
    ]);
    await later();
    for (const e of h.esps) await h.engine.pull(e);
    await push();
    const ann = h.store.findContactByEmail('ann@x.com')!;
    const work = h.store.findContactByEmail('ann.work@x.com')!;
    expect(work.externalIds.hubspot).toBe(bId);
    await later();
    const sdk = new Client({ accessToken: 'hs-token', basePath: s.hubspot.url, numberOfApiCallRetries: 0 });
    expect((await sdk.crm.contacts.basicApi.merge({ primaryObjectId: aId!, objectIdToMerge: bId! })).id).toBe(aId);
    await later();
    await h.engine.pull('hubspot');

    expect(h.store.getContact(work.id)!.externalIds.hubspot).toBeUndefined();
    expect(h.store.getContact(ann.id)!.externalIds.hubspot).toBe(aId);
    expect(h.store.decisionsFor(work.id, '@link').at(-1)).toMatchObject({
      winner: 'hubspot',
      reason: expect.stringMatching(new RegExp(`^hubspot record merged into record ${aId} \\(contact ${ann.id}, ann@x.com\\): unlinked`)),
    });
    expect(h.store.decisionsFor(ann.id, '@link')).toEqual([]);
    // Both people stay, here and on the other ESPs; an edit of the merged-away one goes there only.
    h.store.setProperty(work.id, 'first_name', { value: 'Anna', updatedAt: clock.now(), source: 'local' });
    await push();
    expect(h.store.counts().outbox).toEqual([]);
    expect(values('ann.work@x.com')).toEqual({ hubspot: null, mailchimp: 'Anna', klaviyo: 'Anna' });
    expect(values('ann@x.com')).toEqual({ hubspot: 'Ann', mailchimp: 'Ann', klaviyo: 'Ann' });
    expect(h.store.counts().contacts).toBe(2);
    // The survivor keeps listing the merged id: later pulls record nothing more.
    s.hubspot.edit('ann@x.com', { lastname: 'Merged' });
    await later();
    await h.engine.pull('hubspot');
    expect(h.store.decisionsFor(work.id, '@link')).toHaveLength(1);
  });

  it('unlinking drops the queued writes and the dead letters of that ESP and contact, with the decision saying so', async () => {
    const id = add('una@x.com', 'Una');
    await push();
    await later();
    // A write Mailchimp refuses dead-letters; then the member is archived there.
    s.mailchimp.inject({ method: 'PATCH', path: '/members/', status: 400, times: 1 });
    h.store.setProperty(id, 'first_name', { value: 'Unity', updatedAt: clock.now(), source: 'local' });
    await push();
    expect(h.store.deadOutbox('mailchimp', 10).map((o) => o.contactId)).toEqual([id]);
    expect(h.store.counts().outbox.find((o) => o.esp === 'mailchimp')).toMatchObject({ dead: 1 });
    s.mailchimp.admin.archive('una@x.com');
    await later();
    await h.engine.pull('mailchimp');
    expect(h.store.deadOutbox('mailchimp', 10)).toEqual([]);
    expect(h.store.decisionsFor(id, '@link').at(-1)).toMatchObject({
      winner: 'mailchimp',
      reason: expect.stringMatching(/unlinked.*; dropped 1 dead-lettered write\(s\)$/),
      detail: expect.objectContaining({ droppedQueued: 0, droppedDead: 1 }),
    });
    // Later edits go to the linked ESPs only: nothing is queued for the archived member again.
    h.store.setProperty(id, 'first_name', { value: 'Uma', updatedAt: clock.now(), source: 'local' });
    await push();
    expect(h.store.pendingOutbox('mailchimp', id)).toEqual([]);
    expect(h.store.counts().outbox.filter((o) => o.esp === 'mailchimp')).toEqual([]);
    expect(values('una@x.com')).toEqual({ hubspot: 'Uma', mailchimp: 'Una', klaviyo: 'Uma' });
  });
});
