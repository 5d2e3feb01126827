/**
 * The outbound side: for one contact and one ESP, the desired state (mapped properties, tags, segment
 * flags) diffed against what the ESP is known to hold. Unchanged contacts produce nothing, so they
 * cost zero calls; a value that came from an ESP is already known there, so it is never sent back.
 */
import { carriesSegmentTag } from '../model/membership';
import type { Contact, EspName, FieldValue } from '../model/types';
import type { OutboxInput, OutboxItem, SegmentState, Store, SyncFieldState } from '../store/store';
import { CONSENT_KEY, optOutOp } from './consent';
import { TAGS_KEY } from './inbound';
import { emailOps } from './identity-travel';
import { isUnlinked } from './links';
import type { EspMapping, SyncMapping } from './mapping';
import { ADDED_TAGS_KEY, addedTags, mayRemoveTag, tagCollisions } from './owned-tags';
import { asTags, isEmpty, sameValue, tagList } from './values';

/** What one ESP should hold for one contact. */
export interface DesiredState {
  fields: Map<string, FieldValue>;
  tags: string[];
}

/** The desired state of a contact on an ESP, from its properties, tags and segment answers. */
export function desiredState(contact: Contact, segments: SegmentState[], mapping: EspMapping): DesiredState {
  const fields = new Map<string, FieldValue>();
  for (const link of mapping.fields) {
    if (link.out) fields.set(link.remote, contact.properties[link.local]?.value ?? null);
  }
  const bySegment = new Map(segments.map((s) => [s.segment, s.value]));
  const tags = new Set(contact.tags);
  for (const target of mapping.segments) {
    const value = bySegment.get(target.segment);
    if (target.as === 'tag') {
      if (carriesSegmentTag(value)) tags.add(target.name);
    } else {
      fields.set(target.name, value ?? null);
    }
  }
  return { fields, tags: tagList(tags) };
}

/**
 * The operations that bring an ESP from its known state to the desired one. Tags are only added where
 * missing and only removed where `mayRemove` says segsync may (see owned-tags.ts).
 */
export function diffOps(
  contactId: number,
  esp: EspName,
  desired: DesiredState,
  state: SyncFieldState[],
  mayRemove: (tag: string, added: ReadonlySet<string>) => boolean,
): OutboxInput[] {
  const known = new Map(state.map((s) => [s.key, s]));
  const ops: OutboxInput[] = [];
  for (const [key, value] of desired.fields) {
    const k = known.get(key);
    const held = k ? (k.remoteValue !== undefined ? k.remoteValue : k.pushedValue) : undefined;
    if (sameValue(value, held)) continue;
    // Never written and nothing to say: a false flag or an empty field does not create a record.
    if (held === undefined && (isEmpty(value) || value === false)) continue;
    ops.push(isEmpty(value) ? { esp, contactId, key, op: 'clear' } : { esp, contactId, key, op: 'set', value });
  }
  const t = known.get(TAGS_KEY);
  const heldTags = asTags(t?.remoteValue) ?? asTags(t?.pushedValue) ?? [];
  const added = addedTags(known.get(ADDED_TAGS_KEY));
  const want = new Set(desired.tags);
  const have = new Set(heldTags);
  for (const tag of want) if (!have.has(tag)) ops.push({ esp, contactId, key: `tag:${tag}`, op: 'addTag', value: tag });
  for (const tag of have) if (!want.has(tag) && mayRemove(tag, added)) ops.push({ esp, contactId, key: `tag:${tag}`, op: 'removeTag', value: tag });
  return ops;
}

/** What one contact needs on one ESP. */
export interface ContactPlan {
  esp: EspName;
  desired: DesiredState;
  ops: OutboxInput[];
  /** Segment tags the contact already carries there as a user's own tag: left alone, reported. */
  collisions: string[];
  /** The ESP archived or deleted its record (links.ts): nothing is written there until it is restored. */
  unlinked?: boolean;
}

/** The desired state and the operations for one contact on every ESP (or the given ones), read from the store. */
export function plansForContact(store: Store, mapping: SyncMapping, contactId: number, esps: readonly EspName[] = mapping.esps): ContactPlan[] {
  const contact = store.getContact(contactId);
  if (!contact) return [];
  const segments = store.getSegmentStates(contactId);
  const plans: ContactPlan[] = [];
  for (const esp of esps) {
    const m = mapping.perEsp.get(esp);
    if (!m) continue;
    const desired = desiredState(contact, segments, m);
    const state = store.getSyncState(contactId, esp);
    // The ESP archived or deleted the record (links.ts): nothing is written there until it is restored.
    if (isUnlinked(state)) {
      plans.push({ esp, desired, ops: [], unlinked: true, collisions: [] });
      continue;
    }
    const ops = [...emailOps(contact, esp, state), ...diffOps(contactId, esp, desired, state, (tag, added) => mayRemoveTag(mapping, esp, tag, added))];
    const optOut = optOutOp(
      contact,
      esp,
      state.find((s) => s.key === CONSENT_KEY),
      ops.length > 0,
    );
    if (optOut) ops.push(optOut);
    const tags = state.find((s) => s.key === TAGS_KEY);
    const held = asTags(tags?.remoteValue) ?? asTags(tags?.pushedValue) ?? [];
    const collisions = tagCollisions(mapping, esp, desired.tags, held, addedTags(state.find((s) => s.key === ADDED_TAGS_KEY)));
    plans.push({ esp, desired, ops, collisions });
  }
  return plans;
}

/**
 * The operation that writes the desired value over one that was sent but never confirmed: the ESP
 * may hold the unconfirmed value, so going back to the value segsync last knew there is a change too.
 * Undefined when the field is no longer mapped, or the tag is one segsync must not remove.
 */
function restoreOp(item: OutboxItem, desired: DesiredState, mayRemove: (tag: string) => boolean): OutboxInput | undefined {
  const base = { esp: item.esp, contactId: item.contactId, key: item.key };
  if (item.op === 'addTag' || item.op === 'removeTag') {
    const tag = String(item.value);
    if (desired.tags.includes(tag)) return { ...base, op: 'addTag', value: tag };
    return mayRemove(tag) ? { ...base, op: 'removeTag', value: tag } : undefined;
  }
  if (!desired.fields.has(item.key)) return undefined;
  const value = desired.fields.get(item.key) ?? null;
  return isEmpty(value) ? { ...base, op: 'clear' } : { ...base, op: 'set', value };
}

/** What enqueueing one contact does to its outbox: operations to add, queued ones to drop, queued ones kept. */
export interface OutboxUpdate {
  fresh: OutboxInput[];
  dropped: number[];
  kept: OutboxItem[];
}

/**
 * What the outbox of one contact must become on each ESP (or the given ones): new differences are
 * added, queued operations that are no longer needed (a value that went back to what the ESP holds)
 * are dropped, except one already sent without a recorded answer, which becomes a write of the
 * desired value since the ESP may hold what it carried. Pure over the store's reads: `enqueueForContacts`
 * applies it, and the push plan (dry run) shows exactly its result.
 */
export function outboxUpdate(store: Store, mapping: SyncMapping, contactId: number, esps: readonly EspName[] = mapping.esps): OutboxUpdate {
  const update: OutboxUpdate = { fresh: [], dropped: [], kept: [] };
  for (const { esp, desired, ops, unlinked } of plansForContact(store, mapping, contactId, esps)) {
    const wanted = new Set(ops.map((o) => o.key));
    const pending = store.pendingOutbox(esp, contactId);
    const mine = [...ops];
    for (const p of pending) {
      if (p.op === 'erase' || wanted.has(p.key)) continue;
      // An add that was sent may have put the tag there: segsync may take back what it may have added.
      const restore = p.sent && !unlinked ? restoreOp(p, desired, (tag) => mayRemoveTag(mapping, esp, tag, new Set([tag]))) : undefined;
      if (restore) mine.push(restore);
      else update.dropped.push(p.id);
    }
    // An identical queued operation stays as it is: re-queueing would reset its backoff.
    const signature = (o: { key: string; op: string; value?: FieldValue | undefined }): string =>
      `${o.key}\u0000${o.op}\u0000${JSON.stringify(o.value ?? null)}`;
    const same = new Set(pending.map(signature));
    const fresh = mine.filter((o) => !same.has(signature(o)));
    const replaced = new Set(fresh.map((o) => o.key));
    const dropped = new Set(update.dropped);
    update.fresh.push(...fresh);
    update.kept.push(...pending.filter((p) => !dropped.has(p.id) && !replaced.has(p.key)));
  }
  return update;
}

/**
 * Queues what contacts need on each ESP and drops queued operations no longer needed (`outboxUpdate`),
 * all in one transaction. Returns the operations queued.
 */
export function enqueueForContacts(
  store: Store,
  mapping: SyncMapping,
  contactIds: Iterable<number>,
  now: number,
  esps: readonly EspName[] = mapping.esps,
): { queued: number; dropped: number } {
  let queued = 0;
  let droppedCount = 0;
  store.transaction(() => {
    for (const contactId of contactIds) {
      const { fresh, dropped } = outboxUpdate(store, mapping, contactId, esps);
      if (dropped.length) store.removeOutbox(dropped);
      if (fresh.length) store.enqueue(fresh, now);
      queued += fresh.length;
      droppedCount += dropped.length;
    }
  });
  return { queued, dropped: droppedCount };
}
