/** Where a HubSpot pull resumes, declared (see ../cursor.ts). */
import { z } from 'zod';
import { declareCursor } from '../cursor';

export const pullCursorSchema = z.discriminatedUnion('mode', [
  /** First run: full scan, resuming at `after`; `until` is the scan's fixed start. */
  z.object({ v: z.literal(1), mode: z.literal('scan'), after: z.string().optional(), until: z.number() }),
  /**
   * Incremental: contacts modified at or after `t` (after `t` when `strict`), except `skip`: the
   * versions (`id:digest`, see `seenKey`) at `t` already delivered. A record edited again is a new
   * version, so it is never skipped, whether its new modification time is later or the same.
   */
  z.object({ v: z.literal(1), mode: z.literal('time'), t: z.number(), strict: z.boolean().optional(), skip: z.array(z.string()).optional() }),
  /** Contacts modified exactly at `t` with an id above `id`, then onwards after `t`. */
  z.object({ v: z.literal(1), mode: z.literal('tie'), t: z.number(), id: z.string() }),
]);

export type PullCursor = z.infer<typeof pullCursorSchema>;

export const hubspotContactsCursor = declareCursor('hubspot', 'contacts', pullCursorSchema);
