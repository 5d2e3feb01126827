/**
 * Incremental pull: members changed since the cursor, oldest first, then archived members, then the
 * membership of owned tags whose static segment changed (tag changes neither fire webhooks nor are
 * known to move `last_changed`).
 *
 * Mailchimp pages by offset only, and records move while we page. So each page is a window on
 * `last_changed`: it starts one second before the newest `last_changed` seen (timestamps are whole
 * seconds; this works whether the filter is inclusive or not), skips what was already emitted at that
 * second, and uses the offset only while a whole page shares one second. The upper bound
 * (`before_last_changed`) is fixed at the start of the pull.
 */
import { createHash } from 'node:crypto';
import type { Cursor, PullRequest, RemoteContact, RemotePage } from '../connector';
import type { Clock } from '../../src/model/clock';
import { normaliseEmail } from '../../src/model/identity';
import type { ConsentStatus } from '../../src/model/types';
import type { MailchimpClient } from './client';
import { mailchimpContactsCursor } from './cursor';
import type { PullCursor, Window } from './cursor';
import type { MergeSchema } from './schema';
import type { TagIndex } from './tags';
import type { Member, MemberStatus } from './wire';

export interface PullOptions {
  /** Members per page (Mailchimp allows 1000). */
  pageSize: number;
  /** Owned tags whose membership is reconciled. */
  ownedTags: string[];
  /** Tags starting with this are owned too (`tags.owned.prefix`): their membership is reconciled as well. */
  ownedTagPrefix?: string;
  /** Scan an owned tag's members at least this often even when its segment looks unchanged, ms. */
  tagRescanMs: number;
}

const MEMBER_FIELDS = [
  'members.id',
  'members.contact_id',
  'members.email_address',
  'members.status',
  'members.last_changed',
  'members.timestamp_opt',
  'members.merge_fields',
  'members.tags',
  'members.tags_count',
  'total_items',
];

/** Reads a stored cursor (or starts a full scan); a cursor from elsewhere is a named error. */
export function parseCursor(cursor: Cursor | undefined): PullCursor {
  return mailchimpContactsCursor.decode(cursor) ?? { v: 1, members: { offset: 0, skip: [] }, archived: { offset: 0, skip: [] }, tags: {} };
}

const CONSENT: Record<MemberStatus, ConsentStatus | undefined> = {
  subscribed: 'subscribed',
  unsubscribed: 'unsubscribed',
  cleaned: 'cleaned',
  pending: 'pending',
  transactional: 'non-marketing',
  archived: undefined,
};

/** Mailchimp's status as segsync's consent (archived is `deleted`, not a consent). */
export function consentOf(status: MemberStatus): ConsentStatus | undefined {
  return CONSENT[status];
}

/**
 * The consent time Mailchimp gives: `timestamp_opt`, when the member confirmed a subscription. It
 * says nothing about when an unsubscribe happened, and `last_changed` moves with any edit, so other
 * statuses carry no consent time (an opt-out stands anyway; see src/sync/consent.ts).
 */
function consentTime(m: Member): { consentAt?: number } {
  if (m.status !== 'subscribed' || !m.timestamp_opt) return {};
  const t = Date.parse(m.timestamp_opt);
  return Number.isNaN(t) ? {} : { consentAt: t };
}

function toRemote(m: Member, schema: MergeSchema, fields: string[]): RemoteContact {
  const tagNames = m.tags?.map((t) => t.name);
  const complete = tagNames !== undefined && (m.tags_count === undefined || m.tags_count <= tagNames.length);
  const consent = consentOf(m.status);
  return {
    externalId: m.id,
    // The member id is the hash of its email: `contact_id` is what stays when the email changes.
    ...(m.contact_id ? { recordKey: m.contact_id } : {}),
    email: normaliseEmail(m.email_address),
    fields: schema.fromWire(m.merge_fields, fields),
    ...(complete ? { tags: tagNames } : {}),
    ...(consent ? { consent } : {}),
    ...consentTime(m),
    modifiedAt: m.last_changed ? Date.parse(m.last_changed) : 0,
    ...(m.status === 'archived' ? { deleted: true } : {}),
  };
}

/** Mailchimp's ISO 8601 form for filters. */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/**
 * How an emitted member version is remembered at the window's second: id plus a digest of what was
 * emitted. `last_changed` has whole seconds, so a member edited again within the same second keeps
 * it; the digest tells that new version apart from the one already applied.
 */
export function seenKey(m: Member): string {
  // Tags are left out: tagging does not move `last_changed`, and tag changes arrive by segment membership.
  const version = [m.email_address, m.status, m.merge_fields ?? null];
  return `${m.id}:${createHash('sha1').update(JSON.stringify(version)).digest('base64url').slice(0, 12)}`;
}

/**
 * The last version per member of `keys` (in emission order): a member that went back to an earlier
 * version within the same second (A → B → A) is emitted again, since B was applied after A.
 */
function latestVersions(keys: string[]): string[] {
  const byId = new Map<string, string>();
  for (const k of keys) {
    const id = k.slice(0, k.lastIndexOf(':'));
    byId.delete(id);
    byId.set(id, k);
  }
  return [...byId.values()];
}

/**
 * The members of one page not already emitted, and the window after it. The offset only pages
 * through one second that fills whole pages, within one pull: once a page comes back short the next
 * window starts again at offset 0, since members re-ordered meanwhile would otherwise be skipped
 * (issue 15, finding 2).
 */
export function advanceWindow(window: Window, page: Member[], pageSize: number): { fresh: Member[]; next: Window; done: boolean } {
  const since = window.since ? Date.parse(window.since) : undefined;
  const skip = new Set(window.skip);
  const fresh = page.filter((m) => {
    const lc = m.last_changed ? Date.parse(m.last_changed) : 0;
    if (since === undefined) return true;
    if (lc < since) return false;
    return !(lc === since && skip.has(seenKey(m)));
  });
  const done = page.length < pageSize;
  const last = page[page.length - 1]?.last_changed;
  if (!last) return { fresh, next: { ...window, offset: done ? 0 : window.offset }, done };
  const lastMs = Date.parse(last);
  if (since !== undefined && lastMs === since) {
    // The page sat on the window's second: remember what was emitted; page on by offset only while full.
    return {
      fresh,
      next: { since: window.since, offset: done ? 0 : window.offset + page.length, skip: latestVersions([...skip, ...fresh.map(seenKey)]) },
      done,
    };
  }
  const atLast = latestVersions(page.filter((m) => m.last_changed && Date.parse(m.last_changed) === lastMs).map(seenKey));
  return { fresh, next: { since: new Date(lastMs).toISOString(), offset: 0, skip: atLast }, done };
}

/** Pages of changed members (then archived ones, then owned tags' memberships). */
export async function* pullPages(
  client: MailchimpClient,
  schema: MergeSchema,
  tags: TagIndex,
  clock: Clock,
  request: PullRequest,
  options: PullOptions,
): AsyncIterable<RemotePage> {
  const cursor = parseCursor(request.cursor);
  if (request.fields.length > 0) await schema.load();
  const until = iso(request.until.getTime());
  for (const stream of ['members', 'archived'] as const) {
    for (;;) {
      const w = cursor[stream];
      const page = await client.listMembers({
        fields: MEMBER_FIELDS,
        count: options.pageSize,
        offset: w.offset,
        ...(w.since ? { sinceLastChanged: iso(Date.parse(w.since) - 1000) } : {}),
        beforeLastChanged: until,
        ...(stream === 'archived' ? { status: 'archived' as const } : {}),
      });
      const { fresh, next, done } = advanceWindow(w, page.members, options.pageSize);
      cursor[stream] = next;
      if (fresh.length > 0 || done) {
        yield { contacts: fresh.map((m) => toRemote(m, schema, request.fields)), next: mailchimpContactsCursor.encode(cursor) };
      }
      if (done) break;
    }
  }
  yield* tagPages(client, tags, clock, cursor, options);
}

/** One page per owned tag whose segment changed (or is due for a rescan): its complete membership. */
async function* tagPages(client: MailchimpClient, tags: TagIndex, clock: Clock, cursor: PullCursor, options: PullOptions): AsyncIterable<RemotePage> {
  tags.refresh();
  const prefix = options.ownedTagPrefix;
  const byPrefix = prefix ? (await tags.names()).filter((n) => n.toLowerCase().startsWith(prefix.toLowerCase())) : [];
  const owned = new Map([...options.ownedTags, ...byPrefix].map((t) => [t.toLowerCase(), t]));
  for (const tag of owned.values()) {
    const key = tag.toLowerCase();
    const before = cursor.tags[key];
    const segment = await tags.find(tag);
    if (!segment) {
      if (before) {
        delete cursor.tags[key];
        yield { contacts: [], tagMemberships: [{ tag, externalIds: [], emails: [] }], next: mailchimpContactsCursor.encode(cursor) };
      }
      continue;
    }
    const now = clock.now();
    const unchanged =
      before &&
      before.id === segment.id &&
      before.count === segment.member_count &&
      before.updatedAt === segment.updated_at &&
      now - before.scannedAt < options.tagRescanMs;
    if (unchanged) continue;
    const externalIds: string[] = [];
    const emails: string[] = [];
    for (let offset = 0; ; offset += options.pageSize) {
      const page = await client.segmentMembers(segment.id, options.pageSize, offset);
      for (const m of page.members) {
        externalIds.push(m.id);
        emails.push(normaliseEmail(m.email_address));
      }
      if (page.members.length < options.pageSize) break;
    }
    cursor.tags[key] = {
      id: segment.id,
      scannedAt: now,
      ...(segment.member_count !== undefined ? { count: segment.member_count } : {}),
      ...(segment.updated_at ? { updatedAt: segment.updated_at } : {}),
    };
    yield { contacts: [], tagMemberships: [{ tag: segment.name, externalIds, emails }], next: mailchimpContactsCursor.encode(cursor) };
  }
}
