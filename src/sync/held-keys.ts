/**
 * Which keys of a contact a read of an ESP must leave as the pushes recorded them. A pull or a
 * reconcile reads an ESP over many calls (pages, a Mailchimp tag's member list) while pushes go on, in
 * this process or another one on the same store. A value read before a push reached the vendor and
 * applied after the push's answer was recorded puts back what the ESP no longer holds; for a segment
 * tag nothing ever corrects that belief, since the contact's next flip is diffed against it and sends
 * nothing. So a read leaves the keys a push answered for after the read began (`pushedAt`), and those
 * of operations sent and not yet answered (in flight, or lost with a crash and sent again later). An
 * answer recorded in the very millisecond the read began came back before the read's first call went
 * out, so the read saw it.
 * Both are in the store, so the rule holds across processes.
 */
import type { EspName } from '../model/types';
import type { OutboxItem, Store, SyncFieldState } from '../store/store';
import { TAGS_KEY } from './inbound';

/** The sync-state key an outbox operation's answer writes. */
function stateKeyOf(item: OutboxItem): string {
  return item.op === 'addTag' || item.op === 'removeTag' ? TAGS_KEY : item.key;
}

/**
 * The keys of one contact that a read of `esp` begun at `readSince` (local clock) must leave as they
 * are, given the contact's sync-state rows there (read by the caller). Undefined when there are none.
 */
export function heldKeys(store: Store, esp: EspName, contactId: number, rows: readonly SyncFieldState[], readSince: number): Set<string> | undefined {
  let held: Set<string> | undefined;
  for (const r of rows) if (r.pushedAt !== undefined && r.pushedAt > readSince) (held ??= new Set()).add(r.key);
  for (const item of store.pendingOutbox(esp, contactId)) if (item.sent) (held ??= new Set()).add(stateKeyOf(item));
  return held;
}
