/**
 * pull for HubSpot. The first run is a full scan (`GET /crm/v3/objects/contacts`, cursor paging). Later
 * runs search `lastmodifieddate` between the cursor and an upper bound fixed at the start of the pull,
 * oldest first. A search query pages through at most 10,000 results, so when a window reaches that cap
 * the pull opens a new window at the last modification time seen; when 10,000 contacts share one
 * modification time it walks them by `hs_object_id` instead. Every page carries a cursor to resume from.
 */
import { createHash } from 'node:crypto';
import type * as Contacts from '@hubspot/api-client/lib/codegen/crm/contacts';
import { normaliseEmail } from '../../src/model/identity';
import type { FieldValue } from '../../src/model/types';
import type { PullRequest, RemoteContact, RemotePage } from '../connector';
import type { HubspotContext } from './context';
import { hubspotContactsCursor } from './cursor';
import type { PullCursor } from './cursor';
import { MAX_BATCH, SEARCH_CAP, SEARCH_PAGE } from './limits';
import type { PropertyShape } from './values';
import { decodeValue, parseTime, splitMulti } from './values';

export type { PullCursor } from './cursor';

type WindowCursor = Exclude<PullCursor, { mode: 'scan' }>;

const SCAN_PAGE = 100;
/** Most versions a cursor remembers at its boundary time; beyond that a resumed pull may repeat a few contacts. */
const MAX_SKIP = 1_000;

/** Parses a stored cursor; throws `ValidationError` for one segsync did not write. */
export function parseCursor(raw: string | undefined): PullCursor | undefined {
  return hubspotContactsCursor.decode(raw);
}

/**
 * How a delivered record version is remembered at the cursor's boundary time: its id plus a digest
 * of the properties it was delivered with. Keyed by id alone, a contact edited again after it sat on
 * the boundary would be filtered out for good (issue 15, finding 1).
 */
export function seenKey(record: Contacts.SimplePublicObject): string {
  const props = Object.entries(record.properties).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const digest = createHash('sha1').update(JSON.stringify(props)).digest('base64url').slice(0, 12);
  return `${record.id}:${digest}`;
}

/**
 * Adds a delivered version to the boundary set, dropping the record's earlier versions: only the
 * version applied last is "already delivered", so a record that goes back to an earlier version
 * within the same millisecond (A → B → A) is delivered again.
 */
function rememberVersion(boundary: Set<string>, id: string, key: string): void {
  for (const k of boundary) if (k.startsWith(`${id}:`)) boundary.delete(k);
  boundary.add(key);
}

/** Turns a HubSpot record into a RemoteContact with the requested fields decoded. */
export function toRemoteContact(
  record: Contacts.SimplePublicObject | Contacts.SimplePublicObjectWithAssociations,
  fields: string[],
  props: Map<string, PropertyShape>,
  tagProperty: string,
): RemoteContact {
  const p = record.properties;
  const out: Record<string, FieldValue> = {};
  for (const f of fields) if (f !== tagProperty) out[f] = decodeValue(props.get(f), p[f]);
  const email = p.email ? normaliseEmail(p.email) : undefined;
  return {
    externalId: record.id,
    ...(email ? { email } : {}),
    fields: out,
    tags: splitMulti(p[tagProperty]),
    // HubSpot's opt-out is authoritative for "unsubscribed"; its absence says nothing about consent,
    // but an explicit false says an opt-out once held is lifted.
    ...(p.hs_email_optout === 'true' ? { consent: 'unsubscribed' as const } : p.hs_email_optout === 'false' ? { noOptOut: true as const } : {}),
    modifiedAt: parseTime(p.lastmodifieddate) ?? parseTime(record.updatedAt) ?? 0,
    ...createdAt(record),
    ...mergedIds(record.id, p[MERGED_IDS]),
    ...(record.archived ? { deleted: true } : {}),
  };
}

/** HubSpot lists on the surviving record every record merged into it (read-only, `;`-separated). */
const MERGED_IDS = 'hs_merged_object_ids';

function mergedIds(id: string, raw: string | null | undefined): { mergedIds?: string[] } {
  const ids = splitMulti(raw).filter((m) => m !== id);
  return ids.length > 0 ? { mergedIds: ids } : {};
}

/** The record's creation time (HubSpot ids are per account: a replaced account reuses them). */
function createdAt(record: Contacts.SimplePublicObject | Contacts.SimplePublicObjectWithAssociations): { createdAt?: number } {
  const at = parseTime(record.properties.createdate) ?? parseTime(record.createdAt);
  return at === undefined ? {} : { createdAt: at };
}

/** Incremental, resumable listing of changed contacts, oldest first. */
export async function* pullContacts(ctx: HubspotContext, request: PullRequest): AsyncIterable<RemotePage> {
  const props = await ctx.properties.all();
  const tagProperty = ctx.settings.tagProperty;
  const wanted = [...new Set([...request.fields, 'email', tagProperty, 'hs_email_optout', 'lastmodifieddate', MERGED_IDS])];
  const until = request.until.getTime();
  const start = parseCursor(request.cursor) ?? { v: 1, mode: 'scan', until };

  if (start.mode === 'scan') {
    const scanUntil = start.until;
    let after = start.after;
    for (;;) {
      const page = await ctx.client.pageContacts(SCAN_PAGE, after, wanted);
      after = page.paging?.next?.after;
      const contacts = await withFieldTimes(
        ctx,
        page.results.map((r) => toRemoteContact(r, request.fields, props, tagProperty)),
        request.fields,
        tagProperty,
      );
      const next: PullCursor = after ? { v: 1, mode: 'scan', after, until: scanUntil } : { v: 1, mode: 'time', t: scanUntil };
      yield { contacts, next: hubspotContactsCursor.encode(next) };
      if (!after) {
        yield* archivedPages(ctx, request, props, tagProperty, wanted, hubspotContactsCursor.encode(next));
        return;
      }
    }
  }

  // Ids already yielded at the current window's start time, so a new window does not repeat them.
  let boundary = new Set<string>(start.mode === 'time' ? (start.skip ?? []) : []);
  let cursor: WindowCursor = start;
  let lastResume = hubspotContactsCursor.encode(start);
  for (;;) {
    const windowStart = cursor;
    let offset = 0;
    let lastT = cursor.t;
    let lastId = cursor.mode === 'tie' ? cursor.id : '';
    let exhausted = false;
    for (;;) {
      const answer = await ctx.client.searchContacts(searchRequest(windowStart, until, wanted, offset));
      const contacts: RemoteContact[] = [];
      for (const r of answer.results) {
        const key = seenKey(r);
        if (boundary.has(key)) continue;
        const c = toRemoteContact(r, request.fields, props, tagProperty);
        contacts.push(c);
        if (c.modifiedAt > lastT) {
          lastT = c.modifiedAt;
          boundary = new Set();
        }
        if (c.modifiedAt === lastT) rememberVersion(boundary, r.id, key);
      }
      await withFieldTimes(ctx, contacts, request.fields, tagProperty);
      const lastRecord = answer.results[answer.results.length - 1];
      if (lastRecord) lastId = lastRecord.id;
      const nextAfter = answer.paging?.next?.after;
      offset = nextAfter !== undefined ? Number(nextAfter) : offset + answer.results.length;
      exhausted = nextAfter === undefined || answer.results.length === 0;
      const atCap = !exhausted && offset + SEARCH_PAGE > SEARCH_CAP;
      const resume: WindowCursor =
        windowStart.mode === 'tie'
          ? exhausted
            ? { v: 1, mode: 'time', t: windowStart.t, strict: true }
            : { v: 1, mode: 'tie', t: windowStart.t, id: lastId }
          : { v: 1, mode: 'time', t: lastT, ...(boundary.size > 0 && boundary.size <= MAX_SKIP ? { skip: [...boundary] } : {}) };
      lastResume = hubspotContactsCursor.encode(resume);
      if (contacts.length > 0 || exhausted) yield { contacts, next: lastResume };
      if (exhausted || atCap) {
        cursor = nextWindow(windowStart, resume, exhausted, lastT);
        break;
      }
    }
    if (exhausted && windowStart.mode !== 'tie') {
      yield* archivedPages(ctx, request, props, tagProperty, wanted, lastResume);
      return;
    }
  }
}

/**
 * Adds each requested field's change time from HubSpot's property history (batch reads per page:
 * the search and the listing give only the record's modification time), so `latest` compares the
 * field's own time, not the time of a record that changed for another property.
 */
async function withFieldTimes(ctx: HubspotContext, contacts: RemoteContact[], fields: string[], tagProperty: string): Promise<RemoteContact[]> {
  const wanted = fields.filter((f) => f !== tagProperty);
  if (contacts.length === 0 || wanted.length === 0) return contacts;
  const byId = new Map<string, NonNullable<Contacts.SimplePublicObject['propertiesWithHistory']>>();
  // A search page holds up to 200 records; a batch read takes at most 100.
  for (let i = 0; i < contacts.length; i += MAX_BATCH) {
    const answer = await ctx.client.readContacts(
      contacts.slice(i, i + MAX_BATCH).map((c) => c.externalId),
      ['email'],
      undefined,
      wanted,
    );
    for (const r of answer.results) byId.set(r.id, r.propertiesWithHistory ?? {});
  }
  for (const c of contacts) {
    const history = byId.get(c.externalId);
    if (!history) continue;
    const times: Record<string, number> = {};
    for (const f of wanted) {
      // Newest first; HubSpot's SDK parses `timestamp` into a Date.
      const at = history[f]?.[0]?.timestamp;
      const ms = at instanceof Date ? at.getTime() : typeof at === 'string' ? Date.parse(at) : NaN;
      if (Number.isFinite(ms)) times[f] = ms;
    }
    c.fieldModifiedAt = times;
  }
  return contacts;
}

/**
 * Archived contacts, as deleted records. The search never returns them and HubSpot cannot filter the
 * archived listing by time, so every incremental pull pages through it (HubSpot keeps archived records
 * 90 days); the sync side only acts on records it has linked, once. The pages resume at `next`.
 */
async function* archivedPages(
  ctx: HubspotContext,
  request: PullRequest,
  props: Map<string, PropertyShape>,
  tagProperty: string,
  wanted: string[],
  next: string,
): AsyncIterable<RemotePage> {
  let after: string | undefined;
  do {
    const page = await ctx.client.pageContacts(SCAN_PAGE, after, wanted, true);
    after = page.paging?.next?.after;
    const contacts = page.results.map((r) => ({
      ...toRemoteContact(r, request.fields, props, tagProperty),
      deleted: true as const,
      modifiedAt: r.archivedAt ? r.archivedAt.getTime() : (parseTime(r.properties.lastmodifieddate) ?? 0),
    }));
    if (contacts.length > 0) yield { contacts, next };
  } while (after);
}

/** Where the next query window starts after one ended (exhausted, or at the 10,000-result cap). */
function nextWindow(window: WindowCursor, resume: WindowCursor, exhausted: boolean, lastT: number): WindowCursor {
  if (window.mode === 'tie') return resume;
  if (exhausted) return { v: 1, mode: 'time', t: lastT };
  // A full window of one timestamp cannot move by time: walk that timestamp by id.
  if (lastT === window.t) return { v: 1, mode: 'tie', t: lastT, id: '' };
  return { v: 1, mode: 'time', t: lastT };
}

function searchRequest(window: WindowCursor, until: number, properties: string[], offset: number): Contacts.PublicObjectSearchRequest {
  type Filter = Contacts.Filter;
  const f = (propertyName: string, operator: string, value: string): Filter => ({ propertyName, operator: operator as Filter['operator'], value });
  const filters: Filter[] =
    window.mode === 'tie'
      ? [f('lastmodifieddate', 'EQ', String(window.t)), ...(window.id ? [f('hs_object_id', 'GT', window.id)] : [])]
      : [f('lastmodifieddate', window.mode === 'time' && window.strict ? 'GT' : 'GTE', String(window.t)), f('lastmodifieddate', 'LTE', String(until))];
  return {
    filterGroups: [{ filters }],
    sorts: [window.mode === 'tie' ? 'hs_object_id' : 'lastmodifieddate'],
    properties,
    limit: SEARCH_PAGE,
    after: String(offset),
  };
}
