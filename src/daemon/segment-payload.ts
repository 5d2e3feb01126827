/**
 * Segment-spec track, identify and batch payloads → segsync's incoming events and contacts. The
 * Segment envelope (type, userId, context, messageId, timestamp …) is read here; the record itself
 * goes through the same `toIncomingEvent` / `toIncomingContact` the importer uses, so a line of an
 * import file and a track call accept the same shapes.
 */
import { z } from 'zod';
import { SegsyncError, ValidationError } from '../errors';
import { parseTime, toIncomingContact, toIncomingEvent } from '../ingest/records';
import { emailProblem, normaliseEmail, reservedEventIdProblem } from '../model/identity';
import { serializeWithinLimits } from '../model/limits';
import type { IncomingContact, IncomingEvent } from '../model/types';

/** Why one item of a call was refused: which item, which field, what to do. */
export interface ItemRejection {
  index: number;
  /** The field at fault, as a dotted path in the item, when one field is. */
  field?: string;
  message: string;
  hint?: string;
}

export type CallKind = 'track' | 'identify';

/** The accepted items of one call, split by kind, and the refused ones by index. */
export interface ParsedCall {
  events: IncomingEvent[];
  contacts: IncomingContact[];
  /** The item index of each event and contact, in the same order. */
  eventIndexes: number[];
  contactIndexes: number[];
  rejected: ItemRejection[];
  /** Items read (accepted + rejected). */
  total: number;
}

const objectOf = z.record(z.string(), z.unknown());
const time = z.union([z.string(), z.number()]);
const id = z.union([z.string(), z.number()]);

/** The envelope fields segsync reads; everything else is kept (`loose`) for the record parsers. */
const envelope = z
  .object({
    type: z.string().optional(),
    event: z.string().optional(),
    name: z.string().optional(),
    email: z.string().optional(),
    userId: id.nullish(),
    anonymousId: id.nullish(),
    messageId: z.string().min(1).max(256).optional(),
    timestamp: time.optional(),
    time: time.optional(),
    properties: objectOf.optional(),
    traits: objectOf.optional(),
    context: z.object({ traits: objectOf.optional() }).loose().optional(),
    tags: z.union([z.array(z.string()), z.string()]).optional(),
  })
  .loose();

type Envelope = z.infer<typeof envelope>;

/** Segment's envelope keys: never contact properties (everything else in an identify call can be). */
const ENVELOPE_KEYS = [
  'type', 'userId', 'anonymousId', 'messageId', 'timestamp', 'sentAt', 'receivedAt', 'originalTimestamp', 'context',
  'integrations', 'writeKey', 'channel', 'version', '_metadata', 'event',
];

const batchBody = z.object({ batch: z.array(z.unknown()), context: objectOf.optional() }).loose();

/** Reads one `/v1/track` or `/v1/identify` body. */
export function parseSingle(kind: CallKind, body: unknown, receivedAt: number): ParsedCall {
  const out: ParsedCall = { events: [], contacts: [], eventIndexes: [], contactIndexes: [], rejected: [], total: 1 };
  addItem(out, kind, body, 0, receivedAt, undefined);
  return out;
}

/** Reads a `/v1/batch` body: `{batch: [{type: 'track'|'identify', …}], context?}`. */
export function parseBatch(body: unknown, receivedAt: number, maxItems: number): ParsedCall {
  const parsed = batchBody.safeParse(body);
  if (!parsed.success) {
    throw new ValidationError('the body is not a batch', { hint: 'send {"batch": [{"type": "track", …}, {"type": "identify", …}]}' });
  }
  const items = parsed.data.batch;
  if (items.length > maxItems) {
    throw new ValidationError(`the batch has ${items.length} items; at most ${maxItems} are accepted`, { hint: `split it into batches of ${maxItems} or fewer` });
  }
  const out: ParsedCall = { events: [], contacts: [], eventIndexes: [], contactIndexes: [], rejected: [], total: items.length };
  items.forEach((item, index) => {
    const type = isObject(item) ? item.type : undefined;
    if (type !== 'track' && type !== 'identify') {
      out.rejected.push({
        index,
        field: 'type',
        message: type === undefined ? 'missing "type"' : `"type" ${JSON.stringify(type)} is not accepted`,
        hint: 'each batch item needs "type": "track" or "identify"',
      });
      return;
    }
    addItem(out, type, item, index, receivedAt, parsed.data.context);
  });
  return out;
}

function addItem(out: ParsedCall, kind: CallKind, raw: unknown, index: number, receivedAt: number, sharedContext: Record<string, unknown> | undefined): void {
  try {
    if (!isObject(raw)) throw new ItemError(undefined, 'the item is not a JSON object', `a ${kind} call is a JSON object`);
    const parsed = envelope.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.length ? issue.path.join('.') : undefined;
      throw new ItemError(field, `${field ? `"${field}": ` : ''}${issue?.message ?? 'invalid'}`);
    }
    const item: Envelope = sharedContext && !parsed.data.context ? { ...parsed.data, context: sharedContext } : parsed.data;
    const email = emailOf(item);
    if (kind === 'track') {
      out.events.push(trackEvent(item, email, receivedAt));
      out.eventIndexes.push(index);
    } else {
      out.contacts.push(identifyContact(item, email, receivedAt));
      out.contactIndexes.push(index);
    }
  } catch (err) {
    if (err instanceof ItemError) out.rejected.push({ index, ...(err.field ? { field: err.field } : {}), message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    else if (err instanceof SegsyncError) out.rejected.push({ index, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    else throw err;
  }
}

/**
 * segsync identifies contacts by email: `email`, then `context.traits.email`, then `traits.email`,
 * then a `userId` that is an email. An anonymous call cannot be tied to a contact and is refused.
 */
function emailOf(item: Envelope): string {
  const candidates: [string, unknown][] = [
    ['email', item.email],
    ['context.traits.email', item.context?.traits?.email],
    ['traits.email', item.traits?.email],
  ];
  for (const [field, value] of candidates) {
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') throw new ItemError(field, `"${field}" is not a valid email address`, 'fix the address or leave the field out');
    const problem = emailProblem(normaliseEmail(value));
    if (problem) throw new ItemError(field, `"${field}": ${problem.message}`, problem.hint);
    return value;
  }
  if (typeof item.userId === 'string' && item.userId.includes('@')) {
    const problem = emailProblem(normaliseEmail(item.userId));
    if (problem) throw new ItemError('userId', `"userId": ${problem.message}`, problem.hint);
    return item.userId;
  }
  throw new ItemError('email', 'no email', 'segsync keys contacts by email: give "email", "traits.email" or "context.traits.email" (or a userId that is an email)');
}

function trackEvent(item: Envelope, email: string, receivedAt: number): IncomingEvent {
  const name = item.name ?? item.event;
  if (!name) throw new ItemError('event', 'missing "event"', 'name the event, e.g. "event": "Placed Order"');
  const timeField = item.time !== undefined ? 'time' : 'timestamp';
  const raw = item.time ?? item.timestamp;
  const at = raw === undefined ? receivedAt : located(timeField, () => parseTime(raw, timeField, receivedAt));
  if (item.properties !== undefined) located('properties', () => serializeWithinLimits(item.properties, 'properties'));
  const reserved = item.messageId === undefined ? undefined : reservedEventIdProblem(item.messageId);
  if (reserved) throw new ItemError('messageId', reserved.message, reserved.hint);
  const event = toIncomingEvent({ ...item, email, name, time: at, timestamp: undefined }, 'track', receivedAt);
  return raw === undefined ? { ...event, timeFromReceipt: true } : event;
}

function identifyContact(item: Envelope, email: string, receivedAt: number): IncomingContact {
  const raw = item.time ?? item.timestamp;
  const timeField = item.time !== undefined ? 'time' : 'timestamp';
  const at = raw === undefined ? receivedAt : located(timeField, () => parseTime(raw, timeField, receivedAt));
  const record: Record<string, unknown> = { ...item };
  for (const k of ENVELOPE_KEYS) delete record[k];
  return toIncomingContact({ ...record, email, time: at }, 'local', receivedAt);
}

function located<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ValidationError) throw new ItemError(field, err.message, err.hint);
    throw err;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A refusal that knows its field; turned into an `ItemRejection` by `addItem`. */
class ItemError extends ValidationError {
  constructor(readonly field: string | undefined, message: string, hint?: string) {
    super(message, hint ? { hint } : {});
  }
}
