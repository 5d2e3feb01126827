/**
 * The identity graph on a real SQLite store: tracks by userId and anonymousId land on the contact
 * their identifiers name, an identified visitor's anonymous history moves onto the contact, two
 * known contacts are merged only with the right to and with a recorded decision, and anonymous
 * profiles never become contacts (so nothing about them can be pushed).
 */
import { planIdentity, storeIdentifies, storeTracks } from '../../../src/ingest/identity-graph';
import type { IdentifyItem, TrackItem } from '../../../src/ingest/identity-graph';
import { configSchema } from '../../../src/config/schema';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { explainField } from '../../../src/sync/explain-field';
import { resolveMapping } from '../../../src/sync/mapping';

const T0 = Date.parse('2026-05-01T10:00:00Z');

function track(ids: TrackItem['ids'], name: string, messageId: string, email?: string): TrackItem {
  return { ...(email ? { email } : {}), ids, event: { name, time: T0, properties: { sku: 'A1' }, source: 'track', eventId: messageId } };
}

function identify(ids: IdentifyItem['ids'], email: string | undefined, traits: Record<string, string> = {}, mayMergeContacts = true): IdentifyItem {
  return { ...(email ? { email } : {}), ids, contact: { properties: traits, source: 'local', time: T0 }, mayMergeContacts };
}

describe('identity graph', () => {
  let store: SqliteStore;
  beforeEach(() => {
    store = new SqliteStore({ path: ':memory:', now: () => T0 });
  });
  afterEach(() => store.close());

  const eventIds = (email: string): string[] =>
    store
      .eventsOf(store.findContactByEmail(email)!.id)
      .map((e) => e.eventId)
      .sort();

  it('lands a track by userId on the contact an identify linked it to', () => {
    storeIdentifies(store, [identify({ userId: 'u1' }, 'ann@example.com', { first_name: 'Ann' })], T0);
    const r = storeTracks(store, [track({ userId: 'u1' }, 'Placed Order', 'm1')], T0);
    expect(r).toMatchObject({ inserted: 1, anonymous: 0, conflicts: [] });
    expect(eventIds('ann@example.com')).toEqual(['m1']);
    expect(store.counts().contacts).toBe(1);
  });

  it('keeps anonymous events off the contacts, then moves them onto the contact when identify links the anonymousId', () => {
    storeTracks(store, [track({ anonymousId: 'a1' }, 'Viewed Product', 'm1'), track({ anonymousId: 'a1' }, 'Added to Cart', 'm2')], T0);
    expect(store.counts().contacts).toBe(0);
    expect(store.identities.profileCounts()).toEqual({ profiles: 1, events: 2 });
    const r = storeIdentifies(store, [identify({ userId: 'u1', anonymousId: 'a1' }, 'bo@example.com')], T0);
    const contactId = store.findContactByEmail('bo@example.com')!.id;
    expect(r).toMatchObject({ absorbed: 1, eventsArrived: [contactId], refused: [] });
    expect(eventIds('bo@example.com')).toEqual(['m1', 'm2']);
    expect(store.identities.profileCounts()).toEqual({ profiles: 0, events: 0 });
    // Later calls by either identifier land on the contact.
    storeTracks(store, [track({ anonymousId: 'a1' }, 'Viewed Product', 'm3'), track({ userId: 'u1' }, 'Placed Order', 'm4')], T0);
    expect(eventIds('bo@example.com')).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it('gives anonymous traits to the contact only where it has no value of its own', () => {
    storeIdentifies(store, [identify({ anonymousId: 'a1' }, undefined, { first_name: 'Anon', city: 'Oslo' })], T0);
    storeIdentifies(store, [identify({}, 'cy@example.com', { first_name: 'Cy' })], T0);
    storeIdentifies(store, [identify({ anonymousId: 'a1' }, 'cy@example.com')], T0);
    const c = store.findContactByEmail('cy@example.com')!;
    expect(c.properties.first_name!.value).toBe('Cy');
    expect(c.properties.city!.value).toBe('Oslo');
  });

  it('drops a resend of an anonymous event that has moved to a contact (same messageId)', () => {
    storeTracks(store, [track({ anonymousId: 'a1' }, 'Viewed Product', 'm1')], T0);
    storeIdentifies(store, [identify({ anonymousId: 'a1' }, 'di@example.com')], T0);
    const again = storeTracks(store, [track({ anonymousId: 'a1' }, 'Viewed Product', 'm1')], T0);
    expect(again).toMatchObject({ inserted: 0, duplicates: 1 });
    expect(eventIds('di@example.com')).toEqual(['m1']);
  });

  it('merges two profiles that alias links, and an alias to a known user moves the visitor onto the contact', () => {
    storeTracks(store, [track({ anonymousId: 'a1' }, 'Viewed Product', 'm1')], T0);
    storeTracks(store, [track({ userId: 'u9' }, 'Added to Cart', 'm2')], T0);
    expect(store.identities.profileCounts().profiles).toBe(2);
    storeIdentifies(store, [{ ...identify({ userId: 'u9' }, undefined), previousId: 'a1' }], T0);
    expect(store.identities.profileCounts()).toEqual({ profiles: 1, events: 2 });
    storeIdentifies(store, [identify({ userId: 'u9' }, 'ed@example.com')], T0);
    expect(eventIds('ed@example.com')).toEqual(['m1', 'm2']);
  });

  it('merges two known contacts one call names, with a decision on each; the other address and its consent stay', () => {
    storeIdentifies(store, [identify({ userId: 'u1' }, 'old@example.com')], T0);
    storeTracks(store, [track({ userId: 'u1' }, 'Placed Order', 'm1')], T0);
    store.upsertContacts([{ email: 'new@example.com', properties: {}, source: 'local', consent: 'subscribed' }]);
    const old = store.findContactByEmail('old@example.com')!.id;
    const fresh = store.findContactByEmail('new@example.com')!.id;
    const r = storeIdentifies(store, [identify({ userId: 'u1' }, 'new@example.com')], T0);
    expect(r).toMatchObject({ merged: 1, refused: [] });
    expect(r.regathered.sort()).toEqual([old, fresh].sort());
    expect(eventIds('new@example.com')).toEqual(['m1']);
    expect(eventIds('old@example.com')).toEqual([]);
    expect(store.identities.ownerOf({ kind: 'userId', value: 'u1' })).toEqual({ contactId: fresh });
    expect(store.decisionsFor(fresh, '@identity')[0]!.reason).toMatch(/merged contact .* \(old@example.com\) into this one/);
    expect(store.decisionsFor(old, '@identity')[0]!.reason).toMatch(/merged into contact .* \(new@example.com\)/);
    expect(store.findContactByEmail('new@example.com')!.consent?.status).toBe('subscribed');
    const explained = explainField(store, resolveMapping(configSchema.parse({ version: 1 })), 'new@example.com', 'email')!;
    expect(explained.decisions.map((d) => d.field)).toEqual(['@identity']);
  });

  it('refuses a merge of two known contacts without the right to, changing nothing', () => {
    storeIdentifies(store, [identify({ userId: 'u1' }, 'victim@example.com')], T0);
    storeTracks(store, [track({ userId: 'u1' }, 'Placed Order', 'm1')], T0);
    const r = storeIdentifies(store, [identify({ userId: 'u1' }, 'attacker@example.com', { plan: 'x' }, false)], T0);
    expect(r.refused).toEqual([0]);
    expect(store.findContactByEmail('attacker@example.com')).toBeUndefined();
    expect(eventIds('victim@example.com')).toEqual(['m1']);
    expect(store.decisionsFor(store.findContactByEmail('victim@example.com')!.id)).toEqual([]);
  });

  it('does not merge two people who shared a browser: the anonymousId moves to the one who identified last', () => {
    storeIdentifies(store, [identify({ userId: 'ann', anonymousId: 'shared' }, 'ann@example.com')], T0);
    storeTracks(store, [track({ userId: 'ann' }, 'Placed Order', 'm1')], T0);
    const r = storeIdentifies(store, [identify({ userId: 'bob', anonymousId: 'shared' }, 'bob@example.com', {}, false)], T0);
    expect(r).toMatchObject({ merged: 0, refused: [] });
    expect(eventIds('ann@example.com')).toEqual(['m1']);
    const bob = store.findContactByEmail('bob@example.com')!.id;
    expect(store.identities.ownerOf({ kind: 'anonymousId', value: 'shared' })).toEqual({ contactId: bob });
    expect(store.identities.ownerOf({ kind: 'userId', value: 'ann' })).toEqual({ contactId: store.findContactByEmail('ann@example.com')!.id });
  });

  it("keeps consent and tags a server identify gave an anonymous visitor, and applies them when identified, unless the contact's consent is newer", () => {
    storeIdentifies(
      store,
      [{ ...identify({ userId: 'u7' }, undefined), contact: { properties: {}, source: 'local', time: T0, consent: 'unsubscribed', tags: ['vip'] } }],
      T0,
    );
    storeIdentifies(store, [identify({ userId: 'u7' }, 'fay@example.com')], T0 + 1000);
    const fay = store.findContactByEmail('fay@example.com')!;
    expect(fay.consent?.status).toBe('unsubscribed');
    expect([...fay.tags]).toEqual(['vip']);

    storeIdentifies(store, [{ ...identify({ userId: 'u8' }, undefined), contact: { properties: {}, source: 'local', time: T0, consent: 'subscribed' } }], T0);
    store.upsertContacts([{ email: 'gus@example.com', properties: {}, source: 'local', consent: 'unsubscribed', time: T0 + 5000 }]);
    storeIdentifies(store, [identify({ userId: 'u8' }, 'gus@example.com')], T0 + 6000);
    expect(store.findContactByEmail('gus@example.com')!.consent?.status).toBe('unsubscribed');
  });

  it('never makes an anonymous profile a contact, so it has nothing to push', () => {
    storeTracks(store, [track({ anonymousId: 'a1' }, 'Viewed Product', 'm1')], T0);
    storeIdentifies(store, [identify({ anonymousId: 'a1' }, undefined, { first_name: 'Anon' })], T0);
    expect(store.counts()).toMatchObject({ contacts: 0, events: 0 });
    expect(store.contactIds(0, 10)).toEqual([]);
  });

  it('prunes profiles not seen within the retention limit, with their events and identifiers', () => {
    storeTracks(store, [track({ anonymousId: 'old' }, 'Viewed Product', 'm1')], T0);
    storeTracks(store, [track({ anonymousId: 'recent' }, 'Viewed Product', 'm2')], T0 + 10 * 86_400_000);
    expect(store.identities.pruneProfiles(T0 + 1)).toBe(1);
    expect(store.identities.ownerOf({ kind: 'anonymousId', value: 'old' })).toBeUndefined();
    expect(store.identities.ownerOf({ kind: 'anonymousId', value: 'recent' })).toBeDefined();
    expect(store.identities.profileCounts()).toEqual({ profiles: 1, events: 1 });
  });

  it('erasing a contact forgets its identifiers', () => {
    storeIdentifies(store, [identify({ userId: 'u1', anonymousId: 'a1' }, 'gone@example.com')], T0);
    store.eraseContact(store.findContactByEmail('gone@example.com')!.id);
    expect(store.identities.ownerOf({ kind: 'userId', value: 'u1' })).toBeUndefined();
    expect(store.identities.ownerOf({ kind: 'anonymousId', value: 'a1' })).toBeUndefined();
  });
});

describe('planIdentity', () => {
  const user = { kind: 'userId' as const, value: 'u' };
  const anon = { kind: 'anonymousId' as const, value: 'a' };
  it("ends on the email's contact and absorbs or merges every other owner", () => {
    expect(
      planIdentity('x@y.com', 7, [
        { id: user, owner: { contactId: 3 } },
        { id: anon, owner: { profileId: 5 } },
      ]),
    ).toEqual({ target: { contactId: 7 }, absorb: [5], merge: [3], link: [user, anon] });
  });
  it('merges a contact named by a userId, never one named only by an anonymousId (a shared browser)', () => {
    expect(planIdentity('x@y.com', 7, [{ id: anon, owner: { contactId: 3 } }])).toEqual({ target: { contactId: 7 }, absorb: [], merge: [], link: [anon] });
  });
  it("without an email, ends on the userId's contact, else a profile, else a new profile", () => {
    expect(
      planIdentity(undefined, undefined, [
        { id: user, owner: { contactId: 3 } },
        { id: anon, owner: { profileId: 5 } },
      ]).target,
    ).toEqual({ contactId: 3 });
    expect(
      planIdentity(undefined, undefined, [
        { id: user, owner: undefined },
        { id: anon, owner: { profileId: 5 } },
      ]).target,
    ).toEqual({ profileId: 5 });
    expect(planIdentity(undefined, undefined, [{ id: user, owner: undefined }]).target).toEqual({ newProfile: true });
  });
});
