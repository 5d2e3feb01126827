/**
 * Turns one raw import or track record into an event or a contact change, or says exactly what is
 * wrong with it. Field names follow the Segment spec where one exists (event, timestamp, messageId).
 */
import { z } from 'zod';
import { ValidationError } from '../errors';
import { requireEmail, reservedEventIdProblem } from '../model/identity';
import { serializeWithinLimits } from '../model/limits';
import { parseTime } from '../model/time';
import { CONSENT_STATUSES } from '../model/types';
import type { FieldValue, IncomingContact, IncomingEvent, ValueSource } from '../model/types';

/** Reads a timestamp given as ISO 8601 text (with a zone) or epoch milliseconds; see model/time.ts. */
export { parseTime } from '../model/time';

// Records come from JSON (JSONL lines, HTTP bodies) or CSV cells, so every nested value is already a
// JSON value: checking that properties is an object is enough, and walking it again would halve import speed.
const jsonObject = z.record(z.string(), z.unknown()).transform((o) => o as Record<string, FieldValue>);

const eventRecord = z.object({
  email: z.string().optional(),
  name: z.string().min(1).optional(),
  event: z.string().min(1).optional(),
  time: z.union([z.string(), z.number()]).optional(),
  timestamp: z.union([z.string(), z.number()]).optional(),
  id: z.string().min(1).optional(),
  eventId: z.string().min(1).optional(),
  messageId: z.string().min(1).optional(),
  properties: jsonObject.optional(),
  traits: jsonObject.optional(),
  context: z.object({ traits: jsonObject.optional() }).loose().optional(),
}).loose();

type EventRecord = z.infer<typeof eventRecord>;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const optionalName = (v: unknown): boolean => v === undefined || (typeof v === 'string' && v !== '');
const optionalTime = (v: unknown): boolean => v === undefined || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

/**
 * The common event shape (email, name or event, time or timestamp, an id, plain-object properties),
 * checked by hand, or undefined for anything else. Every record it accepts, `eventRecord` accepts as
 * the same values (a test holds it to that); it spares an import zod's copy of every record and walk of
 * every property, a tenth of the import's parse time. Anything unusual still goes to zod, which
 * also writes the error messages.
 */
export function commonEventShape(raw: unknown): EventRecord | undefined {
  if (!isPlainObject(raw)) return undefined;
  const r = raw as Record<keyof EventRecord, unknown>;
  const ok =
    optionalString(r.email) &&
    optionalName(r.name) &&
    optionalName(r.event) &&
    optionalTime(r.time) &&
    optionalTime(r.timestamp) &&
    optionalName(r.id) &&
    optionalName(r.eventId) &&
    optionalName(r.messageId) &&
    (r.properties === undefined || isPlainObject(r.properties)) &&
    r.traits === undefined &&
    r.context === undefined;
  return ok ? (raw as EventRecord) : undefined;
}

/** Validates an event record with zod: the authority on what is accepted, and the error messages. */
export function parseEventRecord(raw: unknown): EventRecord {
  const parsed = eventRecord.safeParse(raw);
  if (!parsed.success) throw new ValidationError(zodMessage(parsed.error), { hint: 'an event is {"email", "name", "time", "properties"}' });
  return parsed.data;
}

/** Validates one event record (import line or track call body); `now` bounds its time. */
export function toIncomingEvent(raw: unknown, source: IncomingEvent['source'], now: number = Date.now()): IncomingEvent {
  const r = commonEventShape(raw) ?? parseEventRecord(raw);
  const email = r.email ?? (typeof r.context?.traits?.email === 'string' ? r.context.traits.email : undefined);
  const name = r.name ?? r.event;
  if (!name) throw new ValidationError('missing event name', { hint: 'add "name" (or Segment\'s "event"), e.g. "Placed Order"' });
  const eventId = r.eventId ?? r.id ?? r.messageId;
  const reserved = eventId === undefined ? undefined : reservedEventIdProblem(eventId);
  if (reserved) throw new ValidationError(reserved.message, { hint: reserved.hint });
  return {
    email: requireEmail(email),
    name,
    time: parseTime(r.time ?? r.timestamp, r.time !== undefined ? 'time' : 'timestamp', now),
    properties: r.properties ?? {},
    source,
    ...(eventId ? { eventId } : {}),
  };
}

const consent = z.enum(CONSENT_STATUSES);
const contactRecord = z.object({
  email: z.string().optional(),
  properties: jsonObject.optional(),
  traits: jsonObject.optional(),
  tags: z.union([z.array(z.string()), z.string()]).optional(),
  consent: consent.optional(),
  time: z.union([z.string(), z.number()]).optional(),
}).loose();

const RESERVED_CONTACT_KEYS = new Set(['email', 'properties', 'traits', 'tags', 'consent', 'time', 'userId', 'type']);

/** Validates one contact record; keys besides the reserved ones are properties. */
export function toIncomingContact(raw: unknown, source: ValueSource, now: number): IncomingContact {
  const parsed = contactRecord.safeParse(raw);
  if (!parsed.success) throw new ValidationError(zodMessage(parsed.error), { hint: 'a contact is {"email", "properties", "tags", "consent"}' });
  const r = parsed.data;
  const properties: Record<string, FieldValue> = { ...(r.traits ?? {}), ...(r.properties ?? {}) };
  for (const [k, v] of Object.entries(r)) {
    if (!RESERVED_CONTACT_KEYS.has(k) && v !== undefined) properties[k] = v as FieldValue;
  }
  delete properties.email;
  serializeWithinLimits(properties, 'traits');
  const email = r.email ?? (typeof r.traits?.email === 'string' ? r.traits.email : undefined);
  const tags = typeof r.tags === 'string' ? r.tags.split(/[;,]/).map((t) => t.trim()).filter(Boolean) : r.tags;
  return {
    email: requireEmail(email),
    properties,
    source,
    time: r.time === undefined ? now : parseTime(r.time, 'time', now),
    ...(tags ? { tags } : {}),
    ...(r.consent ? { consent: r.consent } : {}),
  };
}

function zodMessage(err: z.ZodError): string {
  const i = err.issues[0];
  if (!i) return 'invalid record';
  const path = i.path.length ? `"${i.path.join('.')}": ` : '';
  return `${path}${i.message}`;
}
