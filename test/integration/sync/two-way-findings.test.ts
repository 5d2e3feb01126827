/**
 * Issue 15's reproductions of lost, wiped and reverted edits, end to end: the three sandboxes, the real
 * connectors and SDKs, the sync engine and a SQLite store, all on one manual clock.
 */
import { ManualClock } from '../../../src/model/clock';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { FIRST_NAME_MAPPING, harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

describe('two-way sync never loses, wipes or reverts an ESP edit (issue 15)', () => {
  let clock: ManualClock;
  let s: Sandboxes;
  let h: Harness;
  beforeEach(async () => {
    clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0, 250));
    s = await startSandboxes({ clock });
    h = harness(sandboxConfig(s, FIRST_NAME_MAPPING), undefined, clock);
    for (const e of h.esps) await h.engine.ensureSchema(e);
  });
  afterEach(async () => {
    await h.close();
    await s.close();
  });

  /** A person's pause between actions: more than the vendors' one-second timestamps. */
  const later = (): Promise<void> => clock.advance(1500);
  const push = async (): Promise<void> => {
    h.engine.enqueueAll();
    await Promise.all(h.esps.map((e) => h.engine.drainAll(e)));
  };
  const values = (email: string): Record<string, unknown> => ({
    hubspot: s.hubspot.contact(email)?.properties.firstname ?? '',
    mailchimp: s.mailchimp.member(email)?.merge_fields.FNAME ?? '',
    klaviyo: s.klaviyo.profileByEmail(email)?.first_name ?? '',
  });

  it('finding 3: a new Klaviyo profile with only the email does not wipe the name the other ESPs hold', async () => {
    s.hubspot.seedContacts([{ email: 'g@x.com', properties: { firstname: 'Gail' } }]);
    s.mailchimp.seedContacts([{ email: 'g@x.com', properties: { FNAME: 'Gail' } }]);
    await later();
    await h.engine.pull('hubspot');
    await h.engine.pull('mailchimp');
    s.klaviyo.seedProfile({ email: 'g@x.com' });
    await later();
    await h.engine.pull('klaviyo');
    await push();
    const id = h.store.findContactByEmail('g@x.com')!.id;
    expect(h.store.getContact(id)!.properties.first_name?.value).toBe('Gail');
    expect(values('g@x.com')).toEqual({ hubspot: 'Gail', mailchimp: 'Gail', klaviyo: 'Gail' });
    expect(h.store.decisionsFor(id, 'first_name').at(-1)).toMatchObject({ winner: 'local', reason: expect.stringMatching(/klaviyo never held a value/) });
  });

  it('finding 3: a clear made on an ESP that held a value still travels (an empty value is a change there)', async () => {
    s.hubspot.seedContacts([{ email: 'c@x.com', properties: { firstname: 'Cid' } }]);
    await later();
    await h.engine.pull('hubspot');
    await push();
    await later();
    s.mailchimp.admin.update('c@x.com', { merges: { FNAME: '' } });
    await later();
    await h.engine.pull('mailchimp');
    await push();
    expect(values('c@x.com')).toEqual({ hubspot: '', mailchimp: '', klaviyo: '' });
  });

  it('finding 4: an edit back to a value segsync once pushed is a change, not an echo, and is not reverted', async () => {
    s.hubspot.seedContacts([{ email: 'f@x.com', properties: { firstname: 'Eve' } }]);
    await later();
    await h.engine.pull('hubspot');
    await push();
    expect(values('f@x.com')).toEqual({ hubspot: 'Eve', mailchimp: 'Eve', klaviyo: 'Eve' });
    await later();
    s.klaviyo.seedProfile({ email: 'f@x.com', first_name: 'Evie' });
    await later();
    expect(await h.engine.pull('klaviyo')).toMatchObject({ changed: 1 });
    await push();
    expect(values('f@x.com')).toEqual({ hubspot: 'Evie', mailchimp: 'Evie', klaviyo: 'Evie' });
    await later();
    s.klaviyo.seedProfile({ email: 'f@x.com', first_name: 'Eve' });
    await later();
    expect(await h.engine.pull('klaviyo')).toMatchObject({ changed: 1 });
    await push();
    expect(values('f@x.com')).toEqual({ hubspot: 'Eve', mailchimp: 'Eve', klaviyo: 'Eve' });
  });

  it('finding 6: a Mailchimp archive or a HubSpot archive unlinks that record, stops writes there, and keeps the contact elsewhere', async () => {
    const id = h.store.upsertContacts([{ email: 'a@x.com', properties: { first_name: 'Ann' }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!
      .contactId;
    await push();
    await later();
    s.mailchimp.admin.archive('a@x.com');
    s.hubspot.state.archive(s.hubspot.contact('a@x.com')!.id, { source: 'CRM_UI', sourceId: 'userId:1' });
    await later();
    for (const e of h.esps) await h.engine.pull(e);
    expect(
      h.store
        .decisionsFor(id, '@link')
        .map((d) => d.winner)
        .sort(),
    ).toEqual(['hubspot', 'mailchimp']);
    h.store.setProperty(id, 'first_name', { value: 'Annie', updatedAt: clock.now(), source: 'local' });
    for (let round = 0; round < 2; round++) {
      expect(h.engine.enqueueAll()).toBe(round === 0 ? 1 : 0);
      for (const e of h.esps) expect(await h.engine.drainAll(e)).toMatchObject({ failed: 0 });
    }
    expect(h.store.counts().outbox).toEqual([]);
    expect(s.klaviyo.profileByEmail('a@x.com')!.first_name).toBe('Annie');
    expect(s.mailchimp.member('a@x.com')).toMatchObject({ status: 'archived', merge_fields: { FNAME: 'Ann' } });
    expect(s.hubspot.contact('a@x.com')).toBeUndefined();
    expect(h.store.getContact(id)!.properties.first_name?.value).toBe('Annie');
    // Pulling again records nothing new: the decision is taken once.
    for (const e of h.esps) await h.engine.pull(e);
    expect(h.store.decisionsFor(id, '@link')).toHaveLength(2);
  });

  it('finding 5: an email changed on HubSpot travels to Mailchimp and Klaviyo, and a stale record elsewhere does not flip it back', async () => {
    const id = h.store.upsertContacts([
      { email: 'carol@x.com', properties: { first_name: 'Carol' }, consent: 'subscribed', source: 'local', time: clock.now() },
    ])[0]!.contactId;
    await push();
    await later();
    for (const e of h.esps) await h.engine.pull(e);
    s.hubspot.edit('carol@x.com', { email: 'carol.new@x.com' });
    await later();
    await h.engine.pull('hubspot');
    expect(h.store.getContact(id)!.email).toBe('carol.new@x.com');
    // Klaviyo's record still has the old email and changes there before the new email reaches it.
    s.klaviyo.seedProfile({ email: 'carol@x.com', first_name: 'Caroline' });
    await later();
    await h.engine.pull('klaviyo');
    expect(h.store.getContact(id)).toMatchObject({ email: 'carol.new@x.com', properties: { first_name: expect.objectContaining({ value: 'Caroline' }) } });
    await push();
    expect(values('carol.new@x.com')).toEqual({ hubspot: 'Caroline', mailchimp: 'Caroline', klaviyo: 'Caroline' });
    expect(s.mailchimp.member('carol@x.com')).toBeUndefined();
    expect(s.klaviyo.profileByEmail('carol@x.com')).toBeUndefined();
    expect(s.mailchimp.member('carol.new@x.com')).toMatchObject({ status: 'subscribed' });
    expect(h.store.counts().contacts).toBe(1);
    expect(h.store.decisionsFor(id, '@email').at(-1)).toMatchObject({ winner: 'hubspot' });
    // Everyone holds the new email now: pulling and pushing again changes and sends nothing.
    await later();
    for (const e of h.esps) expect(await h.engine.pull(e)).toMatchObject({ changed: 0 });
    expect(h.engine.enqueueAll()).toBe(0);
  });

  it('finding 5: a local email change travels to every ESP by its own way of changing an email (no duplicate records)', async () => {
    const id = h.store.upsertContacts([
      { email: 'dan@x.com', properties: { first_name: 'Dan' }, consent: 'subscribed', source: 'local', time: clock.now() },
    ])[0]!.contactId;
    await push();
    h.store.changeEmail(id, 'dan.new@x.com');
    await push();
    expect(values('dan.new@x.com')).toEqual({ hubspot: 'Dan', mailchimp: 'Dan', klaviyo: 'Dan' });
    expect([s.hubspot.contact('dan@x.com'), s.mailchimp.member('dan@x.com'), s.klaviyo.profileByEmail('dan@x.com')]).toEqual([undefined, undefined, undefined]);
  });

  it('finding 7: the dry run shows exactly what the push sends (no queued operation the push would drop)', async () => {
    const id = h.store.upsertContacts([{ email: 'p@x.com', properties: { first_name: 'Pat' }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!
      .contactId;
    await push();
    h.store.setProperty(id, 'first_name', { value: 'Patty', updatedAt: clock.now(), source: 'local' });
    h.engine.enqueueAll();
    h.store.setProperty(id, 'first_name', { value: 'Pat', updatedAt: clock.now(), source: 'local' });
    h.store.upsertContacts([{ email: 'q@x.com', properties: { first_name: 'Quinn' }, consent: 'subscribed', source: 'local', time: clock.now() }]);
    const plan = h.engine.plan();
    expect(plan.map((p) => [p.esp, p.contacts, p.creates, p.fields])).toEqual(
      h.esps.map((e) => [e, 1, 1, { [{ hubspot: 'firstname', mailchimp: 'FNAME', klaviyo: 'first_name' }[e]]: 1 }]),
    );
    h.engine.enqueueAll();
    const sent = await Promise.all(h.esps.map((e) => h.engine.drainAll(e)));
    expect(sent.map((r) => r.ok)).toEqual(plan.map((p) => p.contacts));
    expect(values('p@x.com')).toEqual({ hubspot: 'Pat', mailchimp: 'Pat', klaviyo: 'Pat' });
  });

  it('finding 6: with connectors.mailchimp.onDelete: erase, a Mailchimp archive erases the contact locally and on every ESP', async () => {
    const config = sandboxConfig(s, FIRST_NAME_MAPPING);
    config.connectors.mailchimp!.onDelete = 'erase';
    const e = harness(config, undefined, clock);
    try {
      e.store.upsertContacts([{ email: 'z@x.com', properties: { first_name: 'Zoe' }, consent: 'subscribed', source: 'local', time: clock.now() }]);
      await e.pushAll();
      await later();
      s.mailchimp.admin.archive('z@x.com');
      await later();
      await e.engine.pull('mailchimp');
      expect(e.store.findContactByEmail('z@x.com')).toBeUndefined();
      await Promise.all(e.esps.map((esp) => e.engine.drainAll(esp)));
      expect([s.hubspot.contact('z@x.com'), s.klaviyo.profileByEmail('z@x.com'), s.mailchimp.member('z@x.com')]).toEqual([undefined, undefined, undefined]);
    } finally {
      await e.close();
    }
  });

  it("finding 3: latest compares the field's own change time (HubSpot property history), not the record's", async () => {
    const id = h.store.upsertContacts([{ email: 'x@x.com', properties: { first_name: 'Xe' }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!
      .contactId;
    await push();
    await later();
    const editedAt = clock.now();
    s.hubspot.edit('x@x.com', { firstname: 'Xavier' });
    await later();
    h.store.setProperty(id, 'first_name', { value: 'Xan', updatedAt: clock.now(), source: 'local' });
    await later();
    // Another property changes later: the record's modification time is now newer than the local edit.
    s.hubspot.edit('x@x.com', { lastname: 'Quinn' });
    await later();
    await h.engine.pull('hubspot');
    expect(h.store.getContact(id)!.properties.first_name?.value).toBe('Xan');
    expect(h.store.decisionsFor(id, 'first_name').at(-1)).toMatchObject({
      winner: 'local',
      reason: expect.stringContaining(`is newer than hubspot's (${new Date(editedAt).toISOString()})`),
    });
    await push();
    expect(values('x@x.com')).toEqual({ hubspot: 'Xan', mailchimp: 'Xan', klaviyo: 'Xan' });
  });

  it('an old local change is not written over a newer edit on each ESP that no pull has seen yet (latest: the ESP edit wins)', async () => {
    const id = h.store.upsertContacts([{ email: 'o@x.com', properties: { first_name: 'Ola' }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!
      .contactId;
    await push();
    await later();
    // Changed while nothing pushed (the daemon down; a `segsync push` to come).
    h.store.setProperty(id, 'first_name', { value: 'Olga', updatedAt: clock.now(), source: 'local' });
    await clock.advance(10 * 60_000);
    s.hubspot.edit('o@x.com', { firstname: 'Olive' });
    s.mailchimp.admin.update('o@x.com', { merges: { FNAME: 'Olive' } });
    s.klaviyo.seedProfile({ email: 'o@x.com', first_name: 'Olive' });
    await later();
    expect(h.engine.plan().map((p) => p.pullsFirst)).toEqual([true, true, true]);
    await push();
    expect(h.store.getContact(id)!.properties.first_name?.value).toBe('Olive');
    expect(values('o@x.com')).toEqual({ hubspot: 'Olive', mailchimp: 'Olive', klaviyo: 'Olive' });
  });

  it('an old local change pushed after a Mailchimp archive no pull has seen: the member stays archived and is unlinked, nothing is written there', async () => {
    const id = h.store.upsertContacts([{ email: 'r@x.com', properties: { first_name: 'Rae' }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!
      .contactId;
    await push();
    await later();
    h.store.setProperty(id, 'first_name', { value: 'Raelyn', updatedAt: clock.now(), source: 'local' });
    await clock.advance(10 * 60_000);
    s.mailchimp.admin.archive('r@x.com');
    await later();
    await push();
    expect(s.mailchimp.member('r@x.com')).toMatchObject({ status: 'archived', merge_fields: { FNAME: 'Rae' } });
    expect(h.store.decisionsFor(id, '@link').map((d) => d.winner)).toEqual(['mailchimp']);
    expect(values('r@x.com')).toMatchObject({ hubspot: 'Raelyn', klaviyo: 'Raelyn' });
    expect(h.store.counts().outbox).toEqual([]);
  });

  /** Ann, archived on Mailchimp and seen so by a pull, then renamed Annie locally and pushed elsewhere. */
  async function archivedOnMailchimpThenRenamedHere(): Promise<number> {
    const id = h.store.upsertContacts([{ email: 'r@x.com', properties: { first_name: 'Ann' }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!
      .contactId;
    await push();
    await later();
    s.mailchimp.admin.archive('r@x.com');
    await later();
    await h.engine.pull('mailchimp');
    h.store.setProperty(id, 'first_name', { value: 'Annie', updatedAt: clock.now(), source: 'local' });
    await push();
    await later();
    return id;
  }

  it('finding 6: a record restored on Mailchimp links again without reverting a local edit made while it was archived', async () => {
    const id = await archivedOnMailchimpThenRenamedHere();
    // Restored in Mailchimp (re-added): it comes back with the name it had when it was archived.
    s.mailchimp.seed([{ email: 'r@x.com' }]);
    await later();
    await h.engine.pull('mailchimp');
    expect(h.store.decisionsFor(id, '@link').map((d) => d.reason)).toEqual([
      expect.stringMatching(/^mailchimp record archived or deleted: unlinked/),
      expect.stringMatching(/^mailchimp record is live again/),
    ]);
    expect(h.store.getContact(id)!.properties.first_name?.value).toBe('Annie');
    await push();
    expect(values('r@x.com')).toEqual({ hubspot: 'Annie', mailchimp: 'Annie', klaviyo: 'Annie' });
  });

  it('a record restored on Mailchimp and edited there before any pull saw it keeps that edit, newer than the local one', async () => {
    const id = await archivedOnMailchimpThenRenamedHere();
    // Back on Mailchimp with the name it had, then renamed there: that edit is the latest of all.
    s.mailchimp.seed([{ email: 'r@x.com' }]);
    await later();
    s.mailchimp.admin.update('r@x.com', { merges: { FNAME: 'Anna' } });
    await later();
    await h.engine.pull('mailchimp');
    expect(h.store.getContact(id)!.properties.first_name?.value).toBe('Anna');
    await push();
    expect(values('r@x.com')).toEqual({ hubspot: 'Anna', mailchimp: 'Anna', klaviyo: 'Anna' });
  });
});
