/**
 * The trust invariants of the outbound side, end to end through the real SDKs and the three
 * sandboxes: segsync never writes a consent or status nobody asked for, never removes a user's own
 * tag, and carries an opt-out made anywhere to every other ESP as that vendor's unsubscribe.
 */
import type { EspName } from '../../../src/model/types';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const MAPPING = `fields:
  first_name: { type: string, conflict: latest }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
segments:
  vip:
    rule: 'true'
    push: [{ esp: hubspot, name: vip }, { esp: mailchimp, name: vip }, { esp: klaviyo, name: vip }]
`;

const ESPS: EspName[] = ['hubspot', 'mailchimp', 'klaviyo'];
const USER = { source: 'CRM_UI' as const, sourceId: 'user' };

describe('sync that never corrupts an ESP (real SDKs against the three sandboxes)', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeEach(async () => {
    s = await startSandboxes();
    h = harness(sandboxConfig(s, MAPPING));
  });
  afterEach(async () => {
    await h.close();
    await s.close();
  });

  const second = (): Promise<void> => new Promise((r) => setTimeout(r, 1100));
  function add(email: string, consent: 'subscribed' | 'unsubscribed' | 'pending' = 'subscribed'): number {
    return h.store.upsertContacts([{ email, properties: { first_name: email.split('@')[0]! }, consent, source: 'local' }])[0]!.contactId;
  }
  function flag(id: number, on: boolean): void {
    h.store.saveEvaluation(id, [{ contactId: id, segment: 'vip', value: on, since: Date.now() }], undefined);
  }
  /** Pulls every ESP (after a second: pulls stop at a whole-second bound fixed when they start). */
  async function pull(esps: EspName[] = ESPS): Promise<void> {
    await second();
    for (const esp of esps) await h.engine.pull(esp);
  }
  async function drain(): Promise<void> {
    await Promise.all(h.esps.map((e) => h.engine.drainAll(e)));
  }
  const optOutOnHubspot = (email: string): void => {
    for (const t of s.hubspot.state.subscriptionTypes) s.hubspot.state.setSubscription(email, t.id, 'NOT_SUBSCRIBED', USER);
  };
  const consentOn = (email: string): Record<EspName, string | undefined> => ({
    hubspot: s.hubspot.contact(email)?.properties.hs_email_optout === 'true' ? 'opted-out' : 'not-opted-out',
    mailchimp: s.mailchimp.member(email)?.status,
    klaviyo: s.klaviyo.profileByEmail(email)?.marketing.consent,
  });
  const hsTags = (email: string): string[] => (s.hubspot.contact(email)?.properties.segsync_tags ?? '').split(';').filter(Boolean).sort();
  const mcTags = (email: string): string[] => ((s.mailchimp.member(email)?.tags ?? []) as { name: string }[]).map((t) => t.name).sort();
  const klTags = (email: string): string[] => ((s.klaviyo.profileByEmail(email)?.properties.segsync_tags ?? []) as string[]).slice().sort();
  const tagsOn = (email: string): string[][] => [hsTags(email), mcTags(email), klTags(email)];

  it('keeps a status or consent changed on each ESP between pull and push when only a field changes', async () => {
    const ada = add('ada@x.com');
    const bob = add('bob@x.com', 'unsubscribed');
    await h.pushAll();
    await pull();
    expect(consentOn('ada@x.com')).toEqual({ hubspot: 'not-opted-out', mailchimp: 'subscribed', klaviyo: 'SUBSCRIBED' });
    expect(s.mailchimp.member('bob@x.com')!.status).toBe('unsubscribed');

    // Changed on the ESPs after segsync's last look: ada became transactional on Mailchimp and opted
    // out on HubSpot and Klaviyo; bob signed up again on Mailchimp and awaits confirmation.
    s.mailchimp.admin.update('ada@x.com', { status: 'transactional' });
    s.mailchimp.admin.update('bob@x.com', { status: 'pending' });
    optOutOnHubspot('ada@x.com');
    s.klaviyo.state.unsubscribe(['ada@x.com'], undefined);
    const jobs = s.klaviyo.state.consentJobs.length;
    const hubspotConsentCalls = (): number =>
      Object.entries(s.hubspot.stats().requests)
        .filter(([r]) => r.includes('communication-preferences') && r.startsWith('POST'))
        .reduce((n, [, c]) => n + c, 0);
    const hsBefore = hubspotConsentCalls();

    for (const id of [ada, bob]) h.store.setProperty(id, 'first_name', { value: `new${id}`, updatedAt: Date.now(), source: 'local' });
    h.engine.enqueue([ada, bob]);
    await drain();

    expect(s.mailchimp.member('ada@x.com')).toMatchObject({ status: 'transactional', merge_fields: expect.objectContaining({ FNAME: `new${ada}` }) });
    expect(s.mailchimp.member('bob@x.com')).toMatchObject({ status: 'pending', merge_fields: expect.objectContaining({ FNAME: `new${bob}` }) });
    expect(s.hubspot.contact('ada@x.com')!.properties).toMatchObject({ firstname: `new${ada}`, hs_email_optout: 'true' });
    expect(s.klaviyo.profileByEmail('ada@x.com')).toMatchObject({ first_name: `new${ada}`, marketing: expect.objectContaining({ consent: 'UNSUBSCRIBED' }) });
    expect(s.klaviyo.state.consentJobs.length).toBe(jobs);
    expect(hubspotConsentCalls()).toBe(hsBefore);
  }, 30_000);

  it("never removes a user's own tag named like a segment tag, on any ESP, and reports the collision instead of merging", async () => {
    const carol = add('carol@x.com');
    const dave = add('dave@x.com');
    const erin = add('erin@x.com');
    await h.pushAll();
    // The users' own `vip` tags, put on in each ESP's app: dave is no VIP to segsync, erin is.
    for (const email of ['dave@x.com', 'erin@x.com']) {
      s.hubspot.edit(email, { segsync_tags: 'vip' });
      s.mailchimp.admin.tag(email, 'vip', true);
      s.klaviyo.state.upsertProfile({ attributes: { email, properties: { segsync_tags: ['vip'] } } });
    }
    await pull();
    flag(carol, true);
    flag(erin, true);
    await h.pushAll();
    expect([tagsOn('carol@x.com'), tagsOn('dave@x.com'), tagsOn('erin@x.com')]).toEqual([
      [['vip'], ['vip'], ['vip']],
      [['vip'], ['vip'], ['vip']],
      [['vip'], ['vip'], ['vip']],
    ]);
    const plan = h.engine.plan();
    expect(plan.every((p) => p.contacts === 0)).toBe(true);
    // Erin's own `vip` is reported as a collision on every ESP, not taken over by the segment.
    expect(plan.map((p) => [p.esp, p.collisions])).toEqual([
      ['hubspot', { vip: 1 }],
      ['mailchimp', { vip: 1 }],
      ['klaviyo', { vip: 1 }],
    ]);

    // Everyone leaves the segment: only the tag segsync put on (carol's) goes.
    flag(carol, false);
    flag(erin, false);
    await h.pushAll();
    await pull();
    await h.pushAll();
    expect([tagsOn('carol@x.com'), tagsOn('dave@x.com'), tagsOn('erin@x.com')]).toEqual([
      [[], [], []],
      [['vip'], ['vip'], ['vip']],
      [['vip'], ['vip'], ['vip']],
    ]);
    void dave;
  }, 60_000);

  it.each(ESPS)(
    'carries an opt-out made on %s to the other two ESPs in one pull and one push, as their unsubscribe',
    async (source) => {
      add('olga@x.com');
      await h.pushAll();
      await pull();
      expect(consentOn('olga@x.com')).toEqual({ hubspot: 'not-opted-out', mailchimp: 'subscribed', klaviyo: 'SUBSCRIBED' });

      if (source === 'hubspot') optOutOnHubspot('olga@x.com');
      if (source === 'mailchimp') s.mailchimp.admin.update('olga@x.com', { status: 'unsubscribed' });
      if (source === 'klaviyo') s.klaviyo.state.unsubscribe(['olga@x.com'], undefined);
      await pull([source]);
      await drain();

      expect(consentOn('olga@x.com')).toEqual({ hubspot: 'opted-out', mailchimp: 'unsubscribed', klaviyo: 'UNSUBSCRIBED' });
      // An unsubscribe, never a deletion: every record is still there.
      expect([s.hubspot.contact('olga@x.com'), s.mailchimp.member('olga@x.com'), s.klaviyo.profileByEmail('olga@x.com')].every(Boolean)).toBe(true);
      expect(h.store.counts().outbox).toEqual([]);
    },
    30_000,
  );

  it('subscribed on Klaviyo, then opted out on HubSpot, then edited on Klaviyo: nobody is subscribed anywhere', async () => {
    s.klaviyo.seedProfile({ email: 'pat@x.com', consent: 'SUBSCRIBED', first_name: 'Pat' });
    s.hubspot.seed([{ email: 'pat@x.com', properties: { firstname: 'Pat' } }]);
    await second();
    optOutOnHubspot('pat@x.com');
    await second();
    s.klaviyo.state.upsertProfile({ attributes: { email: 'pat@x.com', first_name: 'Patricia' } });
    // The HubSpot opt-out is read first, then Klaviyo's later edit: its `updated` is newer than the
    // opt-out, but its consent time is older, and only that counts.
    await pull(['hubspot', 'klaviyo']);
    expect(h.store.findContactByEmail('pat@x.com')!.consent?.status).toBe('unsubscribed');
    await h.pushAll();
    expect(consentOn('pat@x.com')).toEqual({ hubspot: 'opted-out', mailchimp: 'unsubscribed', klaviyo: 'UNSUBSCRIBED' });
    expect(s.klaviyo.state.consentJobs.filter((j) => j.kind === 'subscribe')).toEqual([]);
  }, 30_000);

  it("never takes as its own a user's tag that the first push's adopting pull found: the segment turning off leaves it", async () => {
    // Planned before the account was read: the add met the user's own `vip`, which the pull before the first write saw.
    const ivy = add('ivy@x.com');
    s.mailchimp.seed([{ email: 'ivy@x.com', tags: ['vip', 'gold'] }]);
    flag(ivy, true);
    await h.pushAll();
    expect(mcTags('ivy@x.com')).toEqual(['gold', 'vip']);
    flag(ivy, false);
    h.engine.enqueue([ivy]);
    await drain();
    expect(mcTags('ivy@x.com')).toEqual(['gold', 'vip']);
  }, 30_000);

  it("never takes as its own a user's tag put on after segsync's last read, where the write finds it there (HubSpot, Mailchimp)", async () => {
    const jay = add('jay@x.com');
    await h.pushAll();
    await pull();
    // The user's own `vip`, added in each app after segsync's last look: no pull sees it before the push.
    s.hubspot.edit('jay@x.com', { segsync_tags: 'vip' });
    s.mailchimp.admin.tag('jay@x.com', 'vip', true);
    flag(jay, true);
    h.engine.enqueue([jay]);
    await drain();
    expect([hsTags('jay@x.com'), mcTags('jay@x.com')]).toEqual([['vip'], ['vip']]);
    flag(jay, false);
    h.engine.enqueue([jay]);
    await drain();
    expect([hsTags('jay@x.com'), mcTags('jay@x.com')]).toEqual([['vip'], ['vip']]);
  }, 30_000);

  it('opted out on HubSpot, email changed on Klaviyo: created on Mailchimp under the new email as unsubscribed, never subscribed', async () => {
    s.klaviyo.seedProfile({ email: 'quinn@x.com', consent: 'SUBSCRIBED', first_name: 'Quinn' });
    s.hubspot.seed([{ email: 'quinn@x.com', properties: { firstname: 'Quinn' } }]);
    await pull(['hubspot', 'klaviyo']);
    optOutOnHubspot('quinn@x.com');
    const profile = s.klaviyo.profileByEmail('quinn@x.com')!;
    s.klaviyo.state.upsertProfile({ id: profile.id, attributes: { email: 'quinn.new@x.com', first_name: 'Quinn N' } });
    await pull(['hubspot', 'klaviyo']);
    await h.pushAll();
    expect(s.mailchimp.member('quinn.new@x.com')?.status).toBe('unsubscribed');
    expect(s.mailchimp.member('quinn@x.com')).toBeUndefined();
    expect(s.klaviyo.profileByEmail('quinn.new@x.com')!.marketing.consent).toBe('UNSUBSCRIBED');
    expect(s.klaviyo.state.consentJobs.filter((j) => j.kind === 'subscribe')).toEqual([]);
  }, 30_000);

  it('opted out on Mailchimp: the opt-out reaches a Klaviyo profile that never subscribed (which Klaviyo may still email), existing or created by the push', async () => {
    // Found by hand: an unsubscribed Mailchimp member pulled, then pushed to Klaviyo, stayed NEVER_SUBSCRIBED there.
    s.mailchimp.seed([
      { email: 'nell@x.com', status: 'unsubscribed' },
      { email: 'ned@x.com', status: 'unsubscribed', merges: { FNAME: 'Ned' } },
    ]);
    s.klaviyo.seedProfile({ email: 'nell@x.com', consent: 'NEVER_SUBSCRIBED', first_name: 'Nell' });
    await pull(['mailchimp', 'klaviyo']);
    expect(['nell@x.com', 'ned@x.com'].map((e) => h.store.findContactByEmail(e)!.consent?.status)).toEqual(['unsubscribed', 'unsubscribed']);
    await h.pushAll();
    expect(s.klaviyo.profileByEmail('nell@x.com')!.marketing.consent).toBe('UNSUBSCRIBED');
    expect(s.klaviyo.profileByEmail('ned@x.com')!.marketing.consent).toBe('UNSUBSCRIBED');
    expect(s.klaviyo.state.consentJobs.filter((j) => j.kind === 'subscribe')).toEqual([]);
    // Settled: the next push sends no consent again.
    await pull(['klaviyo']);
    expect(h.engine.plan({}, ['klaviyo'])[0]!.contacts).toBe(0);
  }, 30_000);

  it('opted out on Mailchimp, then a field pushed there before any pull saw it: the answer carries the opt-out home and to the others', async () => {
    const ada = add('ada@x.com');
    await h.pushAll();
    await pull();
    expect(consentOn('ada@x.com')).toEqual({ hubspot: 'not-opted-out', mailchimp: 'subscribed', klaviyo: 'SUBSCRIBED' });
    // The webhook is lost: the push's answer is the first to report the opt-out (the chaos test lost it,
    // since the answer was remembered as seen and every later pull took it for old news).
    s.mailchimp.admin.update('ada@x.com', { status: 'unsubscribed' });
    h.store.setProperty(ada, 'first_name', { value: 'Ada L', updatedAt: Date.now(), source: 'local' });
    h.engine.enqueue([ada]);
    await drain();
    expect(h.store.getContact(ada)!.consent).toMatchObject({ status: 'unsubscribed', source: 'mailchimp' });
    await drain();
    await pull();
    await h.pushAll();
    expect(h.store.getContact(ada)!.consent?.status).toBe('unsubscribed');
    expect(consentOn('ada@x.com')).toEqual({ hubspot: 'opted-out', mailchimp: 'unsubscribed', klaviyo: 'UNSUBSCRIBED' });
    expect(s.mailchimp.member('ada@x.com')!.merge_fields).toMatchObject({ FNAME: 'Ada L' });
  }, 30_000);

  it('signed up again on Mailchimp, then a field pushed there before any pull saw it: the pull still weighs the signup by its time', async () => {
    const bob = add('bob@x.com', 'unsubscribed');
    await h.pushAll();
    await pull();
    expect(s.mailchimp.member('bob@x.com')!.status).toBe('unsubscribed');
    await second();
    // Signed up again through a form: pending, then confirmed (Mailchimp refuses a direct resubscribe).
    s.mailchimp.admin.update('bob@x.com', { status: 'pending' });
    s.mailchimp.admin.update('bob@x.com', { status: 'subscribed' });
    h.store.setProperty(bob, 'first_name', { value: 'Bob B', updatedAt: Date.now(), source: 'local' });
    h.engine.enqueue([bob]);
    await drain();
    // The answer has no consent time: a subscribe never wins without one, and is not remembered as seen.
    expect(h.store.getContact(bob)!.consent?.status).toBe('unsubscribed');
    await pull(['mailchimp']);
    expect(h.store.getContact(bob)!.consent).toMatchObject({ status: 'subscribed', source: 'mailchimp' });
  }, 30_000);

  it('opted out, resubscribed on HubSpot and Klaviyo, then opted out on Klaviyo: the new opt-out reaches HubSpot again', async () => {
    add('ada@x.com');
    await h.pushAll();
    await pull();
    optOutOnHubspot('ada@x.com');
    await pull();
    await h.pushAll();
    expect(consentOn('ada@x.com')).toEqual({ hubspot: 'opted-out', mailchimp: 'unsubscribed', klaviyo: 'UNSUBSCRIBED' });
    // The person signs up again on HubSpot and on Klaviyo (which stamps its consent time).
    await second();
    for (const t of s.hubspot.state.subscriptionTypes) s.hubspot.state.setSubscription('ada@x.com', t.id, 'SUBSCRIBED', USER);
    s.klaviyo.state.subscribe(['ada@x.com'], undefined);
    await pull();
    await h.pushAll();
    expect(h.store.findContactByEmail('ada@x.com')!.consent?.status).toBe('subscribed');
    expect(consentOn('ada@x.com').hubspot).toBe('not-opted-out');
    // And opts out once more, on Klaviyo: HubSpot must hear of it, though it once held an opt-out.
    await second();
    s.klaviyo.state.unsubscribe(['ada@x.com'], undefined);
    await pull();
    await h.pushAll();
    expect(h.store.findContactByEmail('ada@x.com')!.consent?.status).toBe('unsubscribed');
    expect(consentOn('ada@x.com')).toEqual({ hubspot: 'opted-out', mailchimp: 'unsubscribed', klaviyo: 'UNSUBSCRIBED' });
  }, 30_000);

  it('opted out, resubscribed on HubSpot, then opted out again on Klaviyo where the opt-out stood: the newer opt-out reaches HubSpot', async () => {
    add('ada@x.com');
    await h.pushAll();
    await pull();
    s.mailchimp.admin.update('ada@x.com', { status: 'unsubscribed' });
    await pull();
    await h.pushAll();
    expect(consentOn('ada@x.com')).toEqual({ hubspot: 'opted-out', mailchimp: 'unsubscribed', klaviyo: 'UNSUBSCRIBED' });
    await second();
    for (const t of s.hubspot.state.subscriptionTypes) s.hubspot.state.setSubscription('ada@x.com', t.id, 'SUBSCRIBED', USER);
    await pull();
    await h.pushAll();
    expect(consentOn('ada@x.com').hubspot).toBe('not-opted-out');
    // Klaviyo still held the opt-out; the person opts out there once more, which Klaviyo stamps anew.
    await second();
    s.klaviyo.state.unsubscribe(['ada@x.com'], undefined);
    await pull();
    await h.pushAll();
    expect(consentOn('ada@x.com')).toEqual({ hubspot: 'opted-out', mailchimp: 'unsubscribed', klaviyo: 'UNSUBSCRIBED' });
  }, 30_000);

  it('opted out, then resubscribed on HubSpot alone: a later field push leaves the resubscription there alone', async () => {
    const ada = add('ada@x.com');
    await h.pushAll();
    await pull();
    optOutOnHubspot('ada@x.com');
    await pull();
    await h.pushAll();
    await second();
    for (const t of s.hubspot.state.subscriptionTypes) s.hubspot.state.setSubscription('ada@x.com', t.id, 'SUBSCRIBED', USER);
    await pull(['hubspot']);
    // HubSpot gives no consent time: the local opt-out stays, and is not pushed over the newer resubscription.
    expect(h.store.getContact(ada)!.consent?.status).toBe('unsubscribed');
    h.store.setProperty(ada, 'first_name', { value: 'Ada L', updatedAt: Date.now(), source: 'local' });
    h.engine.enqueue([ada]);
    await drain();
    expect(s.hubspot.contact('ada@x.com')!.properties).toMatchObject({ firstname: 'Ada L', hs_email_optout: 'false' });
    expect(consentOn('ada@x.com')).toEqual({ hubspot: 'not-opted-out', mailchimp: 'unsubscribed', klaviyo: 'UNSUBSCRIBED' });
  }, 30_000);

  it('erases a contact whose email changed on one ESP everywhere, by every address and id, and nothing comes back', async () => {
    const id = add('erin.old@x.com');
    await h.pushAll();
    const profile = s.klaviyo.profileByEmail('erin.old@x.com')!;
    s.klaviyo.state.upsertProfile({ id: profile.id, attributes: { email: 'erin.new@x.com' } });
    await pull(['klaviyo']);
    expect(h.store.getContact(id)!.email).toBe('erin.new@x.com');
    // Erased before the email change travels: Mailchimp's member and HubSpot's record still carry the old address.
    expect([s.mailchimp.member('erin.old@x.com'), s.hubspot.contact('erin.old@x.com')].every(Boolean)).toBe(true);

    h.engine.erase(id);
    // A pull before the erasure reached the ESPs sees their records: they must not bring Erin back.
    await pull();
    expect(h.store.findContactByEmail('erin.old@x.com')).toBeUndefined();
    expect(h.store.findContactByEmail('erin.new@x.com')).toBeUndefined();
    await drain();
    s.klaviyo.settle();
    await pull();
    await h.pushAll();
    for (const email of ['erin.old@x.com', 'erin.new@x.com']) {
      expect([s.hubspot.contact(email), s.mailchimp.member(email), s.klaviyo.profileByEmail(email)]).toEqual([undefined, undefined, undefined]);
      expect(h.store.findContactByEmail(email)).toBeUndefined();
    }
    expect(h.store.counts().outbox).toEqual([]);
  }, 60_000);
});
