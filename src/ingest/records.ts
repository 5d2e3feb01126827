/**
 * Turns one raw import or track record into an event or a contact change, or says exactly what is
 * wrong with it. Field names follow the Segment spec where one exists (event, timestamp, messageId).
 */
import { z } from 'zod';
import { fitProperties } from '../config/field-values';
import type { FieldShape } from '../config/field-values';
import { ValidationError } from '../errors';
import { requireEmail, reservedEventIdProblem } from '../model/identity';
import { readConsent } from '../model/consent';
import { serializeWithinLimits } from '../model/limits';
import { parseTime } from '../model/time';
import { CONSENT_STATUSES } from '../model/types';
import type { FieldValue, FieldWarning, IncomingContact, IncomingEvent, ValueSource } from '../model/types';

/** Reads a timestamp given as ISO 8601 text (with a zone) or epoch milliseconds; see model/time.ts. */
export { parseTime } from '../model/time';

// Records come from JSON (JSONL lines, HTTP bodies) or CSV cells, so every nested value is already a
// JSON value: checking that properties is an object is enough, and walking it again would halve import speed.
const jsonObject = z.record(z.string(), z.unknown()).transform((o) => o as Record<string, FieldValue>);

const eventRecord = z
  .object({
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
  })
  .loose();

type EventRecord = z.infer<typeof eventRecord>;

/** Segment's envelope keys: never properties of a contact or an event (everything else in a call can be). */
export const SEGMENT_ENVELOPE_KEYS = [
  'type',
  'userId',
  'anonymousId',
  'previousId',
  'groupId',
  'messageId',
  'timestamp',
  'sentAt',
  'receivedAt',
  'originalTimestamp',
  'context',
  'integrations',
  'writeKey',
  'channel',
  'version',
  '_metadata',
  'event',
  'request_ip',
  'rudderId',
];

/** An event record's own keys and the envelope's: the rest of a flat record are its properties. */
const EVENT_KEYS = new Set([...Object.keys(eventRecord.shape), ...SEGMENT_ENVELOPE_KEYS]);

/**
 * The properties of an imported event given flat, without a `properties` object (`{"email", "name",
 * "time", "value": 42}`): its other keys, as a contact record's are. Undefined when it has none.
 */
function flatProperties(r: Record<string, unknown>): Record<string, FieldValue> | undefined {
  let out: Record<string, FieldValue> | undefined;
  for (const [k, v] of Object.entries(r)) if (!EVENT_KEYS.has(k) && v !== undefined) (out ??= {})[k] = v as FieldValue;
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
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
    // Named as given; when neither is, as segsync's own field ("time"), which the hint explains.
    time: parseTime(r.time ?? r.timestamp, r.time === undefined && r.timestamp !== undefined ? 'timestamp' : 'time', now),
    // Only an import's records: a track call's are Segment's, whose other keys are not properties.
    properties: r.properties ?? (source === 'import' ? flatProperties(r) : undefined) ?? {},
    source,
    ...(eventId ? { eventId } : {}),
  };
}

const contactObject = z.record(z.string(), z.unknown());

/** The keys that give a contact's creation time: ours and Segment's reserved trait. */
const CREATED_KEYS = ['created_at', 'createdAt'];

const RESERVED_CONTACT_KEYS = new Set(['email', 'properties', 'traits', 'tags', 'consent', 'time', 'userId', 'type', ...CREATED_KEYS]);

/**
 * Validates one contact record; keys besides the reserved ones are properties. Only a missing or
 * invalid email refuses the record: any other field that is not understood (an unknown consent
 * state, tags that are not text, a creation time that is not a date, a value that does not fit the
 * type `fields` declares for it) is left out with a warning naming it, and the rest is kept.
 */
export function toIncomingContact(raw: unknown, source: ValueSource, now: number, fields?: Readonly<Record<string, FieldShape>>): IncomingContact {
  const { email, ...change } = toContactChange(raw, source, now, fields);
  return { email: requireEmail(email), ...change };
}

/** A contact change that may come without an email (a Segment identify by userId or anonymousId): as `toIncomingContact`, the email unchecked. */
export function toContactChange(
  raw: unknown,
  source: ValueSource,
  now: number,
  fields?: Readonly<Record<string, FieldShape>>,
): Omit<IncomingContact, 'email'> & { email: unknown } {
  const parsed = contactObject.safeParse(raw);
  if (!parsed.success || Array.isArray(raw))
    throw new ValidationError('a contact record must be a JSON object', { hint: 'a contact is {"email", "properties", "tags", "consent"}' });
  const r = parsed.data;
  const warnings: FieldWarning[] = [];
  const objectField = (key: string): Record<string, FieldValue> => {
    const v = r[key];
    if (v === undefined || v === null) return {};
    if (isPlainObject(v)) return v as Record<string, FieldValue>;
    warnings.push({ field: key, message: `"${key}" is not an object: left out`, hint: `give "${key}" as {"name": value, …}` });
    return {};
  };
  const traits = objectField('traits');
  let properties: Record<string, FieldValue> = { ...traits, ...objectField('properties') };
  for (const [k, v] of Object.entries(r)) {
    if (!RESERVED_CONTACT_KEYS.has(k) && v !== undefined) properties[k] = v as FieldValue;
  }
  delete properties.email;
  serializeWithinLimits(properties, 'traits');
  if (fields) {
    const fit = fitProperties(fields, properties);
    properties = fit.properties;
    for (const p of fit.problems) warnings.push({ field: p.field, message: `${p.problem}: left out`, hint: p.hint });
  }
  const email = typeof r.email === 'string' ? r.email : typeof traits.email === 'string' ? traits.email : undefined;
  const createdAt = creationTime(r, properties, warnings);
  const tags = tagsOf(r.tags, warnings);
  const consent = readConsent(r.consent);
  if (!consent.status && consent.problem) {
    warnings.push({
      field: 'consent',
      message: `${consent.problem}: the contact was kept and its consent left unchanged`,
      hint: `use one of ${CONSENT_STATUSES.join(', ')}, or an ESP's word for one (bounced → cleaned, complained → unsubscribed, …; the table is in docs/rules.md)`,
    });
  }
  let time = now;
  let dated = false;
  if (r.time !== undefined) {
    try {
      time = parseTime(r.time, 'time', now);
      dated = true;
    } catch (err) {
      warnings.push({
        field: 'time',
        message: `${(err as ValidationError).message}: the change is dated now`,
        hint: 'use ISO 8601, e.g. 2026-05-01T12:00:00Z',
      });
    }
  }
  return {
    email,
    properties,
    source,
    time,
    ...(tags ? { tags } : {}),
    // Only a record that says when it happened dates its consent: one without may opt out, never lift an opt-out.
    ...(consent.status ? { consent: consent.status, ...(dated ? { consentAt: time } : {}) } : {}),
    ...(createdAt !== undefined ? { createdAt } : {}),
    ...(warnings.length ? { warnings } : {}),
  };
}

/** Tags as a list or a `;`/`,`-separated string; anything else is a warning. */
function tagsOf(raw: unknown, warnings: FieldWarning[]): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string')
    return raw
      .split(/[;,]/)
      .map((t) => t.trim())
      .filter(Boolean);
  if (Array.isArray(raw)) {
    const text = raw.filter((t): t is string => typeof t === 'string');
    if (text.length < raw.length)
      warnings.push({ field: 'tags', message: 'tags that are not text were left out', hint: 'tags are strings, e.g. ["vip", "newsletter"]' });
    return text;
  }
  warnings.push({ field: 'tags', message: `"tags" is ${JSON.stringify(raw)}: left out`, hint: 'give a list of strings or "a;b"' });
  return undefined;
}

/**
 * The creation time given at the top level, in traits or in properties (`created_at`, or Segment's
 * `createdAt`): it is the contact's, not a property, so it is taken out of the properties.
 */
function creationTime(r: Record<string, unknown>, properties: Record<string, FieldValue>, warnings: FieldWarning[]): number | undefined {
  let found: { key: string; value: unknown } | undefined;
  for (const key of CREATED_KEYS) {
    if (r[key] !== undefined && r[key] !== null && r[key] !== '') found ??= { key, value: r[key] };
    if (Object.hasOwn(properties, key)) {
      const v = properties[key];
      delete properties[key];
      if (v !== null && v !== '') found ??= { key, value: v };
    }
  }
  if (!found) return undefined;
  try {
    return parseTime(found.value, found.key);
  } catch (err) {
    warnings.push({
      field: found.key,
      message: `${(err as ValidationError).message}: the creation time was left unchanged`,
      hint: 'use ISO 8601, e.g. 2025-11-02T08:30:00Z, or epoch milliseconds',
    });
    return undefined;
  }
}

function zodMessage(err: z.ZodError): string {
  const i = err.issues[0];
  if (!i) return 'invalid record';
  const path = i.path.length ? `"${i.path.join('.')}": ` : '';
  return `${path}${i.message}`;
}
