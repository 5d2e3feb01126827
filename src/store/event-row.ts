/**
 * Turns an incoming event into the row every store keeps. Apart from the store so an import worker
 * can prepare rows without loading SQLite.
 */
import { ValidationError } from '../errors';
import { deriveEventId, normaliseEmail } from '../model/identity';
import { serializeWithinLimits } from '../model/limits';
import type { IncomingEvent } from '../model/types';
import type { EventRow } from './store';

/**
 * Validates an incoming event and prepares it for storage. The properties are serialised (within the
 * size and nesting limits) before anything else walks them, so a poison value is refused here, item
 * by item, and never reaches a transaction.
 */
export function toEventRow(e: IncomingEvent): EventRow {
  if (!e.name) throw new ValidationError('event without a name', { hint: 'every event needs "name" (e.g. "Placed Order")' });
  if (!Number.isFinite(e.time)) throw new ValidationError(`event "${e.name}" has no valid time`, { hint: 'give "time" as ISO 8601 or epoch milliseconds' });
  const propertiesJson = serializeWithinLimits(e.properties, 'properties');
  const email = normaliseEmail(e.email);
  return {
    eventId: e.eventId ?? deriveEventId(email, e.name, e.time, e.properties),
    email,
    name: e.name,
    time: e.time,
    propertiesJson,
    source: e.source,
    ...(e.timeFromReceipt ? { timeFromReceipt: true } : {}),
  };
}
