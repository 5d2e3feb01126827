/**
 * Builds the daemon's services from the config: the store, the rules (caches warmed once at start),
 * the connectors and the sync engine. Every intake re-evaluates only the contacts it touched and
 * queues what they now need on each ESP; the scheduler drains the queues.
 */
import type { RawRequest } from '../../connectors/connector';
import { createConnectors } from '../../connectors/registry';
import { describeError, SafetyValveError, StoreError } from '../errors';
import { hugePages } from './huge-pages';
import type { LoadedConfig } from '../config/load';
import type { SegsyncConfig } from '../config/schema';
import type { Logger } from '../log/logger';
import { consentKeptWarning } from '../model/consent';
import type { Clock } from '../model/clock';
import type { EspName } from '../model/types';
import { storeIdentifies, storeTracks } from '../ingest/identity-graph';
import type { IdentifyItem, TrackItem } from '../ingest/identity-graph';
import { SegmentEngine } from '../rules/engine';
import type { ContactEvaluation } from '../rules/engine';
import type { PushLease, Store } from '../store/store';
import { storeNotes } from '../sync/connector-notes';
import { SyncEngine } from '../sync/engine';
import { describeTagLeftBehind, describeUnwritten, fieldsNoLongerWritten, tagsNoLongerOwned } from '../sync/unwritten-fields';
import { describeHolder } from '../sync/push-lease';
import type { DaemonServices, DrainOutcome, IntakeResult, PullOutcome, ReadyReport, ReconcileOutcome, WebhookOutcome } from './services';

/** What the daemon hands the factory (the store is the services' to close from then on). */
export interface WireContext {
  config: SegsyncConfig;
  /** The config as parsed once, with the positions rule errors point at (`config` is its `config`). */
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  logger: Logger;
}

const DAY_MS = 24 * 3_600_000;
/**
 * Contacts one re-evaluation run takes of each kind: a due contact costs up to 0.1 ms at 1 M contacts,
 * so a run holds intake for a few tenths of a second at most; the rest runs next, 150 ms later (see the scheduler).
 */
const CONTACTS_PER_RUN = 5_000;
/**
 * Contacts another process changed, taken a run: each is queued as well as evaluated, which costs
 * about 0.1 ms over three ESPs (5,000 held intake for half a second).
 */
const NOTED_CONTACTS_PER_RUN = 1_000;

/** The services plus the head of the rules' wake-up queue, so the scheduler flips flags on time. */
export type WiredServices = DaemonServices & { nextWakeupAt(): number | undefined };

function flipsOf(evals: ContactEvaluation[]): { flips: number; flipped: number[] } {
  const flipped = evals.filter((e) => e.changed.length > 0);
  return { flips: flipped.reduce((n, e) => n + e.changed.length, 0), flipped: flipped.map((e) => e.contactId) };
}

/** Builds the services the daemon runs on. */
export async function createServices(ctx: WireContext): Promise<WiredServices> {
  const { config, store, clock, logger } = ctx;
  // No worker threads: the daemon evaluates contact by contact (intake, due contacts, catch-ups) and
  // never sweeps every contact, so workers would sit idle while the changes they must hear of before
  // a sweep (and the saved state's contacts kept for their first share) piled up in memory.
  const segments = Object.keys(config.segments).length ? SegmentEngine.fromConfig(ctx.loaded, store, clock, { workers: 0 }) : undefined;
  for (const w of segments?.warnings ?? []) logger.warn({ segment: w.segment }, w.message);
  // The daemon queues what its own writes imply where it makes them: only another process's contact
  // and answer writes are noted for its catch-up. Before the load, which reads the notes' mark.
  store.evaluatesOwnContactWrites();
  if (!store.announceLiveReader()) {
    logger.warn(
      "the store's disk is full: this daemon could not record that it runs, so a large import started meanwhile may set aside the index it reads new events by",
    );
  }
  if (segments) {
    const started = clock.now();
    segments.load();
    const fallback = segments.lastLoad?.scanFallback;
    if (fallback) logger.warn({ reason: fallback }, 'the event scan read on one connection after all (slower, never wrong)');
    const notWritten = segments.lastLoad?.snapshotNotWritten;
    if (notWritten) logger.warn({ reason: notWritten }, 'the event cache snapshot was not written: the next start reads every event again');
    const huge = hugePages();
    if (huge === 'off') {
      logger.info(
        { hint: 'start the daemon with the segsync command, or set GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (docs/deploy.md)' },
        'transparent huge pages are off for this process: the rules caches load about twice as slowly',
      );
    }
    logger.info(
      {
        ms: clock.now() - started,
        eventSnapshot: segments.lastLoad?.fromSnapshot,
        savedState: segments.lastLoad?.fromStateSnapshot,
        savedStateRejected: segments.lastLoad?.stateRejected,
        hugePages: huge,
      },
      'rules caches loaded',
    );
    const reevaluating = segments.lastLoad?.reevaluating ?? 0;
    if (reevaluating) {
      logger.info(
        { contacts: reevaluating },
        'the stored segment answers follow other rules than segsync.yaml now has (a segment added or edited): every contact is evaluated again, and what changes is pushed',
      );
    }
  }
  const connectors = createConnectors(config, {
    clock,
    logger,
    notesFor: (esp) => storeNotes(store, esp, clock),
    ownedTags: config.tags.owned.names,
    ...(config.daemon.publicUrl ? { publicUrl: config.daemon.publicUrl } : {}),
  });
  /** Contacts the rules evaluated inside the running intake transaction (their caches moved with it). */
  let evaluatedInTransaction: number[] | undefined;
  const evaluate = (ids: number[], cause: 'contacts' | 'events'): ContactEvaluation[] => {
    if (!segments) return [];
    evaluatedInTransaction?.push(...ids);
    return cause === 'events' ? segments.onEvents(ids) : segments.onContacts(ids);
  };
  /** One write transaction; when it rolls back, the rules' caches are put back in step with the store. */
  const atomically = <T>(fn: () => T): T => {
    // Inside an enclosing one (a webhook's transaction around the engine's): that one keeps the list.
    if (evaluatedInTransaction) return store.transaction(fn);
    evaluatedInTransaction = [];
    try {
      return store.transaction(fn);
    } catch (err) {
      segments?.resync(evaluatedInTransaction);
      throw err;
    } finally {
      evaluatedInTransaction = undefined;
    }
  };
  const sync = new SyncEngine({
    config,
    store,
    connectors,
    clock,
    logger,
    atomically,
    sender: 'daemon',
    ...(segments ? { onContactsChanged: (ids: number[], cause: 'contacts' | 'events') => void evaluate(ids, cause) } : {}),
  });
  for (const f of fieldsNoLongerWritten(store, sync.mapping)) logger.warn({ esp: f.esp, field: f.key }, describeUnwritten(f));
  for (const t of tagsNoLongerOwned(store, sync.mapping, true)) logger.warn({ esp: t.esp, tag: t.tag, contacts: t.contacts }, describeTagLeftBehind(t));
  if (segments && store.sweptContacts.length) {
    logger.warn(
      { contacts: store.sweptContacts.length },
      'unreadable events were quarantined at open (see `segsync status`); their contacts are evaluated again',
    );
    store.transaction(() => sync.enqueue(flipsOf(segments.onEvents(store.sweptContacts)).flipped));
  }
  /** Whether the last `takeContactChanges` left noted contact changes for the next run. */
  let contactsCut = false;
  /**
   * Without segments no rules engine reads the contact changes another process noted: the contacts
   * are taken here, at most a run's worth, and cleared in the run's transaction.
   */
  const takeContactChanges = (): number[] => {
    const changes = store.contactChanges(NOTED_CONTACTS_PER_RUN);
    contactsCut = changes.length === NOTED_CONTACTS_PER_RUN;
    store.clearContactChanges(changes);
    return changes.map(([id]) => id);
  };
  const schemaReady = new Map<EspName, Promise<void>>();
  /** Each ESP's last real call: readiness follows it, never a fresh probe (which would flap). */
  const lastCall = new Map<EspName, { ok: boolean; detail?: string }>();

  /** Creates missing fields and tag options once per ESP before its first push. */
  const ensureSchema = (esp: EspName): Promise<void> => {
    let p = schemaReady.get(esp);
    if (!p) {
      p = sync.ensureSchema(esp).then((report) => {
        for (const problem of report.problems) logger.warn({ esp, field: problem.field }, `${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`);
      });
      p.catch(() => schemaReady.delete(esp));
      schemaReady.set(esp, p);
    }
    return p;
  };

  const noteFailure = (esp: EspName, err: unknown): never => {
    // The store's own failure (a full disk) is the store check's to show, not the ESP's.
    if (!(err instanceof StoreError)) lastCall.set(esp, { ok: false, detail: describeError(err) });
    throw err;
  };

  /** Who else sends each ESP's queue, as last said in the log (once when it starts, once when it ends). */
  const otherSender = new Map<EspName, PushLease>();
  const noteHolder = (esp: EspName, holder: PushLease | undefined, sent: boolean): void => {
    const known = otherSender.get(esp);
    if (holder && holder.owner !== known?.owner) {
      otherSender.set(esp, holder);
      logger.info(
        { esp, pid: holder.pid, host: holder.host },
        `${esp}: ${describeHolder(holder)} sends this ESP's queue; the daemon sends it again once that ends`,
      );
    } else if (!holder && known && sent) {
      otherSender.delete(esp);
      logger.info({ esp }, `${esp}: the daemon sends this ESP's queue again`);
    }
  };

  const services: WiredServices = {
    esps: sync.esps,

    // Each intake commits its events, the segment answers they change and the outbox operations those
    // imply in one write transaction (BEGIN IMMEDIATE): an acknowledged call is all stored or, after a
    // crash, not at all, and never stored without what it implies.
    async track(items: TrackItem[]): Promise<IntakeResult> {
      return atomically(() => {
        const r = storeTracks(store, items, clock.now());
        const { flips } = flipsOf(evaluate(r.touched, 'events'));
        sync.enqueue(r.touched);
        return { inserted: r.inserted, duplicates: r.duplicates, reevaluated: r.touched.length, flips, conflicts: r.conflicts };
      });
    },

    // Identify links identifiers, moves an identified visitor's anonymous history onto the contact and
    // merges contacts that turn out to be one; the segment answers those moves change are recomputed
    // and queued in the same transaction.
    async identify(items: IdentifyItem[]): Promise<IntakeResult> {
      return atomically(() => {
        const r = storeIdentifies(store, items, clock.now());
        if (r.regathered.length) segments?.resync(r.regathered);
        const evals = [...evaluate(r.eventsArrived, 'events'), ...evaluate([...r.contacts, ...r.regathered], 'contacts')];
        const { flips } = flipsOf(evals);
        const ids = [...new Set([...r.contacts, ...r.eventsArrived, ...r.regathered])];
        sync.enqueue(ids);
        const warnings = r.consentKept.map(({ position, kept }) => ({
          index: position,
          ...consentKeptWarning(items[position]!.contact, kept, 'send the call with its "timestamp" (when they did)'),
        }));
        return { inserted: 0, duplicates: 0, reevaluated: ids.length, flips, conflicts: r.refused, ...(warnings.length ? { warnings } : {}) };
      });
    },

    async webhook(esp: EspName, request: RawRequest): Promise<WebhookOutcome> {
      const r = atomically(() => sync.webhook(esp, request));
      for (const bad of r.rejected) logger.warn({ esp, item: bad.index, reason: bad.message }, 'webhook item refused; the rest of the delivery was applied');
      return {
        status: r.reply?.status ?? 200,
        ...(r.reply?.body !== undefined ? { body: r.reply.body } : {}),
        changes: r.changes,
        events: r.events,
        ignored: r.ignored,
        rejected: r.rejected.length,
      };
    },

    readsEvents(esp: EspName): boolean {
      return sync.connector(esp).pullEvents !== undefined;
    },

    eventsPulledElsewhere(): EspName[] {
      return store.eventsPullsElsewhere();
    },

    async pull(esp: EspName): Promise<PullOutcome> {
      const r = await sync.pull(esp).catch((err: unknown) => noteFailure(esp, err));
      lastCall.set(esp, { ok: true });
      return { esp, pages: r.pages, contacts: r.contacts, changed: r.changed, newestModifiedAt: r.newestModifiedAt };
    },

    async reevaluateDue(now: number): Promise<{ flips: number; queued: number; more: boolean }> {
      // The flags the clock flips and the operations they imply commit together: stored flips whose
      // operations a crash lost would never be sent (the flag no longer changes after the restart).
      return atomically(() => {
        // What another process wrote (contacts and their changes, then new events: an import, a pull,
        // an erase) is evaluated first: the clock's flips follow it.
        const changed = segments ? segments.catchUpContacts(NOTED_CONTACTS_PER_RUN) : [];
        evaluatedInTransaction?.push(...changed.map((e) => e.contactId));
        const noted = segments ? changed.map((e) => e.contactId) : takeContactChanges();
        const arrived = segments?.catchUpRows(CONTACTS_PER_RUN) ?? [];
        evaluatedInTransaction?.push(...arrived.map((e) => e.contactId));
        const due = segments?.reevaluateDue(now, CONTACTS_PER_RUN) ?? [];
        evaluatedInTransaction?.push(...due.map((e) => e.contactId));
        const evals = [...changed, ...arrived, ...due];
        const { flips, flipped } = flipsOf(evals);
        // Another process changed the noted contacts and queued nothing for them (an import of
        // contacts: fields, consent, tags; or answers it stored), so they are queued flip or not; the
        // queue is worked out from the stored state, so a contact that needs nothing costs no call.
        const toQueue = new Set([...noted, ...flipped]);
        const queued = toQueue.size ? sync.enqueue(toQueue) : 0;
        return { flips, queued, more: segments ? segments.hasMoreDue(now) : contactsCut };
      });
    },

    async drainOutbox(esp: EspName): Promise<DrainOutcome> {
      await ensureSchema(esp).catch((err: unknown) => noteFailure(esp, err));
      const r = await sync.drain(esp).catch((err: unknown) => {
        // A safety stop is a state, not a failed job: the engine logged it once, and `status`,
        // /readyz and the metric show it until the queue is forced or becomes harmless.
        if (err instanceof SafetyValveError) return undefined;
        return noteFailure(esp, err);
      });
      if (!r) return { esp, calls: 0, ok: 0, retried: 0, failed: 0, rateLimited: 0 };
      noteHolder(esp, r.heldBy, r.items > 0);
      // Only a drain that called the ESP says anything about it; one with nothing due keeps the last word.
      if (r.calls > 0) {
        const confirmed = r.ok + r.failed + r.rateLimited > 0;
        lastCall.set(esp, confirmed ? { ok: true } : { ok: false, detail: `the last push got no answer it could use (${r.retried} contacts to retry)` });
      }
      return { esp, calls: r.calls, ok: r.ok, retried: r.retried, failed: r.failed, rateLimited: r.rateLimited };
    },

    outboxDepth() {
      return store.outboxCounts();
    },

    quarantined() {
      return store.quarantined(0).total;
    },

    anonymousProfiles() {
      return store.identities.profileCounts();
    },

    async reconcile(esp: EspName): Promise<ReconcileOutcome> {
      const r = await sync.reconcile(esp, config.reconcile.sample !== undefined ? { sample: config.reconcile.sample } : {});
      return { esp, drifted: r.drifted, queued: r.queued };
    },

    async pruneAnonymous(now: number): Promise<number> {
      const pruned = store.transaction(() => store.identities.pruneProfiles(now - config.daemon.anonymousRetentionDays * DAY_MS));
      if (pruned) logger.info({ profiles: pruned, retentionDays: config.daemon.anonymousRetentionDays }, 'anonymous profiles past the retention limit deleted');
      return pruned;
    },

    pushStopped(esp: EspName) {
      return sync.stoppedReason(esp) !== undefined;
    },

    async ready(): Promise<ReadyReport> {
      const checks: ReadyReport['checks'] = {};
      try {
        store.probeWrite();
        checks.store = { ok: true };
      } catch (err) {
        checks.store = { ok: false, detail: describeError(err) };
      }
      for (const esp of sync.esps) {
        const stopped = sync.stoppedReason(esp);
        checks[esp] = stopped ? { ok: false, detail: stopped } : (lastCall.get(esp) ?? { ok: true, detail: 'no call made yet' });
      }
      return { ok: Object.values(checks).every((c) => c.ok), checks };
    },

    nextWakeupAt() {
      return segments?.nextWakeup();
    },

    stopReads() {
      sync.stopReads();
    },

    async close(): Promise<void> {
      for (const c of connectors.values()) await c.close();
      sync.close();
      if (segments) {
        const started = clock.now();
        if (segments.saveState()) logger.info({ ms: clock.now() - started }, 'rules state saved for the next start');
        segments.close();
      }
      store.close();
    },
  };
  return services;
}
