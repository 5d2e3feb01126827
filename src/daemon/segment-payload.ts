/**
 * Segment-spec calls (track, identify, page, screen, group, alias, batch) → segsync's intake items.
 * The Segment envelope (type, userId, anonymousId, context, messageId, timestamps …) is read here;
 * the event or trait record itself goes through the same `toIncomingEvent` / `toContactChange` the
 * importer uses, so a line of an import file and a track call accept the same shapes. The mapping of
 * each field is documented in docs/intake.md.
 */
import { z } from 'zod';
import type { FieldShape } from '../config/field-values';
import { SegsyncError, ValidationError } from '../errors';
import type { AppIds, IdentifyItem, TrackItem } from '../ingest/identity-graph';
import { SEGMENT_ENVELOPE_KEYS, parseTime, toContactChange, toIncomingEvent } from '../ingest/records';
import { emailProblem, normaliseEmail, reservedEventIdProblem } from '../model/identity';
import { serializeWithinLimits } from '../model/limits';
import type { FieldValue } from '../model/types';

/** Why one item of a call was refused: which item, which field, what to do. */
export interface ItemRejection {
  index: number;
  /** The field at fault, as a dotted path in the item, when one field is. */
  field?: string;
  message: string;
  hint?: string;
}

/** The Segment call types segsync reads. */
export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** What a call stores: events (track, page, screen, group) or identity and traits (identify, alias); metrics count by it. */
export type CallKind = 'track' | 'identify';

/** The kind of work a call type does. */
export function kindOf(type: SegmentType): CallKind {
  return type === 'identify' || type === 'alias' ? 'identify' : 'track';
}

/** An identify or alias call as read (who may merge is the server's to say). */
export type IdentifyCall = Omit<IdentifyItem, 'mayMergeContacts'> & {
  /** Fields a browser (the write key) may not set that the call carries: consent, tags. */
  privileged: string[];
};

/** segsync.yaml's declared fields, whose types identify traits are checked against. */
type Fields = Readonly<Record<string, FieldShape>>;

/** The accepted items of one call, split by kind, and the refused ones by index. */
export interface ParsedCall {
  events: TrackItem[];
  contacts: IdentifyCall[];
  /** The item index of each event and contact, in the same order. */
  eventIndexes: number[];
  contactIndexes: number[];
  rejected: ItemRejection[];
  /** Items read (accepted + rejected). */
  total: number;
}

/** The event names page, screen and group calls are stored under (rules count them like any event). */
export const PAGE_EVENT = 'Viewed Page';
export const SCREEN_EVENT = 'Viewed Screen';
export const GROUP_EVENT = 'Joined Group';

/** Longest userId, anonymousId or groupId accepted (Segment's own ids are UUIDs). */
const MAX_ID_LENGTH = 256;

const objectOf = z.record(z.string(), z.unknown());
const time = z.union([z.string(), z.number()]);
const id = z.union([z.string(), z.number()]);

/** The envelope fields segsync reads; everything else is kept (`loose`) for the record parsers. */
const envelope = z
  .object({
    type: z.string().optional(),
    event: z.string().optional(),
    name: z.string().nullish(),
    category: z.string().nullish(),
    email: z.string().optional(),
    userId: id.nullish(),
    anonymousId: id.nullish(),
    previousId: id.nullish(),
    groupId: id.nullish(),
    messageId: z.string().min(1).max(256).optional(),
    timestamp: time.optional(),
    originalTimestamp: time.optional(),
    sentAt: time.optional(),
    time: time.optional(),
    properties: objectOf.nullish(),
    traits: objectOf.nullish(),
    context: z.object({ traits: objectOf.nullish(), page: objectOf.nullish(), campaign: objectOf.nullish() }).loose().nullish(),
    tags: z.union([z.array(z.string()), z.string()]).optional(),
  })
  .loose();

type Envelope = z.infer<typeof envelope>;

/** Keys a batch body carries besides its items: `sentAt` applies to every item that has none. */
const batchBody = z.object({ batch: z.array(z.unknown()), context: objectOf.optional(), sentAt: time.optional() }).loose();

/** Reads one `/v1/<type>` body. */
export function parseSingle(type: SegmentType, body: unknown, receivedAt: number, fields?: Fields): ParsedCall {
  const out = emptyCall(1);
  addItem(out, type, body, 0, receivedAt, {}, fields);
  return out;
}

/** Reads a `/v1/batch` body: `{batch: [{type: 'track'|'identify'|'page'|…, …}], context?, sentAt?}`. */
export function parseBatch(body: unknown, receivedAt: number, maxItems: number, fields?: Fields): ParsedCall {
  const parsed = batchBody.safeParse(body);
  if (!parsed.success) {
    throw new ValidationError('the body is not a batch', { hint: 'send {"batch": [{"type": "track", …}, {"type": "identify", …}]}' });
  }
  const items = parsed.data.batch;
  if (items.length > maxItems) {
    throw new ValidationError(`the batch has ${items.length} items; at most ${maxItems} are accepted`, {
      hint: `split it into batches of ${maxItems} or fewer`,
    });
  }
  const out = emptyCall(items.length);
  const shared = { context: parsed.data.context, sentAt: parsed.data.sentAt };
  items.forEach((item, index) => {
    const type = isObject(item) ? item.type : undefined;
    if (typeof type !== 'string' || !(SEGMENT_TYPES as readonly string[]).includes(type)) {
      out.rejected.push({
        index,
        field: 'type',
        message: type === undefined ? 'missing "type"' : `"type" ${JSON.stringify(type)} is not accepted`,
        hint: `each batch item needs "type": one of ${SEGMENT_TYPES.join(', ')}`,
      });
      return;
    }
    addItem(out, type as SegmentType, item, index, receivedAt, shared, fields);
  });
  return out;
}

function emptyCall(total: number): ParsedCall {
  return { events: [], contacts: [], eventIndexes: [], contactIndexes: [], rejected: [], total };
}

function addItem(
  out: ParsedCall,
  type: SegmentType,
  raw: unknown,
  index: number,
  receivedAt: number,
  shared: { context?: Record<string, unknown> | undefined; sentAt?: string | number | undefined },
  fields: Fields | undefined,
): void {
  try {
    if (!isObject(raw)) throw new ItemError(undefined, 'the item is not a JSON object', `a ${type} call is a JSON object`);
    const parsed = envelope.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.length ? issue.path.join('.') : undefined;
      throw new ItemError(field, `${field ? `"${field}": ` : ''}${issue?.message ?? 'invalid'}`);
    }
    const item: Envelope = {
      ...parsed.data,
      ...(shared.context && !parsed.data.context ? { context: shared.context } : {}),
      ...(shared.sentAt !== undefined && parsed.data.sentAt === undefined ? { sentAt: shared.sentAt } : {}),
    };
    const when = eventTime(item, receivedAt);
    if (kindOf(type) === 'track') {
      out.events.push(trackItem(type, item, when, receivedAt));
      out.eventIndexes.push(index);
    } else {
      out.contacts.push(type === 'alias' ? aliasItem(item, when) : identifyItem(item, when, receivedAt, fields));
      out.contactIndexes.push(index);
    }
  } catch (err) {
    if (err instanceof ItemError)
      out.rejected.push({ index, ...(err.field ? { field: err.field } : {}), message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    else if (err instanceof SegsyncError) out.rejected.push({ index, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    else throw err;
  }
}

/** When the call happened, and whether that time came from the sender's clock as given. */
interface CallTime {
  at: number;
  /**
   * The time is receipt-based (none given) or corrected for the sender's clock skew: a resend of the
   * same message arrives with another, so a stored event with the same id and another time is it.
   */
  approximate: boolean;
}

/**
 * Segment's clock-skew correction: a client's `timestamp` (or `originalTimestamp`) is on the device's
 * clock, and so is its `sentAt`; the time between them is true whatever the skew, so the event
 * happened at `receivedAt - (sentAt - timestamp)`. Without `sentAt` the given time is taken as is
 * (server libraries and imports set true times); without any time, the call happened when received.
 */
function eventTime(item: Envelope, receivedAt: number): CallTime {
  const field = item.time !== undefined ? 'time' : item.timestamp !== undefined ? 'timestamp' : 'originalTimestamp';
  const raw = item.time ?? item.timestamp ?? item.originalTimestamp;
  if (raw === undefined) return { at: receivedAt, approximate: true };
  const given = located(field, () => parseTime(raw, field, receivedAt));
  if (item.sentAt === undefined || item.time !== undefined) return { at: given, approximate: false };
  const sentAt = located('sentAt', () => parseTime(item.sentAt, 'sentAt', receivedAt + MAX_SKEW_AHEAD_MS));
  // A queue time below zero is a client bug, not travel back in time: the call happened on receipt.
  const queued = Math.max(0, sentAt - given);
  return { at: receivedAt - queued, approximate: true };
}

/** How far ahead a client's `sentAt` may be of ours (a clock set a day ahead is still corrected). */
const MAX_SKEW_AHEAD_MS = 366 * 24 * 3_600_000;

function trackItem(type: SegmentType, item: Envelope, when: CallTime, receivedAt: number): TrackItem {
  const { name, properties } = eventOf(type, item);
  if (!name) throw new ItemError('event', 'missing "event"', 'name the event, e.g. "event": "Placed Order"');
  located('properties', () => serializeWithinLimits(properties, 'properties'));
  const reserved = item.messageId === undefined ? undefined : reservedEventIdProblem(item.messageId);
  if (reserved) throw new ItemError('messageId', reserved.message, reserved.hint);
  const email = keyEmail(item, [
    ['email', item.email],
    ['context.traits.email', item.context?.traits?.email],
    ['properties.email', item.properties?.email],
  ]);
  const ids = appIds(item);
  requireSomeone(email, ids);
  // Parsed with a stand-in email: the record checks are the importer's, the identity is resolved later.
  const { email: _standIn, ...event } = toIncomingEvent(
    { ...item, name, properties, time: when.at, timestamp: undefined, context: undefined, traits: undefined, email: email ?? 'visitor@segsync.invalid' },
    'track',
    receivedAt,
  );
  return { ...(email ? { email } : {}), ids, event: { ...event, ...(when.approximate ? { timeFromReceipt: true } : {}) } };
}

/**
 * The event a call stores: track as named; page as "Viewed Page" with its URL parts and campaign
 * (UTM) parameters; screen as "Viewed Screen"; group as "Joined Group" with the group id and traits.
 */
function eventOf(type: SegmentType, item: Envelope): { name: string | undefined; properties: Record<string, FieldValue> } {
  const properties = { ...(item.properties ?? {}) } as Record<string, FieldValue>;
  if (type === 'track') return { name: item.name ?? item.event, properties };
  if (type === 'group') {
    const groupId = identifierText(item.groupId, 'groupId');
    if (groupId === undefined) throw new ItemError('groupId', 'missing "groupId"', 'a group call names the account or company: "groupId": "acme"');
    return { name: GROUP_EVENT, properties: { groupId, ...((item.traits ?? {}) as Record<string, FieldValue>) } };
  }
  if (item.name) properties.name ??= item.name;
  if (item.category) properties.category ??= item.category;
  if (type === 'screen') return { name: SCREEN_EVENT, properties };
  const page = (item.context?.page ?? {}) as Record<string, FieldValue>;
  for (const key of ['url', 'path', 'referrer', 'title', 'search'] as const) {
    if (properties[key] === undefined && typeof page[key] === 'string' && page[key] !== '') properties[key] = page[key];
  }
  Object.assign(properties, campaignOf(item, properties));
  return { name: PAGE_EVENT, properties };
}

/** Segment's context.campaign field → the UTM parameter it came from. */
const CAMPAIGN_FIELDS: [string, string][] = [
  ['source', 'utm_source'],
  ['medium', 'utm_medium'],
  ['name', 'utm_campaign'],
  ['term', 'utm_term'],
  ['content', 'utm_content'],
];

/** UTM parameters of a page view: from `context.campaign` (what analytics.js parsed), else from the URL's query. */
function campaignOf(item: Envelope, properties: Record<string, FieldValue>): Record<string, string> {
  const out: Record<string, string> = {};
  const campaign = item.context?.campaign ?? {};
  for (const [field, utm] of CAMPAIGN_FIELDS) {
    const v = campaign[field];
    if (typeof v === 'string' && v !== '' && properties[utm] === undefined) out[utm] = v;
  }
  const url = typeof properties.url === 'string' ? properties.url : undefined;
  const search = typeof properties.search === 'string' ? properties.search : undefined;
  const query = url !== undefined ? queryOf(url) : search !== undefined ? new URLSearchParams(search) : undefined;
  for (const [, utm] of CAMPAIGN_FIELDS) {
    const v = query?.get(utm);
    if (v && properties[utm] === undefined && out[utm] === undefined) out[utm] = v;
  }
  return out;
}

function queryOf(url: string): URLSearchParams | undefined {
  try {
    return new URL(url).searchParams;
  } catch {
    // A page URL that does not parse carries no campaign: the page view is still stored.
    return undefined;
  }
}

function identifyItem(item: Envelope, when: CallTime, receivedAt: number, fields: Fields | undefined): IdentifyCall {
  // Traits are `traits`; clients that also copy them into `context.traits` (RudderStack) are read the same.
  const traits = { ...(item.context?.traits ?? {}), ...(item.traits ?? {}) };
  const email = keyEmail(item, [
    ['email', item.email],
    ['traits.email', item.traits?.email],
    ['context.traits.email', item.context?.traits?.email],
  ]);
  const ids = appIds(item);
  requireSomeone(email, ids);
  const record: Record<string, unknown> = { ...item, traits };
  for (const k of SEGMENT_ENVELOPE_KEYS) delete record[k];
  const { email: _given, ...contact } = toContactChange({ ...record, time: when.at }, 'local', receivedAt, fields);
  delete contact.properties.email;
  const privileged = ['consent', 'tags'].filter((k) => record[k] !== undefined || traits[k] !== undefined);
  return { ...(email ? { email } : {}), ids, contact, privileged };
}

function aliasItem(item: Envelope, when: CallTime): IdentifyCall {
  const previousId = identifierText(item.previousId, 'previousId');
  const userId = identifierText(item.userId, 'userId');
  if (previousId === undefined)
    throw new ItemError('previousId', 'missing "previousId"', 'an alias call links "previousId" (the old id) to "userId" (the new one)');
  if (userId === undefined) throw new ItemError('userId', 'missing "userId"', 'an alias call links "previousId" (the old id) to "userId" (the new one)');
  return { ids: { userId }, previousId, contact: { properties: {}, source: 'local', time: when.at }, privileged: [] };
}

function appIds(item: Envelope): AppIds {
  const userId = identifierText(item.userId, 'userId');
  const anonymousId = identifierText(item.anonymousId, 'anonymousId');
  return { ...(userId !== undefined ? { userId } : {}), ...(anonymousId !== undefined ? { anonymousId } : {}) };
}

/** An id as text (Segment accepts numbers and strings), or undefined when absent or empty. */
function identifierText(value: string | number | null | undefined, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  if (text === '') return undefined;
  if (text.length > MAX_ID_LENGTH)
    throw new ItemError(field, `"${field}" is longer than ${MAX_ID_LENGTH} characters`, 'use a shorter, stable id (a UUID or your database id)');
  if (/[\p{Cc}\p{Cf}]/u.test(text)) throw new ItemError(field, `"${field}" contains a control or invisible character`, 'ids are printable text');
  return text;
}

function requireSomeone(email: string | undefined, ids: AppIds): void {
  if (email === undefined && ids.userId === undefined && ids.anonymousId === undefined) {
    throw new ItemError(
      'userId',
      'no userId, anonymousId or email',
      'every call needs "userId" or "anonymousId" (Segment clients set one), or an email in "traits.email", "context.traits.email" or "properties.email"',
    );
  }
}

/**
 * The email a call is keyed by, from the first of `candidates` present, else a `userId` that is an
 * email; undefined when it gave none. An invalid one refuses the item (it would land on no one).
 */
function keyEmail(item: Envelope, candidates: [string, unknown][]): string | undefined {
  for (const [field, value] of candidates) {
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') throw new ItemError(field, `"${field}" is not a valid email address`, 'fix the address or leave the field out');
    const normal = normaliseEmail(value);
    const problem = emailProblem(normal);
    if (problem) throw new ItemError(field, `"${field}": ${problem.message}`, problem.hint);
    return normal;
  }
  if (typeof item.userId === 'string' && item.userId.includes('@')) {
    const normal = normaliseEmail(item.userId);
    if (!emailProblem(normal)) return normal;
  }
  return undefined;
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
  constructor(
    readonly field: string | undefined,
    message: string,
    hint?: string,
  ) {
    super(message, hint ? { hint } : {});
  }
}
