/**
 * The outbox worker for one ESP: takes due operations, groups them per contact into the connector's
 * `ContactChange`s, sends batches of the vendor's largest size, and records per contact what the ESP
 * confirmed. An operation leaves the outbox only once the ESP confirmed it, in the same transaction
 * that records the new remote state, so a crash at any point repeats at most the batch in flight
 * (an idempotent upsert), and loses nothing.
 */
import { EMAIL_KEY } from '../../connectors/connector';
import type { ChangeResult, Connector, ContactChange } from '../../connectors/connector';
import { EspBusyError, EspRateLimitError, EspTransientError, asEspError, describeError, retryAfterOf } from '../errors';
import type { SegsyncError } from '../errors';
import type { Logger } from '../log/logger';
import type { Clock } from '../model/clock';
import type { ConsentStatus, EspName, FieldValue } from '../model/types';
import type { OutboxItem, PushLease, Store, SyncFieldState } from '../store/store';
import { eraseRef } from './erasure';
import { GONE_ON_WRITE, unlink } from './links';
import { CONSENT_KEY, TAGS_KEY } from './inbound';
import { takeRemoteConsent } from './consent';
import { ADDED_TAGS_KEY, addedAfterWrite, addedTags } from './owned-tags';
import { DEFAULT_RETRY, retryDelayMs } from './retry';
import type { RetryPolicy } from './retry';
import { changeFor, drainSizes, groupPerContact, slices } from './changes';
import { asTags, tagList } from './values';

export interface DrainOptions {
  store: Store;
  connector: Connector;
  clock: Clock;
  logger: Logger;
  retry?: RetryPolicy;
  /** Most operations to take in one drain (default: enough for a few full batches). */
  maxItems?: number;
  /** Called after each batch with the operations settled so far (progress bars). */
  onProgress?: (done: number) => void;
  /** Called for a contact whose local state an ESP's answer changed (an opt-out it reported): it fans out. */
  onLocalChange?: (contactId: number) => void;
  /**
   * Runs before a batch takes its operations (a pull the batch needs first: fresh-view.ts); what it
   * drops or replaces is not sent. It may name operations that cannot go yet, and why: they wait for
   * a later attempt, as after a failed call, and the rest of the batch goes.
   */
  beforeBatch?: (items: OutboxItem[]) => Promise<HeldBack | undefined>;
  /**
   * Asked in the transaction that claims a batch's operations: false when another process took over
   * sending this ESP's outbox (push-lease.ts), and then nothing more is claimed.
   */
  mayClaim?: () => boolean;
}

/** Operations a batch leaves for a later attempt, and why. */
export interface HeldBack {
  items: OutboxItem[];
  error: SegsyncError;
}

export interface DrainReport {
  esp: EspName;
  /** Batches handed to the connector (and erasures). */
  calls: number;
  /** HTTP requests the connector sent for them, retries included. */
  requests: number;
  ok: number;
  retried: number;
  failed: number;
  /** Answers that said "too many requests", whether the connector retried them itself or handed them back. */
  rateLimited: number;
  /** Time spent waiting on the vendor's rate limits, ms. */
  waitedMs: number;
  /** Operations taken from the outbox. */
  items: number;
  /** Operations dead-lettered after their last attempt failed for a passing reason (a 5xx, a timeout, 48 h of 429s). */
  gaveUp: number;
  /** The error of the last of those. */
  gaveUpOn?: string;
  /** Contacts unlinked because the ESP no longer holds the record they were linked to (deleted there). */
  gone: number;
  /** The ESP's refusals (dead-lettered at once), one entry per distinct reason: how many contacts, the first of them. */
  refused: { reason: string; contacts: number; firstContact: number; setAside: boolean }[];
  /** Another process sent this ESP's outbox (it held the lease when last asked): it took what it sent (push-lease.ts). */
  heldBy?: PushLease;
}

/** A report of a drain that sent nothing yet. */
export function emptyReport(esp: EspName): DrainReport {
  return { esp, calls: 0, requests: 0, ok: 0, retried: 0, failed: 0, rateLimited: 0, waitedMs: 0, items: 0, gaveUp: 0, gone: 0, refused: [] };
}

/** Distinct refusal reasons a drain reports one by one; the rest are counted under one (a value-specific reason can differ per contact). */
const REFUSAL_REASONS = 20;
const OTHER_REFUSALS = 'other reasons, each named in the failed operation (`segsync retry --dry-run` lists them)';

/** Counts a refusal in with those of the same reason (the first contact named stays). */
export function addRefusal(refused: DrainReport['refused'], r: DrainReport['refused'][number]): void {
  const reason = refused.length >= REFUSAL_REASONS && !refused.some((f) => f.reason === r.reason) ? OTHER_REFUSALS : r.reason;
  const seen = refused.find((f) => f.reason === reason);
  if (!seen) refused.push({ ...r, reason });
  else {
    seen.contacts += r.contacts;
    seen.setAside ||= r.setAside;
  }
}

interface Group {
  contactId: number;
  items: OutboxItem[];
  change: ContactChange;
}

/** Sends what is due in one ESP's outbox. */
export async function drainOutbox(options: DrainOptions): Promise<DrainReport> {
  const { store, connector, clock } = options;
  const esp = connector.esp;
  const retry = options.retry ?? DEFAULT_RETRY;
  const { batchSize, maxItems } = drainSizes(connector);
  const report = emptyReport(esp);
  const requestsBefore = connector.requestCount();
  const items = store.dueOutbox(esp, clock.now(), options.maxItems ?? maxItems);
  report.items = items.length;
  if (!items.length) return report;
  const rateBefore = connector.rateStats?.();
  try {
    await sendItems(options, items, report, retry, batchSize);
  } finally {
    // 429s the client waited out and retried by itself never reach a result: count them from its limiter.
    const rateAfter = connector.rateStats?.();
    if (rateBefore && rateAfter) {
      const inCall = Math.max(0, rateAfter.rateLimited - rateBefore.rateLimited - report.rateLimited);
      report.rateLimited += inCall;
      report.retried += inCall;
      report.waitedMs = Math.max(0, rateAfter.waitedMs - rateBefore.waitedMs);
    }
    report.requests = connector.requestCount() - requestsBefore;
  }
  // Said once a drain, not per contact: an outage can dead-letter a whole queue at once.
  if (report.gaveUp > 0)
    options.logger.warn(
      { esp, operations: report.gaveUp, lastError: report.gaveUpOn },
      `gave up on ${report.gaveUp} operations for ${esp} after their last attempt; \`segsync status\` counts them, \`segsync retry\` sends them again`,
    );
  // One line per distinct reason, not per contact: a field the ESP cannot hold refuses every contact alike.
  for (const r of report.refused)
    options.logger.warn(
      { esp, contacts: r.contacts, firstContact: r.firstContact },
      `${esp} refused ${r.contacts === 1 ? `contact ${r.firstContact}'s change` : `the changes of ${r.contacts} contacts (contact ${r.firstContact} first)`}: ${r.reason}` +
        `${r.setAside ? ' (only the refused fields are set aside: the other operations went without them)' : ''}; \`segsync status\` lists them, \`segsync retry\` sends them again once fixed`,
    );
  if (report.gone > 0)
    options.logger.warn(
      { esp, contacts: report.gone },
      `${report.gone === 1 ? "1 contact's record" : `${report.gone} contacts' records`} on ${esp} no longer ${report.gone === 1 ? 'exists' : 'exist'} there (deleted): unlinked, segsync no longer writes there for ${report.gone === 1 ? 'it' : 'them'} (\`segsync explain EMAIL FIELD\` shows the decision); if every record answers so, the API key may be another account's: \`segsync unlink --esp ${esp}\` before pointing segsync at a new account`,
    );
  return report;
}

async function sendItems(options: DrainOptions, items: OutboxItem[], report: DrainReport, retry: RetryPolicy, batchSize: number): Promise<void> {
  const { store, connector, clock } = options;
  const esp = connector.esp;
  let settled = 0;

  const erasures = items.filter((i) => i.op === 'erase');
  const batches = slices([...groupPerContact(items.filter((i) => i.op !== 'erase'))], batchSize);

  await runBounded(batches, connector.limits.maxConcurrency, async (whole) => {
    const held = await options.beforeBatch?.(whole.flatMap(([, list]) => list));
    const batch = held ? holdBack(options, retry, whole, held, report) : whole;
    const groups = claim(options, batch, report);
    if (groups.length) {
      let results: ChangeResult[];
      try {
        results = await connector.push(groups.map((g) => g.change));
      } catch (err) {
        // The connector could not attribute the failure: the whole batch waits and tries again.
        const error = asEspError(err, esp);
        const retryAfterMs = retryAfterOf(error);
        results = groups.map((g) => ({ ref: g.change.ref, status: 'retry' as const, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }));
      }
      report.calls++;
      store.transaction(() => groups.forEach((g, i) => settle(options, retry, g, results[i], report)));
    }
    // Operations settled (sent, failed or deferred), the unit of the outbox counts a bar's total comes from.
    settled += whole.reduce((n, [, list]) => n + list.length, 0);
    options.onProgress?.(settled);
  });

  for (const item of erasures) {
    const ref = eraseRef(item.value, item.contactId);
    let result: ChangeResult;
    try {
      result = await connector.erase(ref);
    } catch (err) {
      result = { ref, status: 'retry', error: asEspError(err, esp) };
    }
    report.calls++;
    store.transaction(() => settleItems(store, clock, retry, [item], result, report));
    options.onProgress?.(++settled);
  }
}

/**
 * Takes one batch's operations at the moment it is sent, and builds its changes from them. A batch can
 * wait for a free connection while the rules queue newer changes: an operation dropped or replaced
 * since the drain read it is not sent (a removal no longer wanted would otherwise go out, and the
 * answer be recorded as if wanted), and the changes are built on the sync state as it is now.
 */
function claim(options: DrainOptions, batch: [number, OutboxItem[]][], report: DrainReport): Group[] {
  const { store } = options;
  const esp = options.connector.esp;
  return store.transaction(() => {
    const current = options.mayClaim?.() === false ? new Set<number>() : store.claimOutbox(batch.flatMap(([, list]) => list));
    const groups: Group[] = [];
    for (const [contactId, list] of batch) {
      const items = list.filter((i) => current.has(i.id));
      report.items -= list.length - items.length;
      if (!items.length) continue;
      const contact = store.getContact(contactId);
      if (!contact) {
        // The contact was erased locally after these were queued: nothing left to send.
        store.completeOutbox(items.map((i) => ({ id: i.id, version: i.version })));
        report.items -= items.length;
        continue;
      }
      groups.push({ contactId, items, change: changeFor(store, esp, contact, items) });
    }
    return groups;
  });
}

function settle(options: DrainOptions, retry: RetryPolicy, g: Group, result: ChangeResult | undefined, report: DrainReport): void {
  const { store, clock } = options;
  const esp = options.connector.esp;
  // A connector that answered too few results is broken, not rate-limited: the missing answer counts as
  // a failed attempt, so the operation dead-letters after the usual attempts instead of looping.
  const r: ChangeResult = result ?? {
    ref: g.change.ref,
    status: 'retry',
    error: new EspTransientError(`${esp} returned no result for this contact`, {
      esp,
      hint: 'a connector bug: it must answer one result per contact; report it with the log',
    }),
  };
  if (r.status === 'gone') {
    settleGone(options, retry, g, r.error, report);
    return;
  }
  // Erased or merged away while its push was in flight: nothing of it is left to record (its erasure,
  // or the contact it merged into, goes out on its own). Recording it failed the whole batch's settle.
  if (r.status === 'ok' && store.contactExists(g.contactId)) {
    const now = clock.now();
    const rows: SyncFieldState[] = [];
    const prior = new Map(store.getSyncState(g.contactId, esp).map((s) => [s.key, s]));
    const remember = (key: string, value: FieldValue): void => {
      rows.push({
        contactId: g.contactId,
        esp,
        key,
        remoteValue: value,
        pushedValue: value,
        remoteModifiedAt: r.modifiedAt ?? prior.get(key)?.remoteModifiedAt ?? now,
        pushedAt: now,
      });
    };
    for (const [key, value] of Object.entries(g.change.set)) remember(key, value);
    // A record written by email holds that email; one written by id keeps its own unless `@email` changed it.
    if (!g.change.ref.externalId && !(EMAIL_KEY in g.change.set)) remember(EMAIL_KEY, g.change.ref.email);
    for (const key of g.change.clear) remember(key, null);
    if (g.change.addTags.length || g.change.removeTags.length) {
      // The tags known there now: a webhook may have brought some while the push was in flight (a read
      // under way leaves them alone: held-keys.ts).
      const known = prior.get(TAGS_KEY);
      const before = asTags(known?.remoteValue) ?? asTags(known?.pushedValue) ?? [];
      const removed = new Set(g.change.removeTags);
      remember(TAGS_KEY, tagList([...before, ...g.change.addTags].filter((t) => !removed.has(t))));
      // A tag the ESP held before this write is not segsync's doing (a user's own, seen by a pull since
      // the add was planned, as the first push's adopting pull does, or found there by the connector's
      // write), unless an earlier attempt of this add went unanswered and may have put it there.
      // Recorded as segsync's, it would be removed later.
      const held = new Set([...before, ...(r.tagsHeld ?? [])]);
      const triedEarlier = new Set(g.items.filter((i) => i.op === 'addTag' && i.sent).map((i) => String(i.value)));
      const put = g.change.addTags.filter((t) => !held.has(t) || triedEarlier.has(t));
      const added = addedAfterWrite(addedTags(prior.get(ADDED_TAGS_KEY)), put, g.change.removeTags);
      rows.push({ contactId: g.contactId, esp, key: ADDED_TAGS_KEY, remoteValue: undefined, pushedValue: added, remoteModifiedAt: undefined, pushedAt: now });
      if (put.length) store.noteAddedTags(esp, put, now);
    }
    // An opt-out segsync carried is what the ESP now holds, unless its answer says otherwise (cleaned).
    const consent = r.consent ?? (g.change.optOut ? 'unsubscribed' : undefined);
    if (consent && consentSeen(options, g, consent, prior.get(CONSENT_KEY), now))
      rows.push({
        contactId: g.contactId,
        esp,
        key: CONSENT_KEY,
        remoteValue: consent,
        pushedValue: g.change.optOut ? 'unsubscribed' : prior.get(CONSENT_KEY)?.pushedValue,
        remoteModifiedAt: r.modifiedAt ?? now,
        pushedAt: now,
      });
    // `pushedAt` tells a read of the ESP under way that these keys are newer than what it read (held-keys.ts).
    store.putSyncState(rows);
    if (r.externalId && r.externalId !== g.change.ref.externalId) store.setExternalId(g.contactId, esp, r.externalId);
  }
  settleItems(store, clock, retry, g.items, r, report);
}

/**
 * The ESP no longer holds the record the contact is linked to (or, written by email, refuses to make
 * it again: permanently deleted there): the contact is unlinked there, as when the ESP reports a
 * deletion (links.ts drops its queued writes; it is never recreated). A link that changed while the
 * write was in flight (a pull found the person's new record) is not cut: the operations go again.
 */
function settleGone(options: DrainOptions, retry: RetryPolicy, g: Group, error: SegsyncError, report: DrainReport): void {
  const { store, clock } = options;
  const esp = options.connector.esp;
  const id = g.change.ref.externalId;
  const contact = store.getContact(g.contactId);
  if (!contact) {
    store.completeOutbox(g.items.map((i) => ({ id: i.id, version: i.version })));
    return;
  }
  if (contact.externalIds[esp] !== id) {
    retryLater(store, clock, retry, g.items, error, undefined, report);
    return;
  }
  unlink(store, clock, g.contactId, esp, GONE_ON_WRITE, clock.now(), id);
  store.completeOutbox(g.items.map((i) => ({ id: i.id, version: i.version })));
  report.gone++;
}

/**
 * Whether the consent a push's answer reports may be remembered as seen. One no pull or webhook brought
 * yet (changed on the ESP since) is weighed first: a later pull takes a consent remembered as seen for
 * old news. One that cannot win without the vendor's consent time (a resubscribe) is left for the
 * pull, which has that time.
 */
function consentSeen(options: DrainOptions, g: Group, consent: ConsentStatus, prev: SyncFieldState | undefined, now: number): boolean {
  if (consent === prev?.remoteValue || (g.change.optOut && consent === 'unsubscribed')) return true;
  const contact = options.store.getContact(g.contactId);
  if (!contact || contact.consent?.status === consent) return true;
  if (!takeRemoteConsent(options.store, contact, options.connector.esp, consent, undefined, now)) return false;
  options.onLocalChange?.(g.contactId);
  return true;
}

function settleItems(store: Store, clock: Clock, retry: RetryPolicy, items: OutboxItem[], r: ChangeResult, report: DrainReport): void {
  // An erasure of a record already gone is done.
  if (r.status === 'ok' || r.status === 'gone') {
    store.completeOutbox(items.map((i) => ({ id: i.id, version: i.version })));
    report.ok++;
    return;
  }
  const message = describeError(r.error);
  if (r.status === 'failed') {
    // Only some fields' values refused: those are dead-lettered, and the contact's other operations go
    // again at once without them (not counted as an attempt), so one bad value never holds back the rest.
    const refused = r.keys ? new Set(r.keys) : undefined;
    const spared = refused && items.some((i) => refused.has(i.key)) ? items.filter((i) => !refused.has(i.key)) : [];
    const now = clock.now();
    for (const i of items) {
      if (spared.includes(i)) store.failOutbox(i.id, `sent again without the refused ${[...refused!].join(', ')}: ${message}`, now, false, false);
      else store.failOutbox(i.id, message, now, true);
    }
    report.failed++;
    addRefusal(report.refused, { reason: message, contacts: 1, firstContact: items[0]!.contactId, setAside: spared.length > 0 });
    return;
  }
  retryLater(store, clock, retry, items, r.error, r.retryAfterMs, report);
}

/** Leaves `held`'s operations for a later attempt (counted as one) and returns the batch without them. */
function holdBack(options: DrainOptions, retry: RetryPolicy, batch: [number, OutboxItem[]][], held: HeldBack, report: DrainReport): [number, OutboxItem[]][] {
  const ids = new Set(held.items.map((i) => i.id));
  if (!ids.size) return batch;
  options.store.transaction(() => retryLater(options.store, options.clock, retry, held.items, held.error, undefined, report));
  return batch.map(([contactId, list]): [number, OutboxItem[]] => [contactId, list.filter((i) => !ids.has(i.id))]).filter(([, list]) => list.length > 0);
}

/** Schedules another attempt of `items` after `error` (dead-lettered after the last one). */
function retryLater(
  store: Store,
  clock: Clock,
  retry: RetryPolicy,
  items: OutboxItem[],
  error: SegsyncError,
  retryAfterMs: number | undefined,
  report: DrainReport,
): void {
  const message = describeError(error);
  const rateLimited = error instanceof EspRateLimitError;
  const waiting = rateLimited || error instanceof EspBusyError;
  if (rateLimited) report.rateLimited++;
  report.retried++;
  const now = clock.now();
  for (const i of items) {
    // Waiting out a rate limit (or an earlier write still under way) is not a failed attempt, but it is
    // bounded in time: an operation kept waiting for `maxRateLimitedMs` since it was queued is dead-lettered too.
    const attempt = waiting ? 0 : i.attempts + 1;
    const dead = waiting ? now - i.createdAt >= retry.maxRateLimitedMs : attempt >= retry.maxAttempts;
    const delay = retryDelayMs(waiting ? 0 : i.attempts, retry, retryAfterMs ?? retryAfterOf(error) ?? 0);
    store.failOutbox(i.id, message, now + delay, dead, !waiting);
    if (dead) {
      report.gaveUp++;
      report.gaveUpOn = message;
    }
  }
}

/** Runs `work` over `items` with at most `limit` running at once. */
async function runBounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
