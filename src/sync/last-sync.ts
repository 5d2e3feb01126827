/**
 * When each ESP was last pulled from and pushed to, and how that went, for `segsync status`. Kept in
 * the store beside the pull cursors (one row per ESP and kind), written by the sync engine whoever runs
 * it (a CLI command or the daemon).
 */
import { z } from 'zod';
import type { EspName } from '../model/types';
import type { Store } from '../store/store';

const LAST_PULL = 'last-pull';
const LAST_PUSH = 'last-push';

const outcomeSchema = z.object({
  /** When the run ended, epoch ms. */
  at: z.number(),
  ok: z.boolean(),
  /** Contacts read (pull) or updated (push). */
  contacts: z.number(),
  /** HTTP requests sent (push). */
  calls: z.number().optional(),
  /** Operations that failed for good (push). */
  failed: z.number().optional(),
  /** Why the run stopped, when it did. */
  error: z.string().optional(),
});

/** One pull or push run, as status shows it. */
export type SyncOutcome = z.infer<typeof outcomeSchema>;

export interface LastSync {
  pull?: SyncOutcome;
  push?: SyncOutcome;
}

/** Records the end of a pull run. */
export function recordPull(store: Store, esp: EspName, outcome: SyncOutcome): void {
  store.setCursor(esp, LAST_PULL, JSON.stringify(outcome));
}

/** Records the end of a push round that sent something. */
export function recordPush(store: Store, esp: EspName, outcome: SyncOutcome): void {
  store.setCursor(esp, LAST_PUSH, JSON.stringify(outcome));
}

/** The last pull and push of an ESP, as far as the store knows (a record it cannot read counts as none). */
export function lastSync(store: Store, esp: EspName): LastSync {
  const read = (kind: string): SyncOutcome | undefined => {
    const raw = store.getCursor(esp, kind);
    if (raw === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined;
    }
    const parsed = outcomeSchema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
  const pull = read(LAST_PULL);
  const push = read(LAST_PUSH);
  return { ...(pull ? { pull } : {}), ...(push ? { push } : {}) };
}
