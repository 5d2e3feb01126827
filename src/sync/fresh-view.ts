/**
 * A field write replaces the value on the ESP. Where the ESP's own edit of that field could win
 * (`conflict: latest`, or the ESP owns the field), writing over an edit made there that segsync has
 * not pulled yet loses it for good: the next pull reads back segsync's value. The window is the time
 * from the later of the local change and the last pull's start to the write: small for a change pushed
 * at once, hours for a change imported while the daemon was down, or queued behind a rate limit, or
 * pushed by a later `segsync push`. So before a batch carries such a write whose local change is older
 * than `FRESH_MS`, the ESP must have been pulled by a pull begun within `FRESH_MS` (it is pulled first
 * otherwise): the window is then at most `FRESH_MS`, plus the pull's own length.
 */
import type { Contact, EspName } from '../model/types';
import type { OutboxItem, Store } from '../store/store';
import type { SyncMapping } from './mapping';

/** The longest a field write an ESP could win goes out after what segsync last pulled from it. */
export const FRESH_MS = 60_000;

/** Store cursor kind: the start of an ESP's last pull that ended well, epoch ms as text. */
const PULL_BEGAN = 'pull-began';

/** Records that a pull of `esp` begun at `at` ended well: everything changed there before `at` has been seen. */
export function recordPullBegan(store: Store, esp: EspName, at: number): void {
  store.setCursor(esp, PULL_BEGAN, String(at));
}

/** When the last pull of `esp` that ended well began, if the store knows. */
export function lastPullBegan(store: Store, esp: EspName): number | undefined {
  const raw = store.getCursor(esp, PULL_BEGAN);
  const at = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(at) ? at : undefined;
}

type Write = Pick<OutboxItem, 'op' | 'key' | 'contactId'>;

/**
 * Which of these operations, about to go to `esp` at `now`, need a pull of it first: writes of a field
 * the ESP's edit could win, changed locally more than `FRESH_MS` ago (or at an unknown time), while no
 * pull begun within `FRESH_MS` ended well. Empty when none do.
 */
export function writesNeedingFreshView<T extends Write>(store: Store, mapping: SyncMapping, esp: EspName, items: readonly T[], now: number): T[] {
  const stale = staleWrite(store, mapping, esp, now);
  return stale ? items.filter(stale) : [];
}

/** Whether any of these operations needs a pull of `esp` first (`writesNeedingFreshView`, stopping at the first). */
export function needsFreshView(store: Store, mapping: SyncMapping, esp: EspName, items: readonly Write[], now: number): boolean {
  const stale = staleWrite(store, mapping, esp, now);
  return stale !== undefined && items.some(stale);
}

/** The test of one operation, or undefined when a pull begun within `FRESH_MS` ended well (or nothing can need one). */
function staleWrite(store: Store, mapping: SyncMapping, esp: EspName, now: number): ((item: Write) => boolean) | undefined {
  const began = lastPullBegan(store, esp);
  if (began !== undefined && began >= now - FRESH_MS) return undefined;
  const links = mapping.perEsp.get(esp)?.byRemote;
  if (!links) return undefined;
  const contacts = new Map<number, Contact | undefined>();
  return (item) => {
    if (item.op !== 'set' && item.op !== 'clear') return false;
    const link = links.get(item.key);
    if (!link?.in || (link.field.conflict !== 'latest' && link.field.owner !== esp)) return false;
    if (!contacts.has(item.contactId)) contacts.set(item.contactId, store.getContact(item.contactId));
    const changedAt = contacts.get(item.contactId)?.properties[link.local]?.updatedAt;
    return changedAt === undefined || changedAt < now - FRESH_MS;
  };
}
