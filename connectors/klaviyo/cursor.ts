/**
 * Pull cursors: versioned JSON so a stored cursor from an older segsync is recognised or rejected
 * by name. Klaviyo's `updated` filter only has `greater-than`, so a cursor keeps the last timestamp
 * and the records already seen at it; the next pull asks for `> timestamp − 1 ms` and skips those.
 */
import { ValidationError } from '../../src/errors';
import type { Cursor } from '../connector';

export interface TimeCursor {
  /** ISO time of the newest record applied. */
  at: string;
  /** The records at exactly `at` that were applied (event ids; profile `id:digest` keys). */
  ids: string[];
}

export interface ProfileCursor {
  v: 1;
  kind: 'klaviyo-profiles';
  position: TimeCursor;
}

export interface EventCursor {
  v: 1;
  kind: 'klaviyo-events';
  /** Per metric id. */
  metrics: Record<string, TimeCursor>;
}

function decode<T extends { v: number; kind: string }>(cursor: Cursor | undefined, kind: T['kind']): T | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(cursor);
  } catch (e) {
    throw new ValidationError(`klaviyo: stored ${kind} cursor is not JSON`, { cause: e, hint: 'reset the Klaviyo pull cursor (a full pull follows)' });
  }
  const c = parsed as Partial<T>;
  if (c.v !== 1 || c.kind !== kind) {
    throw new ValidationError(`klaviyo: stored cursor is not a version-1 ${kind} cursor`, { hint: 'reset the Klaviyo pull cursor (a full pull follows)' });
  }
  return c as T;
}

export function decodeProfileCursor(cursor: Cursor | undefined): ProfileCursor | undefined {
  return decode<ProfileCursor>(cursor, 'klaviyo-profiles');
}

export function decodeEventCursor(cursor: Cursor | undefined): EventCursor | undefined {
  return decode<EventCursor>(cursor, 'klaviyo-events');
}

export function encodeCursor(cursor: ProfileCursor | EventCursor): Cursor {
  return JSON.stringify(cursor);
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
