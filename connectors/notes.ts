/**
 * Connector notes (see `ConnectorNotes`) kept in memory: for a connector used without a store (tests,
 * a library user), where they last as long as the process. The sync engine gives connectors the
 * store's notes instead (src/sync/connector-notes.ts).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../src/model/clock';
import { normaliseEmail } from '../src/model/identity';
import type { ConnectorNotes } from './connector';

/** Notes in this process's memory, expiring by `clock`. */
export function memoryNotes(clock: Clock): ConnectorNotes {
  const kinds = new Map<string, Map<string, { value: string; expiresAt: number }>>();
  const of = (kind: string): Map<string, { value: string; expiresAt: number }> => {
    let m = kinds.get(kind);
    if (!m) kinds.set(kind, (m = new Map()));
    return m;
  };
  return {
    get(kind, keys) {
      const now = clock.now();
      const m = of(kind);
      const out = new Map<string, string>();
      for (const key of keys ?? [...m.keys()]) {
        const n = m.get(key);
        if (!n) continue;
        if (n.expiresAt > now) out.set(key, n.value);
        else m.delete(key);
      }
      return out;
    },
    put(kind, entries, expiresAt) {
      const m = of(kind);
      for (const [key, value] of entries) m.set(key, { value, expiresAt });
    },
    drop(kind, keys) {
      const m = of(kind);
      for (const key of keys) m.delete(key);
    },
  };
}

/** A key for a note about an email that does not name the person (notes outlive an erase). */
export function noteKeyOfEmail(email: string): string {
  return createHash('sha256').update(normaliseEmail(email)).digest('base64url');
}
