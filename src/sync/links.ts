/**
 * The link between a local contact and its record on one ESP, when the ESP archives or deletes that
 * record. Archived or deleted is not erased: the contact stays locally and on the other ESPs, but the
 * link is cut, with the decision recorded, and segsync stops writing to that ESP for the contact (a
 * write would recreate or restore a record someone removed on purpose, or fail on every push). The
 * link comes back by itself when the record shows up live on the ESP again (restored there).
 */
import type { Clock } from '../model/clock';
import type { EspName } from '../model/types';
import { RECORD_KEY, UNLINKED_KEY } from '../store/store';
import type { Store, SyncFieldState } from '../store/store';

/** Sync-state key marking a contact unlinked from an ESP (defined with the store, which indexes it). */
export { UNLINKED_KEY };
/** Sync-state key holding when the ESP created the linked record (epoch ms), where the ESP says. */
export const CREATED_KEY = '@created';
/**
 * Sync-state key holding the field values the record had when it was unlinked (remote field name →
 * value), so a restore tells what it brought back from what was set at or after it.
 */
export const LEFT_KEY = '@left';
/** The `decisions` field under which link decisions are recorded. */
export const LINK_FIELD = '@link';

/** Why a contact is unlinked when a write by its record's id found no record there (outbox.ts). */
export const GONE_ON_WRITE = 'not found there';

/** How the record left the ESP. */
export type UnlinkReason = 'archived or deleted' | typeof GONE_ON_WRITE | 'merged into another record' | `merged into record ${string}`;

/** True when the contact's record on this ESP was archived or deleted there (from its sync state rows). */
export function isUnlinked(state: readonly SyncFieldState[]): boolean {
  return state.some((s) => s.key === UNLINKED_KEY && typeof s.remoteValue === 'string');
}

/**
 * Cuts the link: forgets what segsync knew of the record, drops the writes queued for it, marks the
 * contact as unlinked there and records the decision. Returns false when it was already unlinked.
 */
export function unlink(store: Store, clock: Clock, contactId: number, esp: EspName, reason: UnlinkReason, at: number, externalId: string | undefined): boolean {
  const state = store.getSyncState(contactId, esp);
  if (isUnlinked(state)) return false;
  // What the record is known by stays, so a restored record finds this contact even when the email
  // changed meanwhile: its stable key where the ESP has one, else its id.
  const recordKey = state.find((s) => s.key === RECORD_KEY)?.remoteValue ?? externalId;
  // Reserved keys (`@tags`, `@email`, …) start with @: the rest are the record's fields.
  const left = Object.fromEntries(state.filter((s) => !s.key.startsWith('@') && s.remoteValue !== undefined).map((s) => [s.key, s.remoteValue!]));
  store.clearSyncState(contactId, esp);
  // Queued writes and dead letters alike: none can succeed on a record that is gone, and left in place
  // they would fail every push and stay in `status` for good.
  const dropped = store.dropOutboxFor(esp, contactId);
  store.putSyncState([
    { contactId, esp, key: UNLINKED_KEY, remoteValue: reason, pushedValue: undefined, remoteModifiedAt: at },
    ...(typeof recordKey === 'string' ? [{ contactId, esp, key: RECORD_KEY, remoteValue: recordKey, pushedValue: undefined, remoteModifiedAt: at }] : []),
    ...(Object.keys(left).length ? [{ contactId, esp, key: LEFT_KEY, remoteValue: left, pushedValue: undefined, remoteModifiedAt: at }] : []),
  ]);
  store.recordDecision({
    contactId,
    field: LINK_FIELD,
    winner: esp,
    reason: `${esp} record ${reason}: unlinked, segsync no longer writes to ${esp} for this contact; it stays here and on the other ESPs (restore it on ${esp}, or add the person there again, to link it again)${droppedText(dropped)}`,
    at: clock.now(),
    detail: { esp, externalId: externalId ?? null, droppedQueued: dropped.queued, droppedDead: dropped.dead },
  });
  return true;
}

function droppedText(dropped: { queued: number; dead: number }): string {
  const parts = [dropped.queued ? `${dropped.queued} queued write(s)` : '', dropped.dead ? `${dropped.dead} dead-lettered write(s)` : ''].filter(Boolean);
  return parts.length ? `; dropped ${parts.join(' and ')}` : '';
}

/**
 * True when the record now under a linked id is not the record segsync linked: the ESP created it at
 * another time than the one seen there, or (creation time never seen) after everything segsync knew
 * of the linked record. Ids are only reused when an account is replaced under the store (a sandbox
 * restarted without --state, a reset portal); following such a record would rename the contact.
 */
export function isReusedId(state: readonly SyncFieldState[], createdAt: number | undefined): boolean {
  if (createdAt === undefined) return false;
  const known = state.find((s) => s.key === CREATED_KEY)?.remoteValue;
  if (typeof known === 'number') return known !== createdAt;
  const seen = state.flatMap((s) => (s.remoteModifiedAt === undefined ? [] : [s.remoteModifiedAt]));
  return seen.length > 0 && createdAt > Math.max(...seen);
}

/**
 * Drops the link of a contact whose id on the ESP now names another record: forgets the id and what
 * segsync knew there, records the decision. Its queued writes stay: they go by email, so the next push
 * finds or creates its record in the account as it is now.
 */
export function dropReusedLink(store: Store, clock: Clock, contactId: number, esp: EspName, externalId: string, createdAt: number): void {
  store.clearSyncState(contactId, esp);
  store.recordDecision({
    contactId,
    field: LINK_FIELD,
    winner: 'local',
    reason: `${esp} id ${externalId} now names another record (created ${new Date(createdAt).toISOString()}), not the one segsync linked (the account was replaced or reset): link dropped, not followed as an email change; this contact is matched by email again`,
    at: clock.now(),
    detail: { esp, externalId, createdAt },
  });
}

/** Links the contact again after its record showed up live on the ESP; records the decision. */
export function relink(store: Store, clock: Clock, contactId: number, esp: EspName, at: number): void {
  store.putSyncState([
    { contactId, esp, key: UNLINKED_KEY, remoteValue: null, pushedValue: undefined, remoteModifiedAt: at },
    { contactId, esp, key: LEFT_KEY, remoteValue: null, pushedValue: undefined, remoteModifiedAt: at },
  ]);
  store.recordDecision({
    contactId,
    field: LINK_FIELD,
    winner: esp,
    reason: `${esp} record is live again (restored there): linked, segsync writes to ${esp} again`,
    at: clock.now(),
    detail: { esp },
  });
}
