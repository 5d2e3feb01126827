/**
 * pull for HubSpot. The first run is a full scan (`GET /crm/v3/objects/contacts`, cursor paging). Later
 * runs search `lastmodifieddate` between the cursor and an upper bound fixed at the start of the pull,
 * oldest first. A search query pages through at most 10,000 results, so when a window reaches that cap
 * the pull opens a new window at the last modification time seen; when 10,000 contacts share one
 * modification time it walks them by `hs_object_id` instead. Every page carries a cursor to resume from.
 */
import type * as Contacts from '@hubspot/api-client/lib/codegen/crm/contacts';
import { ValidationError } from '../../src/errors';
import { normaliseEmail } from '../../src/model/identity';
import type { FieldValue } from '../../src/model/types';
import type { PullRequest, RemoteContact, RemotePage } from '../connector';
import type { HubspotContext } from './context';
import { SEARCH_CAP, SEARCH_PAGE } from './limits';
import type { PropertyShape } from './values';
import { decodeValue, parseTime, splitMulti } from './values';

/** Where a pull resumes. Versioned so stored cursors survive format changes. */
export type PullCursor =
  /** First run: full scan, resuming at `after`; `until` is the scan's fixed start. */
  | { v: 1; mode: 'scan'; after?: string; until: number }
  /** Incremental: contacts modified at or after `t` (after `t` when `strict`), except `skip`: ids at `t` already delivered. */
  | { v: 1; mode: 'time'; t: number; strict?: boolean; skip?: string[] }
  /** Contacts modified exactly at `t` with an id above `id`, then onwards after `t`. */
  | { v: 1; mode: 'tie'; t: number; id: string };

type WindowCursor = Exclude<PullCursor, { mode: 'scan' }>;

const SCAN_PAGE = 100;
/** Most ids a cursor remembers at its boundary time; beyond that a resumed pull may repeat a few contacts. */
const MAX_SKIP = 1_000;

/** Parses a stored cursor; throws `ValidationError` for one segsync did not write. */
export function parseCursor(raw: string | undefined): PullCursor | undefined {
  if (raw === undefined) return undefined;
  try {
    const c = JSON.parse(raw) as PullCursor;
    if (c && c.v === 1 && (c.mode === 'scan' || c.mode === 'time' || c.mode === 'tie')) return c;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError(`hubspot: unreadable pull cursor ${JSON.stringify(raw).slice(0, 80)}`, {
    hint: 'reset the HubSpot cursor (`segsync pull --full hubspot`) to rescan',
  });
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
    // HubSpot's opt-out is authoritative for "unsubscribed"; its absence says nothing about consent.
    ...(p.hs_email_optout === 'true' ? { consent: 'unsubscribed' as const } : {}),
    modifiedAt: parseTime(p.lastmodifieddate) ?? parseTime(record.updatedAt) ?? 0,
    ...(record.archived ? { deleted: true } : {}),
  };
}

/** Incremental, resumable listing of changed contacts, oldest first. */
export async function* pullContacts(ctx: HubspotContext, request: PullRequest): AsyncIterable<RemotePage> {
  const props = await ctx.properties.all();
  const tagProperty = ctx.settings.tagProperty;
  const wanted = [...new Set([...request.fields, 'email', tagProperty, 'hs_email_optout', 'lastmodifieddate'])];
  const until = request.until.getTime();
  const start = parseCursor(request.cursor) ?? { v: 1, mode: 'scan', until };

  if (start.mode === 'scan') {
    const scanUntil = start.until;
    let after = start.after;
    for (;;) {
      const page = await ctx.client.pageContacts(SCAN_PAGE, after, wanted);
      after = page.paging?.next?.after;
      const contacts = page.results.map((r) => toRemoteContact(r, request.fields, props, tagProperty));
      const next: PullCursor = after ? { v: 1, mode: 'scan', after, until: scanUntil } : { v: 1, mode: 'time', t: scanUntil };
      yield { contacts, next: JSON.stringify(next) };
      if (!after) return;
    }
  }

  // Ids already yielded at the current window's start time, so a new window does not repeat them.
  let boundary = new Set<string>(start.mode === 'time' ? (start.skip ?? []) : []);
  let cursor: WindowCursor = start;
  for (;;) {
    const windowStart = cursor;
    let offset = 0;
    let lastT = cursor.t;
    let lastId = cursor.mode === 'tie' ? cursor.id : '';
    let exhausted = false;
    for (;;) {
      const answer = await ctx.client.searchContacts(searchRequest(windowStart, until, wanted, offset));
      // A boundary id is only a repeat while it is still at the boundary time: modified again, it is news.
      const contacts = answer.results
        .map((r) => toRemoteContact(r, request.fields, props, tagProperty))
        .filter((c) => !(boundary.has(c.externalId) && c.modifiedAt === lastT));
      for (const c of contacts) {
        if (c.modifiedAt > lastT) {
          lastT = c.modifiedAt;
          boundary = new Set();
        }
        if (c.modifiedAt === lastT) boundary.add(c.externalId);
      }
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
      if (contacts.length > 0 || exhausted) yield { contacts, next: JSON.stringify(resume) };
      if (exhausted || atCap) {
        cursor = nextWindow(windowStart, resume, exhausted, lastT);
        break;
      }
    }
    if (exhausted && windowStart.mode !== 'tie') return;
  }
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
