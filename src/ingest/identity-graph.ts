/**
 * Identity stitching for intake: which contact (or anonymous profile) a call is about, given its
 * email, userId and anonymousId; identify and alias link identifiers, absorb anonymous profiles into
 * the contact (their events move with them, so rules see the visitor's history) and merge two known
 * contacts that turn out to be one person, recording the decision. Track calls never link: they land
 * on whoever their identifiers already name, or on a new anonymous profile.
 *
 * Anonymous profiles are not contacts: they have no email, so nothing about them can reach an ESP
 * (the outbox only ever holds contacts).
 */
import { toEventRow } from '../store/event-row';
import { IDENTITY_DECISION } from '../store/identities';
import type { Identifier, IdentityOwner, ProfileEventRow } from '../store/identities';
import type { AppendOutcome, Store } from '../store/store';
import type { Consent, FieldValue, IncomingContact, IncomingEvent } from '../model/types';

/** The app identifiers a call carries (Segment's userId and anonymousId). */
export interface AppIds {
  userId?: string;
  anonymousId?: string;
}

/** A track (or page, screen) call: the event and who it is about. */
export interface TrackItem {
  /** Normalised email when the call gave one: the contact it lands on, whatever the ids say. */
  email?: string;
  ids: AppIds;
  event: Omit<IncomingEvent, 'email'>;
}

/** An identify, group or alias call: who it is about, traits to merge, identifiers to link. */
export interface IdentifyItem {
  email?: string;
  ids: AppIds;
  /** Alias: the identifier the person was known by before `ids.userId` (an anonymousId or an older userId). */
  previousId?: string;
  /** Traits, tags, consent for the contact (the email is `email`). */
  contact: Omit<IncomingContact, 'email'>;
  /** May this call merge two contacts that both have an email (only the server key may). */
  mayMergeContacts: boolean;
}

/** What an identify pass did, for re-evaluation and the answer. */
export interface IdentifyOutcome {
  /** Contacts whose traits or identity changed. */
  contacts: number[];
  /** Contacts that received events from an absorbed profile (new event rows). */
  eventsArrived: number[];
  /** Contacts whose stored events were moved by a merge (their caches must be re-read whole). */
  regathered: number[];
  /** Positions of calls refused: they would merge two known contacts without the server key. */
  refused: number[];
  /** Positions of calls whose consent the store kept its own against (older, or an undated lift of an opt-out), and the stored one. */
  consentKept: { position: number; kept: Consent }[];
  /** Profiles absorbed into contacts, contacts merged. */
  absorbed: number;
  merged: number;
}

/** What a track pass did. */
export interface TrackOutcome extends Omit<AppendOutcome, 'contactsCreated'> {
  /** Events kept on anonymous profiles (visitors not identified yet). */
  anonymous: number;
}

/** The plan for one identify call, from what its identifiers are linked to now (pure). */
export interface IdentityPlan {
  /** The owner everything ends on: an existing contact, a contact to create by email, a profile, or a new profile. */
  target: { contactId: number } | { email: string } | { profileId: number } | { newProfile: true };
  /** Profiles to move into the target. */
  absorb: number[];
  /** Other contacts whose identity and history move into the target contact. */
  merge: number[];
  /** Identifiers to link to the target. */
  link: Identifier[];
}

/** Identifiers of a call, the userId first (it names a person more surely than a browser's anonymousId). */
export function identifiersOf(ids: AppIds, previousId?: Identifier): Identifier[] {
  const out: Identifier[] = [];
  if (ids.userId !== undefined) out.push({ kind: 'userId', value: ids.userId });
  if (ids.anonymousId !== undefined) out.push({ kind: 'anonymousId', value: ids.anonymousId });
  if (previousId && !out.some((i) => i.kind === previousId.kind && i.value === previousId.value)) out.push(previousId);
  return out;
}

/** An identifier of a call and who holds it now. */
export interface OwnedIdentifier {
  id: Identifier;
  owner: IdentityOwner | undefined;
}

/**
 * Whether an identifier says who a person is (a userId, or alias's previousId: the app vouches for
 * them), rather than which browser they used (an anonymousId, which a shared device gives to several
 * people).
 */
function vouches(o: OwnedIdentifier, previousId: Identifier | undefined): boolean {
  return o.id.kind === 'userId' || (previousId !== undefined && o.id.kind === previousId.kind && o.id.value === previousId.value);
}

/**
 * Decides where an identify call ends: on the email's contact when it gave one; else on the contact
 * its userId (then any identifier) names; else on the first profile; else on a new profile. Profiles
 * named are absorbed; another contact named by a userId or alias is merged (one person); another
 * contact named only by an anonymousId is not (a shared browser): the anonymousId moves over.
 */
export function planIdentity(email: string | undefined, emailContact: number | undefined, owners: OwnedIdentifier[], previousId?: Identifier): IdentityPlan {
  const contactsOf = (list: OwnedIdentifier[]): number[] => unique(list.flatMap((o) => (o.owner?.contactId !== undefined ? [o.owner.contactId] : [])));
  const strong = contactsOf(owners.filter((o) => vouches(o, previousId)));
  const contacts = unique([...strong, ...contactsOf(owners)]);
  const profiles = unique(owners.flatMap((o) => (o.owner?.profileId !== undefined ? [o.owner.profileId] : [])));
  let target: IdentityPlan['target'];
  if (emailContact !== undefined) target = { contactId: emailContact };
  else if (email !== undefined) target = { email };
  else if (contacts.length) target = { contactId: contacts[0]! };
  else if (profiles.length) target = { profileId: profiles[0]! };
  else target = { newProfile: true };
  const targetContact = 'contactId' in target ? target.contactId : undefined;
  const targetProfile = 'profileId' in target ? target.profileId : undefined;
  return {
    target,
    absorb: profiles.filter((p) => p !== targetProfile),
    merge: strong.filter((c) => c !== targetContact),
    link: owners.map((o) => o.id),
  };
}

/**
 * Stores identify calls in order, inside the caller's transaction: each call's plan is carried out
 * (contacts created, profiles absorbed, contacts merged with a decision on both, identifiers linked,
 * traits merged). A call that would merge two contacts without the right to is refused whole.
 */
export function storeIdentifies(store: Store, items: IdentifyItem[], now: number): IdentifyOutcome {
  const out: IdentifyOutcome = { contacts: [], eventsArrived: [], regathered: [], refused: [], consentKept: [], absorbed: 0, merged: 0 };
  const upsert = (contact: IncomingContact, position: number): number => {
    const o = store.upsertContacts([contact])[0]!;
    if (o.consentKept) out.consentKept.push({ position, kept: o.consentKept });
    return o.contactId;
  };
  const graph = store.identities;
  items.forEach((item, position) => {
    const at = item.contact.time ?? now;
    const previous = item.previousId === undefined ? undefined : previousIdentifier(store, item.previousId);
    const ids = identifiersOf(item.ids, previous);
    const owners = ids.map((id) => ({ id, owner: graph.ownerOf(id) }));
    const emailContact = item.email === undefined ? undefined : graph.contactIdOf(item.email);
    const plan = planIdentity(item.email, emailContact, owners, previous);
    if (plan.merge.length && !item.mayMergeContacts) {
      out.refused.push(position);
      return;
    }
    let owner: IdentityOwner;
    if ('email' in plan.target) {
      owner = { contactId: upsert({ ...item.contact, email: plan.target.email }, position) };
    } else if ('contactId' in plan.target) {
      owner = { contactId: plan.target.contactId };
      const email = store.identities.emailOf(plan.target.contactId);
      if (email !== undefined && hasContent(item.contact)) upsert({ ...item.contact, email }, position);
    } else if ('profileId' in plan.target) {
      owner = { profileId: plan.target.profileId };
    } else {
      owner = { profileId: graph.createProfile(at) };
    }
    if (owner.profileId !== undefined) {
      for (const p of plan.absorb) graph.mergeProfiles(p, owner.profileId, at);
      if (hasContent(item.contact)) {
        graph.updateProfile(
          owner.profileId,
          {
            traits: item.contact.properties,
            ...(item.contact.tags ? { tags: item.contact.tags } : {}),
            ...(item.contact.consent ? { consent: item.contact.consent } : {}),
          },
          at,
        );
      }
    } else {
      const contactId = owner.contactId;
      for (const p of plan.absorb) {
        if (absorbProfile(store, p, contactId, at)) out.eventsArrived.push(contactId);
        out.absorbed++;
      }
      for (const other of plan.merge) {
        mergeContact(store, other, contactId, ids, at);
        out.regathered.push(other, contactId);
        out.merged++;
      }
      out.contacts.push(contactId);
    }
    for (const id of plan.link) graph.link(id, owner, at);
  });
  return { ...out, contacts: unique(out.contacts), eventsArrived: unique(out.eventsArrived), regathered: unique(out.regathered) };
}

/**
 * Stores track calls inside the caller's transaction: by email when given, else on the contact or
 * profile their userId (then anonymousId) is linked to, else on a new profile that the identifiers
 * are linked to (so the visitor's next call finds it).
 */
export function storeTracks(store: Store, items: TrackItem[], now: number): TrackOutcome {
  const graph = store.identities;
  const known: { event: IncomingEvent; position: number }[] = [];
  const anonymous = new Map<number, { row: ProfileEventRow; position: number }[]>();
  items.forEach((item, position) => {
    let email = item.email;
    let profileId: number | undefined;
    if (email === undefined) {
      const ids = identifiersOf(item.ids);
      const owner = ids.map((id) => graph.ownerOf(id)).find((o) => o !== undefined);
      if (owner?.contactId !== undefined) email = graph.emailOf(owner.contactId);
      else if (owner?.profileId !== undefined) profileId = owner.profileId;
      else {
        profileId = graph.createProfile(now);
        for (const id of ids) graph.link(id, { profileId }, now);
      }
    }
    if (email !== undefined) {
      known.push({ event: { ...item.event, email }, position });
      return;
    }
    const row = profileEventRow(item);
    const list = anonymous.get(profileId!) ?? [];
    list.push({ row, position });
    anonymous.set(profileId!, list);
  });
  const r = known.length ? store.appendEvents(known.map((k) => k.event)) : { inserted: 0, duplicates: 0, touched: [], conflicts: [] };
  const conflicts = r.conflicts.map((i) => known[i]!.position);
  let inserted = r.inserted;
  let duplicates = r.duplicates;
  let kept = 0;
  for (const [profileId, list] of anonymous) {
    const p = graph.appendProfileEvents(
      profileId,
      list.map((l) => l.row),
      now,
    );
    inserted += p.inserted;
    kept += p.inserted;
    duplicates += p.duplicates;
    conflicts.push(...p.conflicts.map((i) => list[i]!.position));
  }
  return { inserted, duplicates, touched: r.touched, conflicts: conflicts.sort((a, b) => a - b), anonymous: kept };
}

/**
 * A profile's event row. An event that came without an id gets one derived from its content and the
 * identifier it came by (in place of an email), and keeps it when it moves to a contact.
 */
function profileEventRow(item: TrackItem): ProfileEventRow {
  const anchor = item.ids.userId !== undefined ? `user:${item.ids.userId}` : `anon:${item.ids.anonymousId ?? ''}`;
  const { eventId, name, time, propertiesJson, source, timeFromReceipt } = toEventRow({ ...item.event, email: anchor });
  return { eventId, name, time, propertiesJson, source, ...(timeFromReceipt ? { timeFromReceipt } : {}) };
}

/** Segment's alias `previousId` is an anonymousId or an older userId: whichever is known, else an anonymousId. */
function previousIdentifier(store: Store, value: string): Identifier {
  const asUser: Identifier = { kind: 'userId', value };
  return store.identities.ownerOf(asUser) ? asUser : { kind: 'anonymousId', value };
}

/** Moves a profile's events and traits (those the contact lacks) into a contact; true when events moved. */
function absorbProfile(store: Store, profileId: number, contactId: number, at: number): boolean {
  const graph = store.identities;
  const profile = graph.getProfile(profileId);
  if (!profile) return false;
  const email = graph.emailOf(contactId)!;
  const rows = graph.profileEvents(profileId);
  const contact = store.getContact(contactId);
  const traits: Record<string, FieldValue> = {};
  // The contact's own values are newer words on the person than what they did anonymously.
  for (const [k, v] of Object.entries(profile.traits)) if (contact?.properties[k] === undefined) traits[k] = v;
  // Consent given while anonymous applies unless the contact's own is newer (never an older word over a newer one).
  const consent = profile.consent && (!contact?.consent || contact.consent.updatedAt <= profile.consent.at) ? profile.consent : undefined;
  if (Object.keys(traits).length || profile.tags.length) {
    store.upsertContacts([{ email, properties: traits, source: 'local', time: profile.lastSeenAt, ...(profile.tags.length ? { tags: profile.tags } : {}) }]);
  }
  if (consent) store.setConsent(contactId, { status: consent.status, updatedAt: consent.at, source: 'local' });
  for (const id of graph.identifiersOf({ profileId })) graph.link(id, { contactId }, at);
  graph.deleteProfile(profileId);
  if (!rows.length) return false;
  store.appendEventRows(rows.map((r) => ({ ...r, email })));
  return true;
}

/**
 * Two contacts turned out to be one person (the call named both): the other's app identifiers and
 * events move to the target, and a decision on each says so. The other contact itself stays, with
 * its email, properties and consent: consent belongs to an address, and an address the ESPs hold is
 * never dropped implicitly.
 */
function mergeContact(store: Store, other: number, into: number, ids: Identifier[], at: number): void {
  const graph = store.identities;
  const moved = graph.moveContactEvents(other, into);
  const identifiers = graph.identifiersOf({ contactId: other });
  for (const id of identifiers) graph.link(id, { contactId: into }, at);
  const because = ids.map((i) => `${i.kind} ${JSON.stringify(i.value)}`).join(', ');
  const otherEmail = graph.emailOf(other) ?? '';
  const intoEmail = graph.emailOf(into) ?? '';
  const detail = { from: other, into, events: moved, identifiers: identifiers.map((i) => `${i.kind}:${i.value}`) };
  store.recordDecision({
    contactId: into,
    field: IDENTITY_DECISION,
    winner: 'local',
    reason: `merged contact ${other} (${otherEmail}) into this one: one call named both (${because}); its ${moved} events and identifiers moved here`,
    at,
    detail,
  });
  store.recordDecision({
    contactId: other,
    field: IDENTITY_DECISION,
    winner: 'local',
    reason: `merged into contact ${into} (${intoEmail}): one call named both (${because}); events and identifiers moved there, this address and its consent stay`,
    at,
    detail,
  });
}

function hasContent(c: IdentifyItem['contact']): boolean {
  return Object.keys(c.properties).length > 0 || (c.tags?.length ?? 0) > 0 || c.consent !== undefined || c.createdAt !== undefined;
}

function unique(ids: number[]): number[] {
  return [...new Set(ids)];
}
