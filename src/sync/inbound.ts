/**
 * The inbound side: what an ESP reports (pulled pages or webhook changes) becomes local state.
 * Identity is resolved (ESP id, then email; email changes followed), each mapped field goes through
 * the conflict policy (on per-field change times) with the decision recorded, echoes of our own
 * writes are recognised by the last pushed value until the ESP is seen holding another (`field-news.ts`),
 * and the ESP's view is remembered in sync state so the outbound side never sends a value back to
 * where it came from.
 */
import type { RemoteChange, RemoteContact, TagMembership } from '../../connectors/connector';
import type { Logger } from '../log/logger';
import { hashEmail } from '../log/logger';
import { isValidEmail, normaliseEmail } from '../model/identity';
import type { Clock } from '../model/clock';
import type { ConsentStatus, Contact, EspName, FieldValue } from '../model/types';
import { RECORD_KEY } from '../store/store';
import type { Store, SyncFieldState } from '../store/store';
import { decide } from './conflict';
import { isOptedOut } from '../model/consent';
import { CONSENT_KEY, takeRemoteConsent } from './consent';
import { isErased, rememberPreviousEmail } from './erasure';
import type { SyncMapping } from './mapping';
import { fieldNews } from './field-news';
import { heldKeys } from './held-keys';
import { EMAIL_KEY, emailChangedOnEsp } from './identity-travel';
import { CREATED_KEY, dropReusedLink, GONE_ON_WRITE, isReusedId, isUnlinked, LEFT_KEY, LINK_FIELD, relink, unlink, UNLINKED_KEY } from './links';
import type { UnlinkReason } from './links';
import { asTags, diffTags, isEmpty, sameValue, tagList } from './values';

/** Sync-state keys that are not ESP field names. */
export const TAGS_KEY = '@tags';
export { CONSENT_KEY } from './consent';

export interface InboundContext {
  store: Store;
  mapping: SyncMapping;
  clock: Clock;
  logger: Logger;
  /**
   * For a pull or a reconcile: when the read began (local clock). The keys a push wrote since, or is
   * writing, keep the push's record (held-keys.ts): the read may predate the push.
   */
  readSince?: number;
}

export interface InboundResult {
  /** Contacts whose local state changed (to re-evaluate and fan out). */
  changed: Set<number>;
  /** Contacts the ESP erased (GDPR): erase them locally and on the other ESPs. */
  erased: { contactId: number; email: string }[];
  /** Records skipped (no usable identity, echo of our own write, duplicate delivery). */
  ignored: number;
}

/** A contact or a partial change, as the inbound logic treats both. */
interface RemoteUpdate {
  externalId?: string;
  email?: string;
  fields: Record<string, FieldValue>;
  tags?: string[];
  consent?: ConsentStatus;
  /** The ESP holds no opt-out (see RemoteContact.noOptOut). */
  noOptOut?: true;
  /** The vendor's consent time, when it gives one (never its last-modified time). */
  consentAt?: number;
  modifiedAt: number;
  /** Per-field change times, where the ESP reports them. */
  fieldModifiedAt?: Record<string, number>;
  /**
   * When the ESP's tags took the value given (its clock), where the source says so: a webhook of the
   * tag property, which may arrive late and out of order.
   */
  tagsAt?: number;
  /** When the ESP created the record, where it says (tells a reused id from the linked record). */
  createdAt?: number;
  /** The record's id that survives an email change, where its `externalId` does not. */
  recordKey?: string;
}

/** Applies one pulled page in one transaction. */
export function applyRemoteContacts(ctx: InboundContext, esp: EspName, contacts: RemoteContact[]): InboundResult {
  const result: InboundResult = { changed: new Set(), erased: [], ignored: 0 };
  ctx.store.transaction(() => {
    for (const rc of contacts) {
      if (rc.deleted) {
        // Another person's archived record under a reused id says nothing of the linked one.
        const linked = ctx.store.findContactByExternalId(esp, rc.externalId);
        if (linked && dropIfReused(ctx, esp, linked, rc, rc.email)) continue;
        forgetOnEsp(ctx, esp, rc.externalId, result, rc.modifiedAt, 'archived or deleted', rc.recordKey);
        continue;
      }
      applyUpdate(ctx, esp, rc, result);
      if (rc.mergedIds) forgetMerged(ctx, esp, rc.externalId, rc.mergedIds, rc.modifiedAt, result);
    }
  });
  return result;
}

/**
 * Applies complete tag memberships (ESPs whose tag changes are only visible by listing a tag's
 * members): listed contacts carry the tag there, everyone else we thought carried it no longer does.
 */
export function applyTagMemberships(ctx: InboundContext, esp: EspName, memberships: TagMembership[]): InboundResult {
  const result: InboundResult = { changed: new Set(), erased: [], ignored: 0 };
  ctx.store.transaction(() => {
    const known = new Map<number, string[]>();
    const rows = new Map<number, SyncFieldState>();
    for (const s of ctx.store.syncStatesByKey(esp, TAGS_KEY)) {
      known.set(s.contactId, asTags(s.remoteValue) ?? []);
      rows.set(s.contactId, s);
    }
    const next = new Map(known);
    for (const m of memberships) {
      const members = new Set<number>();
      m.externalIds.forEach((externalId, i) => {
        const contact = ctx.store.findContactByExternalId(esp, externalId) ?? (m.emails[i] ? ctx.store.findContactByEmail(m.emails[i]!) : undefined);
        if (!contact) return;
        if (contact.externalIds[esp] !== externalId) ctx.store.setExternalId(contact.id, esp, externalId);
        members.add(contact.id);
        const tags = next.get(contact.id) ?? [];
        if (!tags.includes(m.tag)) next.set(contact.id, [...tags, m.tag]);
      });
      for (const [contactId, tags] of next) {
        if (!members.has(contactId) && tags.includes(m.tag))
          next.set(
            contactId,
            tags.filter((t) => t !== m.tag),
          );
      }
    }
    const now = ctx.clock.now();
    for (const [contactId, tags] of next) {
      if (sameValue(tagList(tags), tagList(known.get(contactId) ?? []))) continue;
      const row = rows.get(contactId);
      if (ctx.readSince !== undefined && heldKeys(ctx.store, esp, contactId, row ? [row] : [], ctx.readSince)?.has(TAGS_KEY)) continue;
      const contact = ctx.store.getContact(contactId);
      if (!contact) continue;
      applyUpdate(ctx, esp, { externalId: contact.externalIds[esp], email: contact.email, fields: {}, tags, modifiedAt: now }, result);
    }
  });
  return result;
}

/** Applies webhook changes (deduplicated by vendor event id) in one transaction. */
export function applyRemoteChanges(ctx: InboundContext, esp: EspName, changes: RemoteChange[]): InboundResult {
  const result: InboundResult = { changed: new Set(), erased: [], ignored: 0 };
  const ordered = [...changes].sort((a, b) => a.occurredAt - b.occurredAt);
  ctx.store.transaction(() => {
    for (const ch of ordered) {
      if (!ctx.store.markWebhookEvent(esp, ch.eventId, ctx.clock.now()) || ch.fromSelf) {
        result.ignored++;
        continue;
      }
      applyChange(ctx, esp, ch, result);
    }
  });
  return result;
}

function applyChange(ctx: InboundContext, esp: EspName, ch: RemoteChange, result: InboundResult): void {
  switch (ch.kind) {
    case 'created':
    case 'updated':
      // A webhook is fired by the change itself, so its time is the consent's time.
      applyUpdate(
        ctx,
        esp,
        {
          ...ch.ref,
          fields: ch.fields,
          tags: ch.tags,
          ...(ch.tags ? { tagsAt: ch.occurredAt } : {}),
          consent: ch.consent,
          ...(ch.noOptOut ? { noOptOut: true } : {}),
          consentAt: ch.occurredAt,
          modifiedAt: ch.occurredAt,
        },
        result,
      );
      return;
    case 'deleted':
      forgetOnEsp(ctx, esp, ch.ref.externalId, result, ch.occurredAt);
      return;
    case 'merged':
      if (!ch.ref.externalId) {
        for (const gone of ch.previous?.externalIds ?? []) forgetOnEsp(ctx, esp, gone, result, ch.occurredAt, 'merged into another record');
        return;
      }
      applyUpdate(ctx, esp, { ...ch.ref, fields: ch.fields, modifiedAt: ch.occurredAt }, result);
      forgetMerged(ctx, esp, ch.ref.externalId, ch.previous?.externalIds ?? [], ch.occurredAt, result);
      return;
    case 'email-changed': {
      const old = ch.previous?.email ? ctx.store.findContactByEmail(ch.previous.email) : undefined;
      const contact = old ?? (ch.ref.externalId ? ctx.store.findContactByExternalId(esp, ch.ref.externalId) : undefined);
      if (!contact || !ch.ref.email) {
        result.ignored++;
        return;
      }
      followEmailChange(ctx, esp, contact, ch.ref.email, result);
      // Mailchimp's member id is the hash of the email: the record has a new id now.
      if (ch.ref.externalId && !ctx.store.findContactByExternalId(esp, ch.ref.externalId)) ctx.store.setExternalId(contact.id, esp, ch.ref.externalId);
      return;
    }
    case 'erased': {
      const contact = findContact(ctx, esp, ch.ref.externalId, ch.ref.email);
      if (contact) result.erased.push({ contactId: contact.id, email: contact.email });
      else result.ignored++;
      return;
    }
  }
}

function findContact(ctx: InboundContext, esp: EspName, externalId: string | undefined, email: string | undefined): Contact | undefined {
  return (externalId ? ctx.store.findContactByExternalId(esp, externalId) : undefined) ?? (email ? ctx.store.findContactByEmail(email) : undefined);
}

/**
 * Records merged into a pulled one are gone: a contact still linked to one of them is unlinked there,
 * the decision naming the surviving record and its contact (never silently, never an erase: the
 * person's data lives on in the surviving record).
 */
function forgetMerged(ctx: InboundContext, esp: EspName, survivorId: string, mergedIds: string[], at: number, result: InboundResult): void {
  const owner = ctx.store.findContactByExternalId(esp, survivorId);
  for (const gone of mergedIds) {
    const linked = ctx.store.findContactByExternalId(esp, gone);
    if (!linked || linked.id === owner?.id) continue;
    const into: UnlinkReason = `merged into record ${survivorId}${owner ? ` (contact ${owner.id}, ${owner.email})` : ''}`;
    forgetOnEsp(ctx, esp, gone, result, at, into);
  }
}

function forgetOnEsp(
  ctx: InboundContext,
  esp: EspName,
  externalId: string | undefined,
  result: InboundResult,
  at: number,
  reason: UnlinkReason = 'archived or deleted',
  recordKey?: string,
): void {
  const eraseOnDelete = ctx.mapping.perEsp.get(esp)?.onDelete === 'erase' && reason === 'archived or deleted';
  const contact =
    (externalId ? ctx.store.findContactByExternalId(esp, externalId) : undefined) ??
    (eraseOnDelete ? unlinkedByWrite(ctx, esp, [recordKey, externalId]) : undefined);
  if (!contact) {
    result.ignored++;
    return;
  }
  // A merge is not a removal of the person: `onDelete: erase` does not apply to it.
  if (eraseOnDelete) {
    // Configured: a removal on this ESP erases the contact locally and on every ESP.
    ctx.store.recordDecision({
      contactId: contact.id,
      field: LINK_FIELD,
      winner: esp,
      reason: `${esp} record ${reason}: erased everywhere (connectors.${esp}.onDelete: erase)`,
      at: ctx.clock.now(),
      detail: { esp, externalId: externalId ?? null },
    });
    result.erased.push({ contactId: contact.id, email: contact.email });
    return;
  }
  // Deleted or archived on the ESP is not an erase: the local contact stays, the ESP link goes.
  if (unlink(ctx.store, ctx.clock, contact.id, esp, reason, at, externalId))
    ctx.logger.info({ esp, contact: contact.id }, `contact ${reason} on the ESP: unlinked there`);
}

/**
 * The contact unlinked from this record because a write found it gone (the outbox), before the ESP
 * reported the deletion: the report is that deletion, told now, so `onDelete: erase` applies to it.
 */
function unlinkedByWrite(ctx: InboundContext, esp: EspName, keys: (string | undefined)[]): Contact | undefined {
  for (const key of keys) {
    const contact = key === undefined ? undefined : ctx.store.findContactByRecordKey(esp, key);
    if (contact && ctx.store.getSyncState(contact.id, esp).some((s) => s.key === UNLINKED_KEY && s.remoteValue === GONE_ON_WRITE)) return contact;
  }
  return undefined;
}

function followEmailChange(ctx: InboundContext, esp: EspName, contact: Contact, email: string, result: InboundResult): void {
  const next = normaliseEmail(email);
  if (next === contact.email || !isValidEmail(next)) return;
  const taken = ctx.store.findContactByEmail(next);
  if (taken && taken.id !== contact.id) {
    ctx.logger.warn(
      { esp, contact: contact.id, other: taken.id, email: hashEmail(next) },
      'ESP changed an email to one another local contact has: not followed',
    );
    ctx.store.recordDecision({
      contactId: contact.id,
      field: EMAIL_KEY,
      winner: 'local',
      reason: `${esp} changed the email to one another local contact (${taken.id}) has: not followed`,
      at: ctx.clock.now(),
      detail: { esp, to: next },
    });
    result.ignored++;
    return;
  }
  rememberPreviousEmail(ctx.store, esp, contact);
  ctx.store.changeEmail(contact.id, next);
  ctx.store.putSyncState([{ contactId: contact.id, esp, key: EMAIL_KEY, remoteValue: next, pushedValue: undefined, remoteModifiedAt: ctx.clock.now() }]);
  ctx.store.recordDecision({
    contactId: contact.id,
    field: EMAIL_KEY,
    winner: esp,
    reason: `${esp} changed the email: followed locally and sent to the other ESPs`,
    at: ctx.clock.now(),
    detail: { esp, from: contact.email, to: next },
  });
  result.changed.add(contact.id);
}

/**
 * The contact linked to the record: by its id, unless that id now names another record (then the link
 * is dropped, never followed as an email change); else by the record's stable key, when its id changed
 * with its email (then the new id is linked).
 */
function linkedContact(ctx: InboundContext, esp: EspName, u: RemoteUpdate, email: string | undefined): { contact?: Contact; reusedFrom?: number } {
  const byId = u.externalId ? ctx.store.findContactByExternalId(esp, u.externalId) : undefined;
  if (byId && dropIfReused(ctx, esp, byId, u, email)) return { reusedFrom: byId.id };
  if (byId || !u.externalId) return byId ? { contact: byId } : {};
  // Unlinked contacts keep their record's key (links.ts), so a restored record finds its contact too.
  const byKey = ctx.store.findContactByRecordKey(esp, u.recordKey ?? u.externalId);
  // Keyed by its id, a record only finds a contact not linked to another record there meanwhile.
  if (!byKey || (!u.recordKey && byKey.externalIds[esp] !== undefined)) return {};
  // An email changed there to one another local contact has is that contact's record (as before).
  if (email && email !== byKey.email && ctx.store.findContactByEmail(email)) return {};
  ctx.store.setExternalId(byKey.id, esp, u.externalId);
  return { contact: byKey };
}

/**
 * Drops the link of a contact whose id on the ESP now names another record (with another email,
 * created at another time: see `isReusedId`); true when it did.
 */
function dropIfReused(ctx: InboundContext, esp: EspName, linked: Contact, u: RemoteUpdate, email: string | undefined): boolean {
  if (!u.externalId || u.createdAt === undefined || !email || email === linked.email) return false;
  if (!isReusedId(ctx.store.getSyncState(linked.id, esp), u.createdAt)) return false;
  dropReusedLink(ctx.store, ctx.clock, linked.id, esp, u.externalId, u.createdAt);
  ctx.logger.warn(
    { esp, contact: linked.id, externalId: u.externalId },
    'ESP id now names another record (account replaced or reset): link dropped, contact matched by email again',
  );
  return true;
}

/**
 * Another record holds the contact's email on the ESP now (the one it was linked to was archived or
 * deleted there and a new one made): what segsync knew of the old record says nothing of the new
 * one, whose empty fields are "not set", not clears to send everywhere.
 */
function forgetReplacedRecord(ctx: InboundContext, esp: EspName, contactId: number, previous: string, next: string): void {
  ctx.store.clearSyncState(contactId, esp);
  ctx.store.recordDecision({
    contactId,
    field: LINK_FIELD,
    winner: esp,
    reason: `${esp} record ${next} holds this contact's email now, not record ${previous} (removed or replaced there): linked to it, what segsync knew of the old record forgotten`,
    at: ctx.clock.now(),
    detail: { esp, externalId: next, previous },
  });
}

/** Finds or creates the local contact an ESP record belongs to, keeping ids and emails in step. */
function resolveContact(ctx: InboundContext, esp: EspName, u: RemoteUpdate, result: InboundResult): Contact | undefined {
  const email = u.email ? normaliseEmail(u.email) : undefined;
  const { contact: byId, reusedFrom } = linkedContact(ctx, esp, u, email);
  if (byId) {
    // Only an email the ESP changed is followed: a record still holding the email segsync last knew
    // there is behind (the new email is on its way to it), not an email change to undo ours. A
    // restored record could not be edited while it was gone: its email is sent the contact's.
    const state = ctx.store.getSyncState(byId.id, esp);
    // An email a push wrote since the read began is segsync's own change on its way: the page predates it.
    const ours = ctx.readSince !== undefined && heldKeys(ctx.store, esp, byId.id, state, ctx.readSince)?.has(EMAIL_KEY);
    if (email && email !== byId.email && !ours && !isUnlinked(state) && emailChangedOnEsp(state, email)) followEmailChange(ctx, esp, byId, email, result);
    return ctx.store.getContact(byId.id);
  }
  if (!email && ctx.readSince === undefined) {
    // A webhook of a record segsync has not linked yet may carry its id alone (an ESP's creation and
    // property events; seen by hand: one per record segsync's own push had just created, before its
    // answer linked them). The next pull reads the record whole, email included: nothing is lost.
    result.ignored++;
    ctx.logger.debug({ esp, externalId: u.externalId }, 'webhook of a record not linked yet, without its email: the next pull reads it');
    return undefined;
  }
  if (!email || !isValidEmail(email)) {
    result.ignored++;
    ctx.logger.warn({ esp, externalId: u.externalId }, 'ESP record without a usable email and no known id: skipped');
    return undefined;
  }
  let contact = ctx.store.findContactByEmail(email);
  if (!contact && isErased(ctx.store, esp, email, u.externalId)) {
    // An erased contact's record the ESP has not deleted yet (or a replay): it never comes back.
    result.ignored++;
    ctx.logger.info({ esp, email: hashEmail(email) }, 'ESP record of an erased contact: not recreated');
    return undefined;
  }
  if (!contact) {
    const [created] = ctx.store.upsertContacts([{ email, properties: {}, source: esp, time: u.modifiedAt }]);
    contact = ctx.store.getContact(created!.contactId)!;
    result.changed.add(contact.id);
  }
  const previous = contact.externalIds[esp];
  if (u.externalId && previous !== u.externalId) {
    if (previous !== undefined) forgetReplacedRecord(ctx, esp, contact.id, previous, u.externalId);
    ctx.store.setExternalId(contact.id, esp, u.externalId);
    if (reusedFrom !== undefined) {
      ctx.store.recordDecision({
        contactId: contact.id,
        field: LINK_FIELD,
        winner: esp,
        reason: `${esp} id ${u.externalId} (linked to contact ${reusedFrom} before the account was replaced or reset) names this contact's record now: linked by email`,
        at: ctx.clock.now(),
        detail: { esp, externalId: u.externalId, previousContact: reusedFrom },
      });
    }
  }
  return ctx.store.getContact(contact.id) ?? contact;
}

/** Queues one key's new sync state: the ESP's value, the pushed value still guarding echoes, the change time. */
type Remember = (key: string, value: FieldValue, pushedValue: FieldValue | undefined, at?: number) => void;

function applyUpdate(ctx: InboundContext, esp: EspName, u: RemoteUpdate, result: InboundResult): void {
  const contact = resolveContact(ctx, esp, u, result);
  if (!contact) return;
  const mapping = ctx.mapping.perEsp.get(esp);
  const rows = ctx.store.getSyncState(contact.id, esp);
  // A record restored on the ESP could not be edited while it was archived or deleted: the values it
  // had when it left are no newer than its removal, whatever the restore did to the record's
  // modification time. One it holds that it did not have then was set at the restore or since (a
  // signup form's values, an edit made before this read): news of the record's time.
  let changedBy = Number.POSITIVE_INFINITY;
  const restored = isUnlinked(rows);
  const left = restored ? rows.find((r) => r.key === LEFT_KEY)?.remoteValue : undefined;
  const leftFields = typeof left === 'object' && left !== null && !Array.isArray(left) ? left : undefined;
  const hadWhenLeft = (remote: string, value: FieldValue): boolean => !leftFields || !Object.hasOwn(leftFields, remote) || sameValue(leftFields[remote], value);
  if (restored) {
    changedBy = rows.find((r) => r.key === UNLINKED_KEY)?.remoteModifiedAt ?? changedBy;
    relink(ctx.store, ctx.clock, contact.id, esp, u.modifiedAt);
    result.changed.add(contact.id);
  }
  const state = new Map(rows.map((s) => [s.key, s]));
  const held = ctx.readSince === undefined ? undefined : heldKeys(ctx.store, esp, contact.id, rows, ctx.readSince);
  const updates: SyncFieldState[] = [];
  const remember: Remember = (key, value, pushedValue, at = u.modifiedAt) => {
    updates.push({ contactId: contact.id, esp, key, remoteValue: value, pushedValue, remoteModifiedAt: at });
  };

  for (const [remote, value] of Object.entries(u.fields)) {
    if (held?.has(remote)) continue;
    const link = mapping?.byRemote.get(remote);
    const prev = state.get(remote);
    if (!link) {
      // A segment's property is computed locally, but what the ESP holds is remembered: segsync then
      // never writes over a value it has not seen (safety valve, reconcile).
      if (
        mapping?.segments.some((t) => t.as === 'property' && t.name === remote) &&
        !(prev && prev.remoteValue !== undefined && sameValue(prev.remoteValue, value))
      )
        remember(remote, value, prev?.pushedValue);
      continue;
    }
    const news = fieldNews(prev, value, hadWhenLeft(remote, value) ? Math.min(u.modifiedAt, changedBy) : u.modifiedAt, u.fieldModifiedAt?.[remote]);
    if (news.verdict === 'unchanged') continue;
    remember(remote, value, news.pushedValue, news.changedAt);
    if (news.verdict === 'echo' || !link.in) continue;
    const local = contact.properties[link.local];
    if (news.verdict === 'unset') {
      if (local !== undefined && !isEmpty(local.value)) {
        ctx.store.recordDecision({
          contactId: contact.id,
          field: link.local,
          winner: 'local',
          reason: `${esp} never held a value for this field: its empty value is "not set", not a clear`,
          at: ctx.clock.now(),
          detail: { esp, remote: value, local: local.value },
        });
        if (link.out) result.changed.add(contact.id);
      }
      continue;
    }
    const d = decide({ field: link.field, esp, local, remote: value, remoteAt: news.changedAt });
    if (d.conflict) {
      ctx.store.recordDecision({
        contactId: contact.id,
        field: link.local,
        winner: d.winner,
        reason: d.reason,
        at: ctx.clock.now(),
        detail: { esp, remote: value, local: local?.value ?? null },
      });
    }
    if (d.takeRemote && !sameValue(local?.value, value)) {
      ctx.store.setProperty(contact.id, link.local, { value, updatedAt: news.changedAt, source: esp });
      result.changed.add(contact.id);
    } else if (!d.takeRemote && link.out) {
      // The local value won: the ESP now holds a different one, so the contact needs a push back.
      result.changed.add(contact.id);
    }
  }

  const remoteEmail = u.email ? normaliseEmail(u.email) : undefined;
  if (remoteEmail && !held?.has(EMAIL_KEY) && state.get(EMAIL_KEY)?.remoteValue !== remoteEmail) remember(EMAIL_KEY, remoteEmail, undefined);
  if (u.createdAt !== undefined && state.get(CREATED_KEY)?.remoteValue !== u.createdAt) remember(CREATED_KEY, u.createdAt, undefined);
  if (u.recordKey && state.get(RECORD_KEY)?.remoteValue !== u.recordKey) remember(RECORD_KEY, u.recordKey, undefined);
  if (u.tags && !held?.has(TAGS_KEY)) applyTags(ctx, esp, contact, u.tags, u.tagsAt, state.get(TAGS_KEY), remember, result, restored);
  // An opt-out is taken even where a push answered since the read began: segsync never resubscribes
  // anyone, so it is no older than the push's answer, and held it could be lost for good.
  if (u.consent && (!held?.has(CONSENT_KEY) || isOptedOut(u.consent)))
    applyConsent(ctx, esp, contact, u.consent, u.consentAt, state.get(CONSENT_KEY), remember, result);
  else if (!u.consent && u.noOptOut && !held?.has(CONSENT_KEY)) liftOptOut(state.get(CONSENT_KEY), remember);
  if (updates.length) ctx.store.putSyncState(updates);
}

function applyTags(
  ctx: InboundContext,
  esp: EspName,
  contact: Contact,
  remoteTags: string[],
  tagsAt: number | undefined,
  prev: SyncFieldState | undefined,
  remember: Remember,
  result: InboundResult,
  restored: boolean,
): void {
  const now = tagList(remoteTags);
  const known = asTags(prev?.remoteValue);
  if (known && sameValue(known, now)) return;
  if (restored) {
    // The tags a restored record comes back with are the ones it had when it left, not news: the
    // local set stands and the push sends the difference.
    remember(TAGS_KEY, now, undefined);
    return;
  }
  const pushed = asTags(prev?.pushedValue);
  if (known && tagsAt !== undefined && prev?.remoteModifiedAt !== undefined && tagsAt < prev.remoteModifiedAt) {
    // Older than the tags segsync knows there: diffed against them, it would remove tags added since
    // and bring back tags removed since. Known from a read, it is old news. Known from our push, it
    // shows user's tags segsync does not know (segsync never takes a user's tag off on purpose:
    // owned-tags.ts): tags the push's write kept, or dropped where the ESP's tags are written whole
    // and the tag came after the push's read of them. They are taken locally (the next push restores
    // a dropped one there); nothing is removed.
    if (!pushed || !sameValue(known, pushed)) return;
    const computed = segmentTagNames(ctx.mapping);
    const lost = diffTags(known, now).add.filter((t) => !computed.has(t) && ctx.mapping.tagOwnership(esp, t) !== 'namespace');
    if (ctx.store.updateTags(contact.id, lost, [], esp, ctx.clock.now()).added.length) result.changed.add(contact.id);
    return;
  }
  // The same expiring echo guard as fields: our pushed tag set is an echo only while the ESP was not seen holding another.
  const stillOurs = pushed !== undefined && (known === undefined || sameValue(known, pushed));
  if (stillOurs && sameValue(pushed, now)) {
    remember(TAGS_KEY, now, pushed);
    return;
  }
  remember(TAGS_KEY, now, undefined);
  // Segment tags are computed locally from the rules: an ESP's copy of them never becomes a local tag.
  const computed = segmentTagNames(ctx.mapping);
  const { add, remove } = diffTags(known ?? [], now);
  const { added, removed } = ctx.store.updateTags(
    contact.id,
    add.filter((t) => !computed.has(t)),
    known ? remove.filter((t) => !computed.has(t)) : [],
    esp,
    ctx.clock.now(),
  );
  if (added.length || removed.length) result.changed.add(contact.id);
}

function applyConsent(
  ctx: InboundContext,
  esp: EspName,
  contact: Contact,
  consent: ConsentStatus,
  at: number | undefined,
  prev: SyncFieldState | undefined,
  remember: Remember,
  result: InboundResult,
): void {
  // The same consent seen again is no news, unless the vendor stamps it newer than when it was last
  // seen (given again): a consent that once lost to a newer local one must not hide a later one.
  if (prev && prev.remoteValue === consent && (at === undefined || prev.remoteModifiedAt === undefined || at <= prev.remoteModifiedAt)) return;
  remember(CONSENT_KEY, consent, prev?.pushedValue);
  // The ESP is where people unsubscribe: its answer stands locally when its consent time says so
  // (see consent.ts), and an opt-out then travels to the other ESPs as an unsubscribe.
  if (takeRemoteConsent(ctx.store, contact, esp, consent, at, ctx.clock.now())) result.changed.add(contact.id);
}

/**
 * The ESP no longer holds the opt-out segsync saw or carried there (a resubscription): it is
 * forgotten, remembered as lifted when the record said so. The local consent stays as it is; only a
 * newer local opt-out travels there again (see optOutOp).
 */
function liftOptOut(prev: SyncFieldState | undefined, remember: Remember): void {
  const held = prev?.remoteValue ?? prev?.pushedValue;
  if (typeof held === 'string' && isOptedOut(held as ConsentStatus)) remember(CONSENT_KEY, null, undefined);
}

function segmentTagNames(mapping: SyncMapping): Set<string> {
  const names = new Set<string>();
  for (const m of mapping.perEsp.values()) for (const s of m.segments) if (s.as === 'tag') names.add(s.name);
  return names;
}
