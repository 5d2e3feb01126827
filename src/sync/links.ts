/**
 * The link between a local contact and its record on one ESP, when the ESP archives or deletes that
 * record. Archived or deleted is not erased: the contact stays locally and on the other ESPs, but the
 * link is cut, with the decision recorded, and segsync stops writing to that ESP for the contact (a
 * write would recreate or restore a record someone removed on purpose, or fail on every push). The
 * link comes back by itself when the record shows up live on the ESP again (restored there).
 */
import type { Clock } from '../model/clock';
import type { EspName } from '../model/types';
import type { Store, SyncFieldState } from '../store/store';

/** Sync-state key marking a contact whose record on the ESP was archived or deleted there. */
export const UNLINKED_KEY = '@unlinked';
/** The `decisions` field under which link decisions are recorded. */
export const LINK_FIELD = '@link';

/** How the record left the ESP. */
export type UnlinkReason = 'archived or deleted' | 'merged into another record';

/** True when the contact's record on this ESP was archived or deleted there (from its sync state rows). */
export function isUnlinked(state: readonly SyncFieldState[]): boolean {
  return state.some((s) => s.key === UNLINKED_KEY && typeof s.remoteValue === 'string');
}

/**
 * Cuts the link: forgets what segsync knew of the record, drops the writes queued for it, marks the
 * contact as unlinked there and records the decision. Returns false when it was already unlinked.
 */
export function unlink(store: Store, clock: Clock, contactId: number, esp: EspName, reason: UnlinkReason, at: number, externalId: string | undefined): boolean {
  if (isUnlinked(store.getSyncState(contactId, esp))) return false;
  store.clearSyncState(contactId, esp);
  store.removeOutbox(store.pendingOutbox(esp, contactId).filter((p) => p.op !== 'erase').map((p) => p.id));
  store.putSyncState([{ contactId, esp, key: UNLINKED_KEY, remoteValue: reason, pushedValue: undefined, remoteModifiedAt: at }]);
  store.recordDecision({
    contactId,
    field: LINK_FIELD,
    winner: esp,
    reason: `${esp} record ${reason}: unlinked, segsync no longer writes to ${esp} for this contact; it stays here and on the other ESPs (restore it on ${esp} to link it again)`,
    at: clock.now(),
    detail: { esp, externalId: externalId ?? null },
  });
  return true;
}

/** Links the contact again after its record showed up live on the ESP; records the decision. */
export function relink(store: Store, clock: Clock, contactId: number, esp: EspName, at: number): void {
  store.putSyncState([{ contactId, esp, key: UNLINKED_KEY, remoteValue: null, pushedValue: undefined, remoteModifiedAt: at }]);
  store.recordDecision({ contactId, field: LINK_FIELD, winner: esp, reason: `${esp} record is live again (restored there): linked, segsync writes to ${esp} again`, at: clock.now(), detail: { esp } });
}
