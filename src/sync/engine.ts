/**
 * The sync engine: the local store is the hub, each ESP a spoke. Inbound pulls and webhooks update
 * the store; outbound diffs the desired state against what each ESP holds and drains the outbox in
 * the vendors' largest batches. Vendor-neutral: it only knows `connectors/connector.ts`.
 */
import { isMember } from '../model/membership';
import type { Connector, RawRequest, RemoteEvent, WebhookItemRejection } from '../../connectors/connector';
import { EspTransientError, SegsyncError, describeError, retryAfterOf } from '../errors';
import { toEventRow } from '../store/event-row';
import type { EventRow } from '../store/store';
import type { SegsyncConfig } from '../config/schema';
import type { Logger } from '../log/logger';
import type { Clock } from '../model/clock';
import { requireEmail } from '../model/identity';
import type { EspName, IncomingEvent } from '../model/types';
import type { OutboxInput, OutboxItem, Store } from '../store/store';
import { applyRemoteChanges, applyRemoteContacts, applyTagMemberships } from './inbound';
import type { InboundContext, InboundResult } from './inbound';
import { fieldSpecsFor, resolveMapping, segmentTagNames } from './mapping';
import type { SyncMapping } from './mapping';
import { addRefusal, drainOutbox, emptyReport } from './outbox';
import type { DrainReport, HeldBack } from './outbox';
import { enqueueForContacts, outboxUpdate, plansForContact } from './outbound';
import { summarisePlan } from './plan';
import type { EspPlan } from './plan';
import type { RetryPolicy } from './retry';
import { recordPull, recordPush } from './last-sync';
import { needsFreshView, recordPullBegan, writesNeedingFreshView } from './fresh-view';
import { emailsOf, eraseOps, isErased, suppressErased } from './erasure';
import { reconcileEsp } from './reconcile';
import type { ReconcileReport } from './reconcile';
import { destructiveChanges, safetyStop, setSafetyStop, valveError } from './safety';
import { PushLeases, thisProcess } from './push-lease';

export interface SyncEngineOptions {
  config: SegsyncConfig;
  store: Store;
  connectors: Map<EspName, Connector>;
  clock: Clock;
  logger: Logger;
  retry?: RetryPolicy;
  /**
   * Called with contacts whose local state changed through an ESP (`contacts`) or who received new
   * events (`events`), before their outbound changes are computed: where the rules re-evaluate them,
   * so segment tags fan out too.
   */
  onContactsChanged?: (contactIds: number[], cause: 'contacts' | 'events') => void;
  /**
   * Runs a write transaction (default: the store's). A page a pull or reconcile applies, the segment
   * answers it changes and the operations it queues commit together, so a crash between them cannot
   * leave a change stored whose fan-out is lost. The daemon passes one that keeps the rules' caches
   * in step when it rolls back.
   */
  atomically?: <T>(fn: () => T) => T;
  /** What this process runs (\`daemon\`, \`push\` …): how another process that waits for it names it (push-lease.ts). */
  sender?: string;
}

export interface PullReport {
  esp: EspName;
  pages: number;
  contacts: number;
  changed: number;
  events: number;
  erased: number;
  /** Operations queued for the other ESPs as a result. */
  queued: number;
  newestModifiedAt: number | undefined;
  /** It stopped after a page because the process is stopping (stopReads): the next pull goes on from there. */
  stopped?: boolean;
}

export interface WebhookReport {
  reply: { status: number; body?: string } | undefined;
  changes: number;
  events: number;
  ignored: number;
  queued: number;
  /** Items of the delivery refused, by position: the connector could not read them, or the store would not take them. */
  rejected: WebhookItemRejection[];
}

export interface ContactFilter {
  /** Only these contacts (local ids). */
  contactIds?: number[];
  /** Only members of this segment. */
  segment?: string;
}

/** How long a command waits for another process that holds an ESP's push lease to send what it queued, by default. */
const HAND_OVER_WAIT_MS = 60_000;
/** Between two looks at that process's progress. */
const HAND_OVER_POLL_MS = 500;

/** Pull cursor kinds in the store. */
const CONTACTS_CURSOR = 'contacts';
const EVENTS_CURSOR = 'events';
/** Set once a first full pull of an ESP was applied: segsync has seen what the account holds. */
const ADOPTED_CURSOR = 'adopted';
/** Where the daemon's next sampled reconcile of an ESP starts ('' = from the beginning). */
const RECONCILE_SAMPLE_CURSOR = 'reconcile-sample';

export interface DrainRunOptions {
  /** Send even what the safety valve would stop (`segsync push --force`). */
  force?: boolean;
  /** The valve already passed this queue (a `drainAll` checks it once; nothing else adds to it meanwhile). */
  valveChecked?: boolean;
  onProgress?: (done: number) => void;
}

export class SyncEngine {
  readonly mapping: SyncMapping;
  private readonly inbound: InboundContext;
  private readonly pulling = new Map<EspName, Promise<PullReport>>();
  private readonly leases: PushLeases;
  private stopping = false;

  constructor(private readonly options: SyncEngineOptions) {
    this.mapping = resolveMapping(options.config);
    this.inbound = { store: options.store, mapping: this.mapping, clock: options.clock, logger: options.logger };
    this.leases = new PushLeases(options.store, options.clock, options.logger, thisProcess(options.sender ?? 'segsync'));
  }

  /**
   * Long reads (pulls, read-backs) stop after the page they are applying: the process is stopping. A
   * page is applied with its cursor in one transaction, so what was read stays and the next read goes
   * on from there, as after a crash; a stop no longer waits for a whole account at its rate limit.
   */
  stopReads(): void {
    this.stopping = true;
  }

  /** Gives up the ESPs this engine sends for, so that another process may send at once. */
  close(): void {
    this.leases.release();
  }

  /** The ESPs this engine syncs with (configured, enabled, with a connector). */
  get esps(): EspName[] {
    return this.mapping.esps.filter((e) => this.options.connectors.has(e));
  }

  connector(esp: EspName): Connector {
    const c = this.options.connectors.get(esp);
    if (!c) throw new Error(`no connector for ${esp}`);
    return c;
  }

  /** Creates the fields and tag options each ESP needs. */
  async ensureSchema(esp: EspName): Promise<Awaited<ReturnType<Connector['ensureSchema']>>> {
    const m = this.mapping.perEsp.get(esp)!;
    const types = Object.fromEntries(Object.entries(this.options.config.segments).map(([n, s]) => [n, s.type]));
    const owned = this.options.config.tags.owned;
    const ownedNames = [...owned.names, ...owned[esp]];
    const report = await this.connector(esp).ensureSchema(fieldSpecsFor(m, types), [...new Set([...segmentTagNames(m), ...ownedNames])]);
    // The connector speaks of fields; a segment's property is fixed in the segment's push, not in `fields`.
    const pushedAs = new Map(m.segments.filter((t) => t.as === 'property').map((t) => [t.name, t.segment]));
    for (const p of report.problems) {
      const segment = pushedAs.get(p.field);
      if (segment)
        p.hint = `segment ${segment} (a ${types[segment] === 'flag' ? 'flag: true/false' : 'value'}) is pushed to it: give segments.${segment}.push another property name, or change the property on ${esp}`;
    }
    return report;
  }

  /** Forgets an ESP's pull cursors (contacts and events), so its next pull reads it whole; returns how many there were. */
  resetPull(esp: EspName): number {
    return [CONTACTS_CURSOR, EVENTS_CURSOR].filter((kind) => this.options.store.forgetCursor(esp, kind)).length;
  }

  /**
   * One incremental pull of contacts (and engagement events, where offered) from an ESP. A pull of
   * the same ESP already under way in this engine is joined rather than run twice.
   */
  pull(esp: EspName): Promise<PullReport> {
    const running = this.pulling.get(esp);
    if (running) return running;
    const pull = this.pullRecorded(esp).finally(() => this.pulling.delete(esp));
    this.pulling.set(esp, pull);
    return pull;
  }

  private async pullRecorded(esp: EspName): Promise<PullReport> {
    const began = this.options.clock.now();
    try {
      const report = await this.pullOnce(esp);
      recordPull(this.options.store, esp, { at: this.options.clock.now(), ok: true, contacts: report.contacts });
      // A pull cut short saw only part of what changed there: no write may count on it (fresh-view.ts).
      if (report.stopped)
        this.options.logger.info({ esp, pages: report.pages }, `${esp}: pull stopped after ${report.pages} pages; the next one goes on from there`);
      else recordPullBegan(this.options.store, esp, began);
      return report;
    } catch (err) {
      recordPull(this.options.store, esp, { at: this.options.clock.now(), ok: false, contacts: 0, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }

  private async pullOnce(esp: EspName): Promise<PullReport> {
    const { store, clock } = this.options;
    const connector = this.connector(esp);
    const report: PullReport = { esp, pages: 0, contacts: 0, changed: 0, events: 0, erased: 0, queued: 0, newestModifiedAt: undefined };
    const until = new Date(clock.now());
    const m = this.mapping.perEsp.get(esp);
    // Segment properties are read too, so segsync knows what the ESP holds before it writes them.
    const fields = [...(m?.fields ?? []).map((f) => f.remote), ...(m?.segments ?? []).filter((t) => t.as === 'property').map((t) => t.name)];
    // Pages read from here on may predate a push answered meanwhile: its keys keep the push's record.
    const inbound: InboundContext = { ...this.inbound, readSince: clock.now() };
    for await (const page of connector.pull({ cursor: store.getCursor(esp, CONTACTS_CURSOR), until, fields })) {
      this.atomically(() => {
        const result = applyRemoteContacts(inbound, esp, page.contacts);
        if (page.tagMemberships?.length) mergeInto(result, applyTagMemberships(inbound, esp, page.tagMemberships));
        report.changed += result.changed.size;
        report.queued += this.afterInbound(result);
        store.setCursor(esp, CONTACTS_CURSOR, page.next);
      });
      report.pages++;
      report.contacts += page.contacts.length;
      for (const c of page.contacts) report.newestModifiedAt = Math.max(report.newestModifiedAt ?? 0, c.modifiedAt);
      if (this.stopping) return { ...report, stopped: true };
    }
    if (connector.pullEvents) {
      // Between two pages (one kind of event after another) answers are transient: a daemon in another
      // process waits before pushing while this note stands.
      store.noteEventsPull(esp, true);
      try {
        for await (const page of connector.pullEvents(store.getCursor(esp, EVENTS_CURSOR), until)) {
          const stored = this.atomically(() => {
            const r = this.storeRemoteEvents(esp, page.events);
            store.setCursor(esp, EVENTS_CURSOR, page.next);
            return r;
          });
          for (const bad of stored.rejected) this.options.logger.warn({ esp, event: bad.index, reason: bad.message }, 'pulled event refused');
          report.events += stored.inserted;
          if (this.stopping) return { ...report, stopped: true };
        }
      } finally {
        store.noteEventsPull(esp, false);
      }
    }
    return report;
  }

  /**
   * Reads an ESP back in full and queues repairs for drift in the fields and tags segsync owns there
   * (on a dry run only reports it). Cursors are left alone: the incremental pull goes on as before.
   */
  async reconcile(esp: EspName, options: { dryRun?: boolean; sample?: number } = {}): Promise<ReconcileReport> {
    const { store } = this.options;
    const deps = {
      // Pages read from here on may predate a push answered meanwhile: its keys keep the push's record.
      inbound: { ...this.inbound, readSince: this.options.clock.now() },
      connector: this.connector(esp),
      enqueue: (ids: number[]) => this.enqueue(ids, [esp]),
      afterInbound: (r: InboundResult) => this.afterInbound(r),
      atomically: <T>(fn: () => T) => this.atomically(fn),
      stopped: () => this.stopping,
    };
    const read = { ...(options.dryRun ? { dryRun: true } : {}) };
    if (options.sample === undefined) return reconcileEsp(deps, esp, read);
    // A sample: a share of the contacts segsync knows, or a count, read from where the last sample stopped.
    const limit = options.sample < 1 ? Math.max(1, Math.ceil(options.sample * store.counts().contacts)) : Math.round(options.sample);
    const cursor = store.getCursor(esp, RECONCILE_SAMPLE_CURSOR) || undefined;
    const report = await reconcileEsp(deps, esp, { ...read, limit, ...(cursor ? { cursor } : {}) });
    if (!options.dryRun) store.setCursor(esp, RECONCILE_SAMPLE_CURSOR, report.next ?? '');
    return report;
  }

  /** Verifies and applies one webhook delivery (throws `WebhookError` when verification fails). */
  webhook(esp: EspName, request: RawRequest): WebhookReport {
    const parsed = this.connector(esp).webhook(request);
    const result = applyRemoteChanges(this.inbound, esp, parsed.changes);
    const events = this.storeRemoteEvents(esp, parsed.events);
    const queued = this.afterInbound(result);
    const rejected = [...(parsed.rejected ?? []), ...events.rejected];
    return {
      reply: parsed.reply,
      changes: parsed.changes.length - result.ignored,
      events: events.inserted,
      ignored: result.ignored + events.duplicates,
      queued,
      rejected,
    };
  }

  /** Queues what the given contacts need on every ESP (or the given ones). */
  enqueue(contactIds: Iterable<number>, esps?: readonly EspName[]): number {
    return enqueueForContacts(this.options.store, this.mapping, contactIds, this.options.clock.now(), esps ?? this.esps).queued;
  }

  /**
   * Sends dead-lettered operations of an ESP again, as what their contacts need now: an operation no
   * longer needed (its field no longer mapped, its value changed back to what the ESP holds) is
   * dropped instead of writing a stale value; one whose value changed carries the new value.
   * Returns how many were revived and how many of those were dropped.
   */
  reviveDead(esp: EspName): { revived: number; dropped: number } {
    const { store, clock } = this.options;
    return store.transaction(() => {
      const contacts = new Set(store.deadOutbox(esp, Number.MAX_SAFE_INTEGER).map((d) => d.contactId));
      const revived = store.reviveDead(esp, clock.now());
      return { revived, dropped: enqueueForContacts(store, this.mapping, contacts, clock.now(), [esp]).dropped };
    });
  }

  /** Queues what every contact (or the filtered ones) needs; returns the operations queued. */
  enqueueAll(filter: ContactFilter = {}, esps?: readonly EspName[]): number {
    let queued = 0;
    for (const ids of this.contactPages(filter)) queued += this.enqueue(ids, esps);
    return queued;
  }

  /**
   * What a push would send, per ESP, without writing: the outbox as enqueueing would leave it (new
   * differences, queued operations still needed, none of those the push would drop).
   */
  plan(filter: ContactFilter = {}, esps: readonly EspName[] = this.esps): EspPlan[] {
    const { store } = this.options;
    // In queue order, as the outbox will take them: operations already queued first, then new ones.
    const queued: (OutboxInput & { id: number })[] = [];
    const ops: OutboxInput[] = [];
    const collisions = new Map<EspName, Map<string, number>>();
    for (const ids of this.contactPages(filter)) {
      for (const id of ids) {
        const { fresh, kept } = outboxUpdate(store, this.mapping, id, esps);
        ops.push(...fresh);
        queued.push(...kept.map((p) => ({ id: p.id, esp: p.esp, contactId: id, key: p.key, op: p.op, ...(p.value !== undefined ? { value: p.value } : {}) })));
        for (const p of plansForContact(store, this.mapping, id, esps)) {
          for (const tag of p.collisions) {
            const perTag = collisions.get(p.esp) ?? new Map<string, number>();
            perTag.set(tag, (perTag.get(tag) ?? 0) + 1);
            collisions.set(p.esp, perTag);
          }
        }
      }
    }
    const connectors = new Map([...this.options.connectors].filter(([e]) => esps.includes(e)));
    const inQueueOrder = [...queued.sort((a, b) => a.id - b.id).map(({ id: _id, ...op }) => op), ...ops];
    return summarisePlan(
      store,
      connectors,
      inQueueOrder,
      collisions,
      (esp) => Boolean(store.getCursor(esp, ADOPTED_CURSOR)),
      (esp, mine) => needsFreshView(store, this.mapping, esp, mine, this.options.clock.now()),
    );
  }

  /**
   * Sends one round of what is due for an ESP, unless another process holds its push lease (then
   * `heldBy` names it and nothing is sent). Before the first write to an account segsync pulls it
   * whole (adopting what it already holds), and every round passes the safety valve unless forced:
   * a stop is recorded in the store (`stoppedReason`), the lease given up, and a `SafetyValveError` thrown.
   */
  async drain(esp: EspName, options: DrainRunOptions = {}): Promise<DrainReport> {
    const { store, clock, logger, retry } = this.options;
    const nothing = emptyReport(esp);
    if (store.dueOutbox(esp, clock.now(), 1).length === 0) return nothing;
    const heldBy = this.leases.take(esp);
    if (heldBy) return { ...nothing, heldBy };
    const connector = this.connector(esp);
    const before = connector.requestCount();
    if (!(await this.adopt(esp))) return nothing;
    // The adopting pull is part of what this push sent: its requests are counted with the writes.
    const adoptRequests = connector.requestCount() - before;
    if (!options.valveChecked) {
      try {
        this.passValve(esp, options.force === true);
      } catch (err) {
        // A stopped queue is left to whoever forces it (`segsync push --force` beside the daemon).
        this.leases.release(esp);
        throw err;
      }
    }
    const changed = new Set<number>();
    // A pull that failed before one batch is not tried again (nor logged again) for the next ones of this round.
    const pullFailure: { error?: SegsyncError } = {};
    const r = await drainOutbox({
      store,
      connector,
      clock,
      logger,
      ...(retry ? { retry } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      onLocalChange: (id) => changed.add(id),
      beforeBatch: (items) => this.freshen(esp, items, pullFailure),
      mayClaim: () => this.leases.mayClaim(esp),
    });
    this.afterInbound({ changed, erased: [], ignored: 0 });
    r.requests += adoptRequests;
    if (r.items > 0) recordPush(store, esp, { at: clock.now(), ok: r.failed === 0, contacts: r.ok, calls: r.requests, failed: r.failed });
    return r;
  }

  /**
   * Pulls an ESP before a batch that would write over edits made there segsync may not have seen
   * (fresh-view.ts). A pull already under way is joined; one that began too long ago to count (a long
   * pull) is followed by one more, after which the batch goes. If the pull fails, those writes wait for
   * a later attempt and the rest of the batch goes: opt-outs and tags never wait on a read.
   */
  private async freshen(esp: EspName, items: OutboxItem[], pullFailure: { error?: SegsyncError }): Promise<HeldBack | undefined> {
    const { store, clock, logger } = this.options;
    for (let tries = 0; tries < 2; tries++) {
      const waiting = writesNeedingFreshView(store, this.mapping, esp, items, clock.now());
      if (!waiting.length) return undefined;
      if (pullFailure.error) return { items: waiting, error: pullFailure.error };
      try {
        const pulled = await this.pull(esp);
        // Cut short by a stop: these writes wait for the next run's pull, whatever that pull read.
        if (pulled.stopped)
          return {
            items: waiting,
            error: new EspTransientError(`${esp}: stopping before the pull these writes wait for had finished`, {
              esp,
              hint: 'they go out after a pull of that ESP at the next start',
            }),
          };
      } catch (err) {
        const retryAfterMs = retryAfterOf(err);
        const error = new EspTransientError(`${esp}: could not pull it before writing fields an edit there could win: ${describeError(err)}`, {
          esp,
          cause: err,
          hint: 'these writes wait for a pull of that ESP to succeed (try `segsync pull`); everything else is sent',
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        });
        logger.warn({ esp, code: error.code, waiting: waiting.length }, error.message);
        pullFailure.error = error;
        return { items: waiting, error };
      }
    }
    return undefined;
  }

  /** Why the safety valve stopped an ESP's queue, if it did (cleared by a forced or a harmless push). */
  stoppedReason(esp: EspName): string | undefined {
    return safetyStop(this.options.store, esp);
  }

  /**
   * Pulls an ESP whole once before segsync first writes to it, so it never writes over what it has not
   * seen. False when a stop cut that pull short: nothing may be written yet.
   */
  private async adopt(esp: EspName): Promise<boolean> {
    const { store, clock } = this.options;
    if (store.getCursor(esp, ADOPTED_CURSOR)) return true;
    if ((await this.pull(esp)).stopped) return false;
    store.setCursor(esp, ADOPTED_CURSOR, new Date(clock.now()).toISOString());
    return true;
  }

  private passValve(esp: EspName, force: boolean): void {
    const { store, config, logger } = this.options;
    const found = force ? [] : destructiveChanges(store, esp, config.safety);
    if (found.length) {
      const err = valveError(esp, found, config.safety);
      if (this.stoppedReason(esp) !== err.message) logger.error({ esp, code: err.code, stopped: found }, err.message);
      setSafetyStop(store, esp, err.message);
      throw err;
    }
    if (this.stoppedReason(esp)) {
      logger.warn({ esp, forced: force }, `${esp}: safety stop lifted${force ? ' by --force' : ''}`);
      setSafetyStop(store, esp, '');
    }
  }

  /**
   * Drains an ESP until nothing is due. Operations waiting for a later retry stay queued, unless
   * `waitUntil` (epoch ms) is given: then retries that come due before it are waited for and sent.
   * Returns the summed reports.
   */
  async drainAll(esp: EspName, options: DrainRunOptions & { waitUntil?: number } = {}): Promise<DrainReport> {
    const total = emptyReport(esp);
    const { waitUntil } = options;
    const { clock } = this.options;
    const handOverUntil = waitUntil ?? clock.now() + HAND_OVER_WAIT_MS;
    let queuedWhenHeld: number | undefined;
    let checked = false;
    for (;;) {
      const r = await this.drain(esp, {
        ...(options.force ? { force: true } : {}),
        valveChecked: checked,
        onProgress: (n) => options.onProgress?.(total.items + n),
      });
      if (r.heldBy) {
        // Another process sends this queue: wait for it to send what is queued (or to stop, and then send the rest).
        total.heldBy = r.heldBy;
        const queued = this.queued(esp);
        queuedWhenHeld ??= queued;
        options.onProgress?.(total.items + Math.max(0, queuedWhenHeld - queued));
        if (queued === 0 || clock.now() >= handOverUntil) return total;
        await clock.sleep(HAND_OVER_POLL_MS);
        continue;
      }
      // A round that took items passed the valve (or was forced) over the whole queue.
      if (r.items > 0) checked = true;
      for (const k of ['calls', 'requests', 'ok', 'retried', 'failed', 'rateLimited', 'waitedMs', 'items', 'gaveUp', 'gone'] as const) total[k] += r[k];
      if (r.gaveUpOn !== undefined) total.gaveUpOn = r.gaveUpOn;
      for (const f of r.refused) addRefusal(total.refused, f);
      const progressed = r.ok > 0 || r.failed > 0 || r.gone > 0;
      if (r.items > 0 && progressed) continue;
      if (r.items === 0 && waitUntil === undefined) return total;
      // Everything was deferred (rate limits, 5xx), or only retries are left: wait for the earliest
      // instead of spinning, as long as it comes due in time.
      const next = this.nextAttemptAt(esp);
      if (next === undefined || (waitUntil !== undefined && next > waitUntil)) return total;
      await this.options.clock.sleep(Math.max(1, next - this.options.clock.now()));
    }
  }

  /** Operations queued for an ESP and not dead-lettered. */
  private queued(esp: EspName): number {
    return this.options.store.outboxCounts().find((o) => o.esp === esp)?.pending ?? 0;
  }

  /** Erases a contact (GDPR/CCPA): locally now, and on every ESP through the outbox. */
  erase(contactId: number): boolean {
    const { store, clock } = this.options;
    const contact = store.getContact(contactId);
    if (!contact) return false;
    store.transaction(() => {
      const emails = emailsOf(store, contact, this.esps);
      for (const esp of this.esps) store.removeOutbox(store.pendingOutbox(esp, contactId).map((p) => p.id));
      store.enqueue(
        this.esps.flatMap((esp) => eraseOps(contact, esp, emails)),
        clock.now(),
      );
      suppressErased(store, this.esps, contact, emails, clock.now());
      store.eraseContact(contactId);
    });
    // The rules drop the contact from their caches too: its answers must not outlive it in memory
    // (nor in the state a clean stop saves).
    this.options.onContactsChanged?.([contactId], 'contacts');
    return true;
  }

  private atomically<T>(fn: () => T): T {
    return this.options.atomically ? this.options.atomically(fn) : this.options.store.transaction(fn);
  }

  /** When the earliest queued operation of an ESP is due, if any. */
  nextAttemptAt(esp: EspName): number | undefined {
    return this.options.store.dueOutbox(esp, Number.MAX_SAFE_INTEGER, 1)[0]?.nextAttemptAt;
  }

  /**
   * Stores engagement events an ESP reported, as segsync events keyed by the ESP's event id. Each is
   * checked alone (email, time, limits): a bad one is refused by its position, the others are stored.
   */
  private storeRemoteEvents(esp: EspName, events: RemoteEvent[]): { inserted: number; duplicates: number; rejected: WebhookItemRejection[] } {
    const { store } = this.options;
    const rows: EventRow[] = [];
    const rejected: WebhookItemRejection[] = [];
    events.forEach((e, index) => {
      const email = e.email ?? (e.externalId ? store.findContactByExternalId(esp, e.externalId)?.email : undefined);
      if (!email) return;
      // Engagement of an erased person, pulled or delivered before the ESP's deletion ran, must not
      // bring the contact back.
      if (isErased(store, esp, email, e.externalId)) return;
      try {
        const incoming: IncomingEvent = {
          eventId: `${esp}:${e.eventId}`,
          email: requireEmail(email),
          name: e.name,
          time: e.time,
          properties: e.properties,
          source: esp,
        };
        rows.push(toEventRow(incoming));
      } catch (err) {
        if (!(err instanceof SegsyncError)) throw err;
        rejected.push({ index, message: describeError(err) });
      }
    });
    if (!rows.length) return { inserted: 0, duplicates: 0, rejected };
    const r = store.appendEventRows(rows);
    if (r.touched.length) {
      this.options.onContactsChanged?.(r.touched, 'events');
      this.enqueue(r.touched);
    }
    return { inserted: r.inserted, duplicates: r.duplicates + r.conflicts.length, rejected };
  }

  /** After inbound changes: re-evaluate, erase what the ESP erased, fan out to the other ESPs. */
  private afterInbound(result: InboundResult): number {
    for (const e of result.erased) this.erase(e.contactId);
    const ids = [...result.changed];
    if (!ids.length) return 0;
    this.options.onContactsChanged?.(ids, 'contacts');
    // The source ESP is diffed too: its own values are known there and produce nothing, but a
    // segment flag that changed because of its update must reach it as well.
    return this.enqueue(ids);
  }

  private *contactPages(filter: ContactFilter): Generator<number[]> {
    const { store } = this.options;
    const keep = (id: number): boolean => !filter.segment || store.getSegmentStates(id).some((s) => s.segment === filter.segment && isMember(s.value));
    if (filter.contactIds) {
      yield filter.contactIds.filter(keep);
      return;
    }
    let after = 0;
    for (;;) {
      const ids = store.contactIds(after, 1000);
      if (!ids.length) return;
      after = ids[ids.length - 1]!;
      yield ids.filter(keep);
    }
  }
}

function mergeInto(into: InboundResult, from: InboundResult): void {
  for (const id of from.changed) into.changed.add(id);
  into.erased.push(...from.erased);
  into.ignored += from.ignored;
}
