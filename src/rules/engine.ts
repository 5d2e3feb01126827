/**
 * The segment engine: the one object the CLI, the sync engine and the daemon use. It compiles the
 * rules, keeps the in-memory caches in step with the store, answers "which segments is this contact
 * in" for one contact or everyone, stores the answers and each contact's next wake-up time, and
 * re-evaluates exactly the contacts whose answers flip by the clock.
 */
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../model/clock';
import type { FieldValue } from '../model/types';
import { StoreFullError } from '../errors';
import type { SegmentState, Store } from '../store/store';
import type { Knowledge, RuleIssue, RuleSource } from './check';
import { ContactCache, contactView } from './contact-cache';
import type { ContactColumns } from './contact-cache';
import { FailedValue } from './context';
import type { ContactView } from './context';
import { AnswerTable } from './answer-table';
import { finite, sameAnswer } from './answers';
import { columnsFromEvents, EventCache } from './event-cache';
import { rulesFingerprint } from './fingerprint';
import { flipTimes, nextChanges } from './next-change';
import { packState, stateLayout, unpackState } from './state-snapshot';
import type { NextChange } from './next-change';
import { WakeupHeap } from './heap';
import { NextChanges } from './next-changes';
import { RuleSet, sourcesFromConfig } from './ruleset';
import type { Evaluation } from './ruleset';
import { emptyPart, mergeFigures, sweepRange } from './sweep';
import type { SweepPart } from './sweep';
import { defaultWorkers, MIN_CONTACTS_PER_THREAD, SweepPool, SweepWorkerError } from './sweep-pool';

/** A segment answer that changed. */
export interface SegmentChange {
  contactId: number;
  segment: string;
  /** The previous answer (false / null when the contact was never in it). */
  from: FieldValue;
  to: FieldValue;
}

/** The outcome of evaluating one contact. */
export interface ContactEvaluation {
  contactId: number;
  /** Every segment's answer now. */
  states: SegmentState[];
  changed: SegmentChange[];
  /** When an answer can next change by the clock alone (the contact's wake-up); undefined if never. */
  nextChangeAt: number | undefined;
  /** Per segment, in `states` order: when its answer can next change by the clock alone; undefined if never. */
  segmentWakeups: (number | undefined)[];
  /** Segments whose rule failed for this contact, with why (their answer is false / null). */
  errors: { segment: string; message: string }[];
}

/** Per-segment figures of a full recompute. */
export interface SegmentSummary {
  segment: string;
  kind: 'flag' | 'value';
  /** Contacts in it (flags: true; values: not null). */
  members: number;
  entered: number;
  left: number;
  /** Value segments: contacts whose value changed to another value. */
  changed: number;
  errors: number;
  /** Value segments: the most common values with their counts. */
  topValues: [string, number][];
}

export interface RecomputeSummary {
  contacts: number;
  events: number;
  segments: SegmentSummary[];
  /** Contacts with at least one changed answer. */
  contactsChanged: number;
  /** threads: how many threads evaluated (the main one and the rules workers). */
  timings: { loadMs: number; evaluateMs: number; saveMs: number; threads: number };
}

export interface EngineOptions {
  /** Worker threads for full recomputes besides the main one (default: see `defaultWorkers`); 0: none. */
  workers?: number;
  /** Fewest contacts per thread worth a worker (default MIN_CONTACTS_PER_THREAD; tests set it low). */
  minContactsPerThread?: number;
}

export type ProgressFn = (phase: 'load' | 'evaluate', done: number, total: number) => void;

const SAVE_BATCH = 5000;
/** Due contacts a clock-driven re-evaluation takes per transaction. */
const DUE_BATCH = 20_000;
/** Contacts the main thread evaluates before storing their changes (bounds what a sweep holds). */
const SWEEP_CHUNK = 65_536;

/** What the store has seen, for "did you mean" in rules. */
export function storeKnowledge(store: Store, declaredFields: string[] = []): Knowledge {
  const eventProperties = new Map<string, Set<string>>();
  for (const { event, property } of store.eventPropertyNames(20_000)) {
    let set = eventProperties.get(event);
    if (!set) eventProperties.set(event, (set = new Set()));
    set.add(property);
  }
  return {
    eventNames: store.eventNames().map((n) => n.name),
    eventProperties,
    propertyNames: [...new Set([...declaredFields, ...store.propertyNames()])],
  };
}

export class SegmentEngine {
  private events: EventCache | undefined;
  private contacts: ContactCache | undefined;
  /** The stored answers, by segment and contact id. */
  private prev = new AnswerTable([], 0);
  /** The next change time last computed per contact (undefined: not computed in this process). */
  private nextAt = new NextChanges();
  /** Event rows up to this one are in the cache; later ones per contact are tracked in `rowOf`. */
  private loadedRow = 0;
  private readonly rowOf = new Map<number, number>();
  /** Event rows up to this one were checked for rows the engine did not read (see `catchUpRows`). */
  private checkedRow = 0;
  /** The store's last record of deleted top event rows this engine looked past (see `rereadReusedRows`). */
  private reuseSeq = 0;
  /** Records being worked through, a run at a time: their floor, the top row then, the contacts read again so far. */
  private rereading: { seq: number; floor: number; top: number; done: Set<number> } | undefined;
  /** The last `reevaluateDue` stopped at its limit. */
  private dueCut = false;
  /** The last `catchUpContacts` left noted contact changes for the next. */
  private contactsCut = false;
  /** The store's contact change mark when the caches were read: changes noted at or below it, they hold (see `catchUpContacts`). */
  private contactMark = 0;
  /** Contacts to evaluate at the next catch-up: events read after the snapshot or stored by another process, evaluations rolled back. */
  private readonly unevaluated = new Set<number>();
  private readonly heap = new WakeupHeap();
  /** The contacts as the loaded state packed them, until the workers take their share (see poolFor). */
  private savedColumns: ContactColumns | undefined;
  private pool: SweepPool | undefined;
  /** Why the workers were given up (the engine then sweeps on one thread). */
  poolError: SweepWorkerError | undefined;
  /**
   * The rules' fingerprint while the stored answers follow other rules: every contact waits in
   * `unevaluated`, and once none waits the store records that they follow these (see fingerprint.ts).
   */
  private pendingFingerprint: string | undefined;
  /** These rules' fingerprint, and the one the store recorded when they were loaded (see `checkRulesRecord`). */
  private fingerprint = '';
  private recordedAtLoad: string | undefined;
  /** Other connections' writes to what the caches hold, counted when they were loaded (see `saveState`). */
  private foreignMark = 0;
  /** Contacts whose cached state changed since the workers last heard of it. */
  private readonly dirty = new Set<number>();
  private readonly workers: number;
  private readonly minContactsPerThread: number;

  constructor(
    readonly rules: RuleSet,
    private readonly store: Store,
    private readonly clock: Clock,
    options: EngineOptions = {},
  ) {
    this.workers = options.workers ?? defaultWorkers();
    this.minContactsPerThread = options.minContactsPerThread ?? MIN_CONTACTS_PER_THREAD;
  }

  /** Compiles the segments of a loaded segsync.yaml, checking names against what the store has seen. */
  static fromConfig(loaded: LoadedConfig, store: Store, clock: Clock, options: EngineOptions = {}): SegmentEngine {
    return SegmentEngine.fromSources(sourcesFromConfig(loaded), store, clock, Object.keys(loaded.config.fields), options);
  }

  /** Compiles rule sources (tests and tools without a config file). */
  static fromSources(sources: RuleSource[], store: Store, clock: Clock, declaredFields: string[] = [], options: EngineOptions = {}): SegmentEngine {
    return new SegmentEngine(RuleSet.compile(sources, storeKnowledge(store, declaredFields)), store, clock, options);
  }

  /** Problems that do not stop the rules from running (names not seen yet). */
  get warnings(): RuleIssue[] {
    return this.rules.warnings;
  }

  /** True once the caches are built (after `load` or `recomputeAll`). */
  get loaded(): boolean {
    return this.events !== undefined;
  }

  /** Builds the in-memory caches from the store (the cold start). */
  load(onProgress?: ProgressFn): void {
    this.close();
    this.rowOf.clear();
    this.unevaluated.clear();
    this.foreignMark = this.store.foreignRulesWrites();
    // Read before the caches: a contact whose version is still this one later was read as it is.
    this.contactMark = this.store.contactChangeMark();
    // Likewise: a delete recorded later may have given its ids to rows the caches read, or not.
    this.reuseSeq = this.store.eventRowReuse(0)?.seq ?? 0;
    this.rereading = undefined;
    const t0 = performance.now();
    this.events = this.loadEvents(onProgress);
    // Contacts with events: the workers start on their code and rules while the rest loads.
    this.spawnPool(this.events.shared.offsets.length - 1);
    const t1 = performance.now();
    const saved = this.store.readRulesState(stateLayout(this.rules));
    const state = saved && unpackState(this.rules, saved);
    let t2: number;
    this.heap.clear();
    // Only while every change to a contact since this load reaches `dirty`, which needs the pool.
    this.savedColumns = this.pool ? state?.columns : undefined;
    if (state) {
      this.contacts = state.contacts;
      this.prev = state.answers;
      t2 = performance.now();
      this.nextAt = NextChanges.adopt(state.nextAt);
      const { times, ids } = this.nextAt.finite();
      this.heap.assign(times, ids);
    } else {
      this.contacts = ContactCache.load(this.store, this.rules.needs.properties, this.rules.needs.email);
      t2 = performance.now();
      this.readAnswers(this.contacts.maxId + 1);
    }
    this.lastLoad!.fromStateSnapshot = state !== undefined;
    this.lastLoad!.stateRejected = saved !== undefined && state === undefined;
    // Answers stored under other rules (a segment added, renamed or edited; or never recorded): every
    // contact is evaluated again by the catch-ups, a run at a time, and what flips is pushed.
    this.fingerprint = rulesFingerprint(this.rules);
    this.recordedAtLoad = this.store.answersFingerprint();
    this.pendingFingerprint = this.recordedAtLoad === this.fingerprint ? undefined : this.fingerprint;
    if (this.pendingFingerprint) for (let id = 0; id <= this.contacts.maxId; id++) if (this.contacts.has(id)) this.unevaluated.add(id);
    this.lastLoad!.reevaluating = this.pendingFingerprint ? this.unevaluated.size : 0;
    this.lastLoad!.timings = { eventsMs: t1 - t0, contactsMs: t2 - t1, answersMs: performance.now() - t2 };
  }

  /** The stored answers and wake-ups of contact ids below `size`, from their tables. */
  private readAnswers(size: number): void {
    this.prev = new AnswerTable(this.rules.valued, size);
    const index = new Map(this.rules.segments.map((s, i) => [s.name, i]));
    this.store.forEachSegmentAnswer((contactId, segment, value) => {
      const i = index.get(segment);
      if (i !== undefined && contactId < size) this.prev.set(i, contactId, value);
    });
    // The stored wake-ups are known, so a recompute rewrites only the ones that moved; the heap holds
    // them at once, so due contacts wake up even before the first recompute.
    this.nextAt = new NextChanges(size, Infinity);
    this.store.forEachWakeup((contactId, at) => {
      if (contactId < size) this.nextAt.set(contactId, at);
    });
    const { times, ids } = this.nextAt.finite();
    this.heap.assign(times, ids);
  }

  /**
   * Saves the contacts as rules read them, the stored answers and the wake-ups (and the event cache,
   * see `saveEvents`), so the next start reads them at once instead of row by row (a clean stop calls
   * this). Saved only when this engine's caches hold exactly what the tables hold (every write in this
   * process reaches the engine): no other connection wrote contacts, properties, tags, answers,
   * wake-ups or event rows other than new ones since the load, or every contact such writes touched
   * was read again since (`catchUpContacts`: each write notes its contacts, and no note is left).
   * Says whether it saved.
   */
  saveState(): boolean {
    if (!this.loaded) return false;
    // One write transaction: nobody writes between the checks and the snapshots they allow.
    return this.store.transaction(() => {
      this.checkRulesRecord();
      if (!this.caughtUpWithOthers()) return false;
      // A last check that the caches followed every write of this process: a contact created or
      // erased without the engine told would otherwise outlive this process in the saved state.
      if (this.store.contactCount() !== this.contacts!.size) return false;
      this.store.writeRulesState(stateLayout(this.rules), packState({ contacts: this.contacts!, answers: this.prev, nextAt: this.nextAt.snapshot() }));
      this.saveEvents();
      return true;
    });
  }

  /**
   * Whether every write another connection made to what the caches hold since the load is in them. A
   * contact noted before the load with a version at or below its mark was read as it is; any later
   * note stays until `catchUpContacts` read that contact again, so an empty feed means none is missed.
   * Rows stored at the ids of deleted top rows are read by `catchUpRows` before it forgets the delete.
   */
  private caughtUpWithOthers(): boolean {
    const foreign = this.store.foreignRulesWrites();
    if (Number.isNaN(foreign)) return false;
    if (foreign === this.foreignMark) return true;
    return this.store.contactChanges(1).length === 0 && this.store.eventRowReuse(this.reuseSeq) === undefined;
  }

  /**
   * Rewrites the event cache snapshot from memory when the next start would otherwise re-read many
   * contacts one by one: all of them when an erase or a merge dropped it, or those with rows stored
   * since it. Only when this process read every row stored since its load (another connection's new
   * rows stay after the snapshot; its changes and deletes already stopped the save, see `saveState`).
   */
  private saveEvents(): void {
    const layout = EventCache.layoutOf(this.rules.plan);
    const top = this.store.eventCountBound();
    const saved = this.store.readEventCache(layout)?.maxEventRow;
    // Re-reading a contact costs about what writing 200 cached events does: below that, the stop
    // would spend more on the snapshot than the next start saves.
    if (saved !== undefined && (top - saved) * 200 <= this.events!.stats().events) return;
    for (const [id, row] of this.store.lastEventRows(this.loadedRow, top)) if ((this.rowOf.get(id) ?? this.loadedRow) < row) return;
    this.store.writeEventCache(layout, top, this.events!.serialize());
  }

  /**
   * The event cache from the store's snapshot plus the rows stored since, or from a full scan (which
   * then writes a fresh snapshot so the next start is fast).
   */
  private loadEvents(onProgress?: ProgressFn): EventCache {
    const plan = this.rules.plan;
    const layout = EventCache.layoutOf(plan);
    const snap = this.store.readEventCache(layout);
    const cache = snap && EventCache.fromSnapshot(plan, snap.parts);
    if (snap && cache) {
      this.loadedRow = snap.maxEventRow;
      const touched = new Set<number>();
      for (const { width, values } of this.store.scanEventChunks([], [], snap.maxEventRow))
        for (let i = 0; i < values.length; i += width) touched.add(values[i] as number);
      for (const id of touched) {
        const fresh = this.store.eventsAfter(id, snap.maxEventRow);
        cache.append(
          id,
          fresh.map((f) => f.event),
        );
        this.rowOf.set(id, fresh[fresh.length - 1]!.row);
        // Stored by this process before its stop, or by another one (an import) without evaluating.
        this.unevaluated.add(id);
      }
      this.checkedRow = this.loadedRow;
      this.lastLoad = { fromSnapshot: true, eventsAfterSnapshot: touched.size, snapshotRejected: false };
      return cache;
    }
    // No snapshot, or one that fails its check (a torn or damaged write): every event is read again
    // and a fresh snapshot replaces the bad one.
    this.loadedRow = this.store.eventCountBound();
    const scanned = EventCache.load(this.store, plan, onProgress && ((d, t) => onProgress('load', d, t)), this.loadedRow);
    let snapshotNotWritten: string | undefined;
    try {
      this.store.writeEventCache(layout, this.loadedRow, scanned.serialize());
    } catch (err) {
      // The snapshot only makes the next start fast: a full disk costs that, not this start.
      if (!(err instanceof StoreFullError)) throw err;
      snapshotNotWritten = err.message;
    }
    this.checkedRow = this.loadedRow;
    this.lastLoad = {
      fromSnapshot: false,
      eventsAfterSnapshot: 0,
      snapshotRejected: snap !== undefined,
      ...(this.store.scanFallback ? { scanFallback: this.store.scanFallback } : {}),
      ...(snapshotNotWritten ? { snapshotNotWritten } : {}),
    };
    return scanned;
  }

  /** How the last `load` got its events and the rest of its state (for status output and benchmarks). */
  lastLoad:
    | {
        fromSnapshot: boolean;
        eventsAfterSnapshot: number;
        snapshotRejected: boolean;
        fromStateSnapshot?: boolean;
        /** Why the full scan read on one connection after all (slower, never wrong). */
        scanFallback?: string;
        /** Why the event cache snapshot of a full scan could not be written (the next start scans again). */
        snapshotNotWritten?: string;
        /** A saved rules state was there but failed its check (cut, damaged or another layout): the tables were read. */
        stateRejected?: boolean;
        /** Contacts to evaluate again because the stored answers follow other rules (0: they follow these). */
        reevaluating?: number;
        timings?: { eventsMs: number; contactsMs: number; answersMs: number };
      }
    | undefined;

  /** Evaluates every contact, stores what changed, and rebuilds the wake-up heap. */
  recomputeAll(onProgress?: ProgressFn): RecomputeSummary {
    const summary = this.sweep(this.clock.now(), true, onProgress);
    // Every contact was just evaluated from the caches, and what changed is stored.
    this.unevaluated.clear();
    this.store.setAnswersFingerprint(this.fingerprint);
    this.recordedAtLoad = this.fingerprint;
    this.pendingFingerprint = undefined;
    return summary;
  }

  /**
   * Evaluates every contact as of `at` (the same evaluation `explain --at` shows) without storing
   * anything: entered / left / changed compare with the answers stored now.
   */
  evaluateAllAt(at: number, onProgress?: ProgressFn, onContact?: (contactId: number, values: FieldValue[]) => void): RecomputeSummary {
    return this.sweep(at, false, onProgress, onContact);
  }

  private sweep(now: number, save: boolean, onProgress?: ProgressFn, onContact?: (contactId: number, values: FieldValue[]) => void): RecomputeSummary {
    const t0 = performance.now();
    if (!this.loaded) this.load(onProgress);
    const t1 = performance.now();
    const segs = this.rules.segments;
    const contacts = this.contacts!;
    const total = contacts.size;
    const pool = onContact ? undefined : this.poolFor(total);
    const answers = this.prev;
    answers.grow(contacts.maxId + 1);
    const figures = emptyPart(this.rules);
    let contactsChanged = 0;
    let saveMs = 0;
    let done = 0;
    let batch: { contactId: number; states: SegmentState[]; nextChangeAt: number | undefined }[] = [];
    // Each part is stored as soon as it is evaluated, in batches: the main thread stores its chunks
    // while the workers still evaluate theirs.
    const take = (part: SweepPart, fromWorker: boolean): void => {
      const s = performance.now();
      mergeFigures(figures, part);
      let k = 0;
      for (let c = 0; c < part.ids.length; c++) {
        const id = part.ids[c]!;
        const states: SegmentState[] = [];
        for (; k < part.changeIds.length && part.changeIds[k] === id; k++) {
          const i = part.changeSegments[k]!;
          const value = part.changeValues[k]!;
          if (save && fromWorker) this.prev.set(i, id, value);
          states.push({ contactId: id, segment: segs[i]!.name, value, since: now });
        }
        if (states.length) contactsChanged++;
        if (!save) continue;
        const next = this.schedule(id, part.next[c]!);
        if (states.length || next.write) batch.push({ contactId: id, states, nextChangeAt: next.at });
        if (batch.length >= SAVE_BATCH) {
          this.store.saveEvaluations(batch);
          batch = [];
        }
      }
      if (batch.length) this.store.saveEvaluations(batch);
      batch = [];
      saveMs += performance.now() - s;
      done += part.ids.length;
      if (done < total) onProgress?.('evaluate', done, total);
    };
    const from = pool?.mainFrom ?? 0;
    if (pool) {
      pool.begin(this.dirty, this.rules, this.events!, contacts, this.prev, now, save);
      this.dirty.clear();
    }
    const top = contacts.maxId + 1;
    for (let lo = from; lo < top; lo += SWEEP_CHUNK)
      take(sweepRange(this.rules, contacts, this.events!, answers, lo, Math.min(top, lo + SWEEP_CHUNK), now, save, onContact), false);
    if (pool) {
      let parts: SweepPart[];
      try {
        parts = pool.finish();
      } catch (err) {
        // What the main thread stored is in the store: read everything back, then sweep on one thread.
        this.dropPool(err);
        this.load(onProgress);
        return this.sweep(now, save, onProgress, onContact);
      }
      for (const part of parts) take(part, true);
    }
    onProgress?.('evaluate', total, total);
    const t2 = performance.now();
    const summary: SegmentSummary[] = segs.map((seg, i) => ({
      segment: seg.name,
      kind: seg.kind,
      members: figures.members[i]!,
      entered: figures.entered[i]!,
      left: figures.left[i]!,
      changed: figures.changed[i]!,
      errors: figures.errors[i]!,
      // Ties in key order: the same top values however the contacts were split across threads.
      topValues: [...(figures.valueCounts[i] ?? [])]
        .sort((a, b) => b[1] - a[1] || (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0))
        .slice(0, 5)
        .map(([v, n]): [string, number] => [JSON.stringify(v), n]),
    }));
    return {
      contacts: total,
      events: this.events!.stats().events,
      segments: summary,
      contactsChanged,
      timings: { loadMs: t1 - t0, evaluateMs: t2 - t1 - saveMs, saveMs, threads: pool?.threads ?? 1 },
    };
  }

  /** The worker pool for a sweep over `contacts` contacts, attached on first use; undefined: one thread. */
  private poolFor(contacts: number): SweepPool | undefined {
    if (this.pool?.ready) return this.pool;
    if (!this.pool) this.spawnPool(contacts);
    if (!this.pool) return undefined;
    const saved = this.savedColumns;
    this.savedColumns = undefined;
    try {
      // Handed the saved columns, the workers hear of the contacts changed since in the next sweep's delta.
      if (!this.pool.attach(this.events!, this.contacts!, this.prev, saved)) this.dirty.clear();
    } catch (err) {
      this.dropPool(err);
    }
    return this.pool;
  }

  /** Starts the workers when `contacts` make them worth it (they load while the caller goes on). */
  private spawnPool(contacts: number): void {
    const workers = Math.min(this.workers, Math.floor(contacts / this.minContactsPerThread) - 1);
    if (workers < 1 || this.poolError) return;
    try {
      this.pool = SweepPool.spawn(this.rules, workers);
    } catch (err) {
      this.dropPool(err);
    }
  }

  private dropPool(err: unknown): void {
    this.pool?.close();
    this.pool = undefined;
    this.savedColumns = undefined;
    this.poolError = err instanceof SweepWorkerError ? err : new SweepWorkerError((err as Error).message, { cause: err });
  }

  /** Stops the rules workers (a closed engine can still evaluate, on one thread). */
  close(): void {
    this.pool?.close();
    this.pool = undefined;
    this.savedColumns = undefined;
  }

  /** Notes that a contact's cached state changed, so the worker owning it is told before its next sweep. */
  private touch(id: number): void {
    if (this.pool) this.dirty.add(id);
  }

  /** Records a contact's next change in the heap; says whether the stored wake-up must be written. */
  private schedule(id: number, nextChangeAt: number): { at: number | undefined; write: boolean } {
    const at = Number.isFinite(nextChangeAt) ? nextChangeAt : undefined;
    const before = this.nextAt.get(id);
    this.nextAt.set(id, at ?? Infinity);
    if (at !== undefined && at !== before) this.heap.push(at, id);
    // Unknown before (a new process): an infinite next change leaves any stale stored wake-up, which
    // is harmless (it re-evaluates once and clears itself).
    return { at, write: before === undefined ? at !== undefined : (at ?? Infinity) !== before };
  }

  private viewOf(id: number): { view: ContactView | undefined; evaluate: (now: number) => Evaluation } {
    if (this.contacts && this.events) {
      const view = this.contacts.view(id);
      const slice = this.events.slice(id);
      return { view, evaluate: (now) => this.rules.evaluate(view!, slice.cols, slice.start, slice.end, now) };
    }
    const c = this.store.getContact(id);
    const view = c && contactView(c);
    const events = c ? this.store.eventsOf(id) : [];
    const cols = columnsFromEvents(this.rules.plan, events);
    return { view, evaluate: (now) => this.rules.evaluate(view!, cols, 0, events.length, now) };
  }

  private previous(id: number): (FieldValue | undefined)[] {
    if (this.loaded) return this.prev.row(id);
    const stored = new Map(this.store.getSegmentStates(id).map((s) => [s.segment, s.value]));
    return this.rules.segments.map((s) => stored.get(s.name));
  }

  /**
   * Evaluates one contact from the current caches (or the store when not loaded) and, unless
   * `save` is false, stores the answers that changed and the next wake-up. A changed answer is
   * stamped `since` (per segment index when a function: the time it flipped), else `now`.
   */
  evaluateContact(
    contactId: number,
    options: { now?: number; save?: boolean; since?: number | ((segment: number) => number) } = {},
  ): ContactEvaluation | undefined {
    const now = options.now ?? this.clock.now();
    const save = options.save !== false;
    const { view, evaluate } = this.viewOf(contactId);
    if (!view) return undefined;
    const ev = evaluate(now);
    const prev = this.previous(contactId);
    const states: SegmentState[] = [];
    const changed: SegmentChange[] = [];
    const errors: ContactEvaluation['errors'] = [];
    const writes: SegmentState[] = [];
    const sinceOf = typeof options.since === 'function' ? options.since : (): number => (options.since as number | undefined) ?? now;
    this.rules.segments.forEach((seg, i) => {
      const raw = ev.values[i];
      if (raw instanceof FailedValue) errors.push({ segment: seg.name, message: raw.error.message });
      const value = this.rules.stored(i, raw);
      const state = { contactId, segment: seg.name, value, since: now };
      if (!sameAnswer(prev[i], value)) {
        state.since = sinceOf(i);
        changed.push({ contactId, segment: seg.name, from: prev[i] ?? (seg.kind === 'flag' ? false : null), to: value });
        writes.push({ ...state });
        if (save && this.loaded) {
          this.prev.set(i, contactId, value);
          this.touch(contactId);
        }
      }
      states.push(state);
    });
    const at = finite(ev.nextChangeAt);
    if (save) {
      this.store.saveEvaluation(contactId, writes, at);
      if (this.loaded) this.schedule(contactId, ev.nextChangeAt);
    }
    return { contactId, states, changed, nextChangeAt: at, segmentWakeups: [...ev.segmentNext].map(finite), errors };
  }

  /** When each segment's answer next changes by the clock alone, exactly (see next-change.ts). Nothing is stored. */
  nextChanges(contactId: number, now: number = this.clock.now()): NextChange[] | undefined {
    const { view, evaluate } = this.viewOf(contactId);
    return view && nextChanges(this.rules, evaluate, now);
  }

  /**
   * Brings a due contact up to `now`: each answer that flipped since its wake-up `from` is stamped
   * with the time it flipped, then it is evaluated and stored as of `now`.
   */
  private catchUp(contactId: number, from: number, now: number): ContactEvaluation | undefined {
    // Woken on time (the daemon's timer): every flip is at `now`, and one evaluation does.
    if (from >= now) return this.evaluateContact(contactId, { now });
    const { view, evaluate } = this.viewOf(contactId);
    if (!view) return undefined;
    const flippedAt = flipTimes(this.rules, evaluate, this.previous(contactId), from, now);
    return this.evaluateContact(contactId, { now, since: (i) => flippedAt[i] ?? now });
  }

  /** New or changed events for these contacts: re-read them into the cache and re-evaluate only them. */
  onEvents(contactIds: Iterable<number>): ContactEvaluation[] {
    return this.store.transaction(() => this.eventsArrived(contactIds));
  }

  /**
   * Reads and evaluates the contacts with event rows this engine never heard of (another process
   * stored them: an import, a tracking call to another daemon) and those whose rows the load read
   * after the snapshot; the daemon calls this on its re-evaluation timer. At most `limit` contacts a
   * call (the rest wait for the next), so a large import never holds the daemon for long.
   */
  catchUpRows(limit = 20_000): ContactEvaluation[] {
    if (!this.events) return [];
    this.checkRulesRecord();
    this.rereadReusedRows(limit);
    const top = this.store.eventCountBound();
    if (top > this.checkedRow) {
      for (const [id, row] of this.store.lastEventRows(this.checkedRow, top)) if ((this.rowOf.get(id) ?? this.loadedRow) < row) this.unevaluated.add(id);
      this.checkedRow = top;
    }
    if (!this.unevaluated.size) {
      this.answersFollowRules();
      return [];
    }
    const ids: number[] = [];
    for (const id of this.unevaluated) {
      if (ids.length === limit) break;
      ids.push(id);
    }
    for (const id of ids) this.unevaluated.delete(id);
    return this.store.transaction(() => {
      const out = this.eventsArrived(ids);
      if (!this.unevaluated.size) this.answersFollowRules();
      return out;
    });
  }

  /**
   * Another process deleted the newest event rows since this engine last looked, and SQLite gave
   * their ids to rows stored since, which the id marks had passed. Every contact with a row above
   * the floor (the highest row left by a delete) is read again whole, since it may have been read in
   * part, and waits for evaluation: at most `limit` a run, and the records are forgotten once every
   * such contact was read.
   */
  private rereadReusedRows(limit: number): void {
    if (!this.rereading) {
      const reuse = this.store.eventRowReuse(this.reuseSeq);
      if (!reuse) return;
      this.rereading = { ...reuse, top: this.store.eventCountBound(), done: new Set() };
    }
    const r = this.rereading;
    this.store.transaction(() => {
      let read = 0;
      for (const [id] of this.store.lastEventRows(r.floor, r.top)) {
        if (r.done.has(id)) continue;
        if (read === limit) return;
        this.readEventsWhole(id);
        this.touch(id);
        this.unevaluated.add(id);
        r.done.add(id);
        read++;
      }
      this.store.forgetEventRowReuse(r.seq);
      this.reuseSeq = r.seq;
      this.rereading = undefined;
    });
  }

  /** Replaces a contact's cached events with all its stored rows, and its row mark with the last of them. */
  private readEventsWhole(contactId: number, exists = true): void {
    const rows = exists ? this.store.eventsAfter(contactId, 0) : [];
    // Read once, in row order for the last row, then put in the order eventsOf gives (time, row).
    this.rowOf.set(contactId, rows.length ? rows[rows.length - 1]!.row : 0);
    this.events?.replace(
      contactId,
      [...rows].sort((a, b) => a.event.time - b.event.time || a.row - b.row).map((r) => r.event),
    );
  }

  /**
   * Every contact waiting since a load under other rules was evaluated: the store records that its
   * answers follow these rules. Once per load; a rolled-back record is made again at the next start.
   */
  private answersFollowRules(): void {
    this.checkRulesRecord();
    if (!this.pendingFingerprint) return;
    this.store.setAnswersFingerprint(this.pendingFingerprint);
    this.recordedAtLoad = this.pendingFingerprint;
    this.pendingFingerprint = undefined;
  }

  /**
   * Another process recorded other rules since the load (a `segsync segments` run after segsync.yaml
   * was edited, beside this daemon, which goes on storing answers under its own rules): the record
   * no longer holds. It is dropped and this load records nothing, so the next start evaluates everyone.
   */
  private checkRulesRecord(): void {
    const recorded = this.store.answersFingerprint();
    if (recorded === this.fingerprint || recorded === this.recordedAtLoad) return;
    this.store.setAnswersFingerprint(undefined);
    this.recordedAtLoad = undefined;
    this.pendingFingerprint = undefined;
  }

  /**
   * Reads again and evaluates the contacts another process created, changed or deleted (an import of
   * contacts, a pull, an erase: the store notes them, see `Store.contactChanges`), and those noted
   * before the load; the daemon calls this on its re-evaluation timer, at most `limit` a call. Without
   * it a running daemon would evaluate and push such contacts from what it read at its start.
   */
  catchUpContacts(limit = 20_000): ContactEvaluation[] {
    if (!this.loaded) return [];
    const taken: number[] = [];
    try {
      return this.store.transaction(() => {
        const changes = this.store.contactChanges(limit);
        for (const [id] of changes) taken.push(id);
        this.contactsCut = changes.length === limit;
        // Noted before the load with the same version: the caches hold it as it is, and only the answers lag.
        this.resync(changes.filter(([, version]) => version > this.contactMark).map(([id]) => id));
        const out: ContactEvaluation[] = [];
        for (const [id] of changes) {
          this.unevaluated.delete(id);
          const r = this.evaluateContact(id);
          if (r) out.push(r);
        }
        this.store.clearContactChanges(changes);
        return out;
      });
    } catch (err) {
      // Rolled back: the answers of those evaluated go back to the stored ones, and their changes stay noted.
      this.resync(taken);
      throw err;
    }
  }

  private eventsArrived(contactIds: Iterable<number>): ContactEvaluation[] {
    const out: ContactEvaluation[] = [];
    for (const id of new Set(contactIds)) {
      if (this.events) {
        // Only the rows stored since this contact was last read: a busy contact is not re-read whole.
        const fresh = this.store.eventsAfter(id, this.rowOf.get(id) ?? this.loadedRow);
        if (fresh.length) {
          this.events.append(
            id,
            fresh.map((f) => f.event),
          );
          this.touch(id);
          this.rowOf.set(id, fresh[fresh.length - 1]!.row);
        }
      }
      if (this.contacts && !this.contacts.has(id)) {
        this.contacts.replace(id, this.store.getContact(id));
        this.touch(id);
      }
      const r = this.evaluateContact(id);
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Makes the caches and last answers of these contacts follow the store again, after a transaction
   * that evaluated them was rolled back (the caches had moved ahead of the store). Their events are
   * read whole: a rolled-back row id is given to the next row stored.
   */
  resync(contactIds: Iterable<number>): void {
    if (!this.loaded) return;
    for (const id of new Set(contactIds)) {
      this.touch(id);
      const contact = this.store.getContact(id);
      this.contacts?.replace(id, contact);
      this.readEventsWhole(id, contact !== undefined);
      const stored = new Map(this.store.getSegmentStates(id).map((s) => [s.segment, s.value]));
      this.rules.segments.forEach((s, i) => {
        this.prev.set(i, id, stored.get(s.name));
      });
      this.nextAt.set(id, undefined);
      // The evaluation was rolled back with the rest: the next catch-up evaluates it again.
      if (contact) this.unevaluated.add(id);
    }
    // Rolled-back rows' ids come back too, and so do another process's erased ones.
    this.lowerRowMarks();
  }

  /**
   * A contact's event rows were deleted. SQLite gives a new row the highest id plus one, so the ids of
   * deleted top rows come back, at or below rows already read: every mark comes down to the highest
   * row that remains (no remaining row is above it, so nothing is read twice), and the ids that come
   * back are read as new rows, of whichever contact (an erased contact's id, too, may come back).
   */
  private rowsDeleted(contactId: number): void {
    if (!this.events) return;
    this.rowOf.set(contactId, this.lowerRowMarks());
  }

  /** Lowers every row mark above the highest stored row to it (see `rowsDeleted`); returns that row. */
  private lowerRowMarks(): number {
    const top = this.store.eventCountBound();
    if (this.loadedRow > top) this.loadedRow = top;
    if (this.checkedRow > top) this.checkedRow = top;
    for (const [id, row] of this.rowOf) if (row > top) this.rowOf.set(id, top);
    return top;
  }

  /** Changed properties, tags, consent or email (or an erased contact): refresh and re-evaluate. */
  onContacts(contactIds: Iterable<number>): ContactEvaluation[] {
    const out: ContactEvaluation[] = [];
    for (const id of new Set(contactIds)) {
      this.touch(id);
      const contact = this.store.getContact(id);
      this.contacts?.replace(id, contact);
      if (!contact) {
        this.events?.replace(id, []);
        this.rowsDeleted(id);
        // Its answers and wake-up went with it (the store cascades): a reused id starts from none.
        if (this.loaded) {
          this.rules.segments.forEach((_, i) => this.prev.set(i, id, undefined));
          this.nextAt.set(id, Infinity);
        }
        continue;
      }
      const r = this.evaluateContact(id);
      if (r) out.push(r);
    }
    return out;
  }

  /** Whether the last `reevaluateDue`, `catchUpRows` or `catchUpContacts` left work that is due by `now` (a backlog). */
  hasMoreDue(now: number = this.clock.now()): boolean {
    if (this.unevaluated.size || this.contactsCut || this.rereading) return true;
    if (!this.dueCut) return false;
    const next = this.nextWakeup();
    return next !== undefined && next <= now;
  }

  /** The earliest pending wake-up of a loaded engine, if any (for the daemon's scheduler). */
  nextWakeup(): number | undefined {
    if (!this.loaded) return undefined;
    while (this.heap.size) {
      const t = this.heap.peekTime()!;
      const top = this.heap.pop()!;
      if (this.nextAt.get(top.id) === t) {
        this.heap.push(t, top.id);
        return t;
      }
    }
    return undefined;
  }

  /**
   * Re-evaluates the contacts whose answers can flip by `now` (default: the clock), and only them,
   * at most `limit` of a loaded engine's (the rest wait: see `hasMoreDue`). Each flip is recorded at
   * the time it happened, not when the scheduler woke up.
   */
  reevaluateDue(now: number = this.clock.now(), limit = Infinity): ContactEvaluation[] {
    const out: ContactEvaluation[] = [];
    if (this.loaded) {
      this.dueCut = false;
      for (let taken = 0; ;) {
        if (taken >= limit) {
          this.dueCut = true;
          break;
        }
        const due: { id: number; time: number }[] = [];
        const batch = Math.min(DUE_BATCH, limit - taken);
        for (let t = this.heap.peekTime(); t !== undefined && t <= now && due.length < batch; t = this.heap.peekTime()) {
          const entry = this.heap.pop()!;
          if (this.nextAt.get(entry.id) !== entry.time) continue;
          // Taken: a second heap entry for the same contact and time is stale from here on.
          this.nextAt.set(entry.id, Infinity);
          due.push(entry);
        }
        if (!due.length) break;
        taken += due.length;
        // In id order, in one transaction: neighbouring ids' answers share pages, so fewer pages are
        // read and written (308,000 due contacts: 31-38 s in time order, 1,000 a commit; 24-32 s so).
        due.sort((a, b) => a.id - b.id);
        let done = 0;
        try {
          this.store.transaction(() => {
            for (const { id, time } of due) {
              const r = this.catchUp(id, time, now);
              if (r) out.push(r);
              done++;
            }
          });
        } catch (err) {
          // Rolled back: the contacts reached read their state back from the store, and every one
          // of the batch waits in the heap as it was.
          this.resync(due.slice(0, done + 1).map((d) => d.id));
          for (const { id, time } of due) {
            this.nextAt.set(id, time);
            this.heap.push(time, id);
          }
          throw err;
        }
      }
      return out;
    }
    // Not loaded (a one-off command): the stored wake-ups say who is due, and since when. A contact's
    // next wake-up is after `now`, so a second round finds none; the bound only guards against a loop.
    for (let round = 0; round < 100; round++) {
      const due = this.store.dueWakeupTimes(now);
      if (!due.length) break;
      for (let k = 0; k < due.length; k += DUE_BATCH) {
        this.store.transaction(() => {
          for (const { contactId, at } of due.slice(k, k + DUE_BATCH)) {
            const r = this.catchUp(contactId, at, now);
            if (r) out.push(r);
            else this.store.saveEvaluation(contactId, [], undefined);
          }
        });
      }
    }
    return out;
  }
}
