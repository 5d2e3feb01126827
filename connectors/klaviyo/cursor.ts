/**
 * Pull cursors: versioned JSON so a stored cursor from an older segsync is recognised or rejected
 * by name. Klaviyo's `updated` filter only has `greater-than`, so a cursor keeps the last timestamp
 * and the records already seen at it; the next pull asks for `> timestamp − 1 ms` and skips those.
 */
import { z } from 'zod';
import type { Cursor } from '../connector';
import { declareCursor } from '../cursor';

const timeCursorSchema = z.object({
  /** ISO time of the newest record applied. */
  at: z.string(),
  /** The records at exactly `at` that were applied (event ids; profile `id:digest` keys). */
  ids: z.array(z.string()),
});
export type TimeCursor = z.infer<typeof timeCursorSchema>;

const profileCursorSchema = z.object({ v: z.literal(1), kind: z.literal('klaviyo-profiles'), position: timeCursorSchema });
export type ProfileCursor = z.infer<typeof profileCursorSchema>;

/** Per metric id. */
const eventCursorSchema = z.object({ v: z.literal(1), kind: z.literal('klaviyo-events'), metrics: z.record(z.string(), timeCursorSchema) });
export type EventCursor = z.infer<typeof eventCursorSchema>;

const profiles = declareCursor('klaviyo', 'profiles', profileCursorSchema);
const events = declareCursor('klaviyo', 'events', eventCursorSchema);

export function decodeProfileCursor(cursor: Cursor | undefined): ProfileCursor | undefined {
  return profiles.decode(cursor);
}

export function decodeEventCursor(cursor: Cursor | undefined): EventCursor | undefined {
  return events.decode(cursor);
}

export function encodeCursor(cursor: ProfileCursor | EventCursor): Cursor {
  return cursor.kind === 'klaviyo-profiles' ? profiles.encode(cursor) : events.encode(cursor);
}

/**
 * Moves a time cursor past a record seen at `at` with `id` (records arrive sorted by time). A profile
 * key (`id:digest`) replaces that profile's earlier key: only the version applied last counts as seen,
 * so a profile that goes back to an earlier version within the same second (A → B → A) comes again.
 */
export function advance(position: TimeCursor | undefined, at: string, id: string): TimeCursor {
  if (position && Date.parse(position.at) === Date.parse(at)) {
    const colon = id.indexOf(':');
    const others = colon < 0 ? position.ids : position.ids.filter((k) => !k.startsWith(id.slice(0, colon + 1)));
    return { at: position.at, ids: [...others, id] };
  }
  if (position && Date.parse(position.at) > Date.parse(at)) return position;
  return { at, ids: [id] };
}

/** The lower bound to ask for: 1 ms before the cursor's time, so records sharing it come again. */
export function lowerBound(position: TimeCursor): string {
  return new Date(Date.parse(position.at) - 1).toISOString();
}
