/**
 * Turns an incoming event into the row every store keeps. Apart from the store so an import worker
 * can prepare rows without loading SQLite.
 */
import { ValidationError } from '../errors';
import { deriveEventId, normaliseEmail } from '../model/identity';
import type { IncomingEvent } from '../model/types';
import type { EventRow } from './store';

/** Validates an incoming event and prepares it for storage. */
export function toEventRow(e: IncomingEvent): EventRow {
  if (!e.name) throw new ValidationError('event without a name', { hint: 'every event needs "name" (e.g. "Placed Order")' });
  if (!Number.isFinite(e.time)) throw new ValidationError(`event "${e.name}" has no valid time`, { hint: 'give "time" as ISO 8601 or epoch milliseconds' });
  const email = normaliseEmail(e.email);
  return {
    eventId: e.eventId ?? deriveEventId(email, e.name, e.time, e.properties),
    email,
    name: e.name,
    time: e.time,
    propertiesJson: JSON.stringify(e.properties),
    source: e.source,
  };
}
