/**
 * The safety valve: before an ESP's queued operations are sent, count how many would take an owned
 * tag off, or clear or change an owned field on, contacts that carry it there. When that is more than
 * the configured share of the carriers (and at least the floor), the push stops with the plan: a
 * fresh store, a broken rule or an emptied import must not wipe a production list unnoticed.
 */
import type { SafetyConfig } from '../config/schema';
import { SafetyValveError } from '../errors';
import type { EspName, FieldValue } from '../model/types';
import type { Store } from '../store/store';
import { TAGS_KEY } from './inbound';
import { asTags, isEmpty, sameValue } from './values';

/** One owned tag or field a push would strip from many of its carriers. */
export interface Destructive {
  esp: EspName;
  /** `tag:<name>` or the ESP field name. */
  key: string;
  /** Contacts that would lose the tag or whose value would be cleared or changed. */
  affected: number;
  /** Contacts known to carry the tag or a value on the ESP. */
  carriers: number;
}

/** Store cursor kind that holds why the valve stopped an ESP's queue ('' once it runs again). */
const STOPPED_CURSOR = 'safety-stop';

/** Why the safety valve stopped an ESP's queue, if it did (the daemon, `status` and `/readyz` read it). */
export function safetyStop(store: Store, esp: EspName): string | undefined {
  return store.getCursor(esp, STOPPED_CURSOR) || undefined;
}

/** Records (or, with '', lifts) an ESP's safety stop. */
export function setSafetyStop(store: Store, esp: EspName, reason: string): void {
  store.setCursor(esp, STOPPED_CURSOR, reason);
}

/**
 * The tags and fields a push of the ESP's queue would strip from more than the allowed share. The
 * store counts the candidates (each drain asks, so the queue is never read whole); only a tag or field
 * with at least `minContacts` of them is looked at closer, against what the ESP is known to hold.
 */
export function destructiveChanges(store: Store, esp: EspName, safety: SafetyConfig): Destructive[] {
  const counts = store.outboxStripCounts(esp, safety.fields, safety.minContacts);
  const tooMany = (affected: number, carriers: number): boolean => affected >= safety.minContacts && affected > safety.maxShare * carriers;
  const found: Destructive[] = [];
  if (counts.tags.size) {
    const carriers = new Map<string, number>();
    for (const s of store.syncStatesByKey(esp, TAGS_KEY)) {
      for (const t of asTags(s.remoteValue) ?? asTags(s.pushedValue) ?? []) carriers.set(t, (carriers.get(t) ?? 0) + 1);
    }
    for (const [tag, affected] of counts.tags) {
      const c = Math.max(carriers.get(tag) ?? 0, affected);
      if (tooMany(affected, c)) found.push({ esp, key: `tag:${tag}`, affected, carriers: c });
    }
  }
  for (const key of counts.fields.keys()) {
    const held = new Map<number, FieldValue | undefined>();
    for (const s of store.syncStatesByKey(esp, key)) held.set(s.contactId, s.remoteValue !== undefined ? s.remoteValue : s.pushedValue);
    const carriers = [...held.values()].filter((v) => !isEmpty(v)).length;
    const affected = store.outboxFieldWrites(esp, key, safety.fields).filter((w) => {
      const h = held.get(w.contactId);
      if (isEmpty(h) || (w.op === 'set' && sameValue(w.value, h))) return false;
      return w.op === 'clear' || safety.fields === 'changes' || isReset(w.value);
    }).length;
    if (tooMany(affected, carriers)) found.push({ esp, key, affected, carriers });
  }
  return found;
}

/** An empty or zero value: what a store that lost its data writes over real ones. */
function isReset(value: FieldValue | undefined): boolean {
  return isEmpty(value) || value === 0 || value === false || value === '0' || value === 'false';
}

/** The valve's refusal, naming each tag and field and how to go on. */
export function valveError(esp: EspName, found: Destructive[], safety: SafetyConfig): SafetyValveError {
  const what = found
    .map(
      (d) =>
        `${d.key.startsWith('tag:') ? `remove tag ${d.key.slice(4)} from` : `clear or change ${d.key} on`} ${d.affected} of the ${d.carriers} contacts that carry it`,
    )
    .join('; ');
  return new SafetyValveError(`${esp}: push stopped: it would ${what} (more than ${Math.round(safety.maxShare * 100)} %)`, {
    hint: 'check `segsync push --dry-run` (a fresh store, a changed rule or an emptied import?); if it is intended, run `segsync push --force`',
  });
}
