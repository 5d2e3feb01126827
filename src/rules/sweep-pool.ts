/**
 * Worker threads for full recomputes: each worker owns a fixed range of contact ids, reads the event
 * cache's base columns in place (SharedArrayBuffers) and keeps its own copy of its contacts'
 * attributes, event overrides and stored answers, brought up to date before every sweep with only
 * the contacts that changed. The main thread sweeps the last range itself meanwhile, then waits for
 * the workers' parts synchronously (Atomics.wait + receiveMessageOnPort), so a recompute stays one
 * synchronous call for the engine and its callers.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { SegsyncError } from '../errors';
import type { FieldValue } from '../model/types';
import type { EventColumns } from './aggregates';
import type { AnswerDump, AnswerTable } from './answer-table';
import { sliceColumns } from './contact-cache';
import type { ContactCache, ContactColumns } from './contact-cache';
import type { EventCache } from './event-cache';
import type { RuleOrigin, RuleSet } from './ruleset';
import type { SweepPart } from './sweep';

/** A sweep worker failed or did not answer; the engine falls back to one thread. */
export class SweepWorkerError extends SegsyncError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_RULES_WORKER', message, { ...options, hint: 'the recompute ran on the main thread instead; set SEGSYNC_RULES_THREADS=1 to stop using workers' });
  }
}

/** Changes the main thread made to contacts of one worker's range since its last sweep. */
export interface SweepDelta {
  contacts: ContactColumns;
  overrides: [number, EventColumns][];
  /** prev[segment][k]: the stored answer of contacts.ids[k] (empty: the answers came with `init`). */
  prev: (FieldValue | undefined)[][];
}

export interface CompileMessage {
  type: 'compile';
  origin: RuleOrigin;
}

export interface InitMessage {
  type: 'init';
  /** The main plan's aggregate specs (JSON), event names and filtered-value dictionaries, in code order. */
  specs: string;
  names: string[];
  dictionaries: [string, number][][];
  base: EventColumns;
  offsets: Int32Array;
  lo: number;
  hi: number;
  /** The stored answers of the worker's range. */
  answers: AnswerDump;
}

export interface SweepMessage {
  type: 'sweep';
  delta: SweepDelta;
  /** Absent: only take the delta (the first sync). */
  sweep?: { now: number; save: boolean };
}

export type WorkerReply = { type: 'ready' } | { type: 'part'; part: SweepPart | undefined } | { type: 'error'; message: string; stack?: string };

/** How long the main thread waits for a worker's answer before giving up on it. */
const REPLY_TIMEOUT_MS = 30 * 60_000;
/** A worker's young generation, MiB (see spawn). */
const WORKER_YOUNG_MB = 4;
/** Below this many contacts per thread, a worker costs more than it saves. */
export const MIN_CONTACTS_PER_THREAD = 25_000;

/** Worker threads to use besides the main one: SEGSYNC_RULES_THREADS - 1, else one per spare core (at most 3). */
export function defaultWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const set = Number(env.SEGSYNC_RULES_THREADS);
  if (Number.isInteger(set) && set >= 1) return set - 1;
  return Math.max(0, Math.min(3, availableParallelism() - 1));
}

interface Handle {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
  lo: number;
  hi: number;
  /** Replies to messages before the current sweep, still to be read (the first contacts' `part`). */
  pending: number;
}

export class SweepPool {
  private attached = false;
  /** The main thread's range starts here and runs to the last id. */
  mainFrom = 0;

  private constructor(
    private readonly rules: RuleSet,
    private readonly handles: Handle[],
  ) {}

  /**
   * Starts `workers` threads, which load their code and compile the rules while the caller goes on
   * (a cold start loads its caches meanwhile); `attach` hands them their contacts.
   */
  static spawn(rules: RuleSet, workers: number): SweepPool {
    const handles: Handle[] = [];
    try {
      for (let k = 0; k < workers; k++) {
        const { port1, port2 } = new MessageChannel();
        const flag = new Int32Array(new SharedArrayBuffer(4));
        const worker = new Worker(join(__dirname, 'sweep-worker.js'), {
          workerData: { port: port2, flag },
          transferList: [port2],
          // A sweep allocates little (its views and slices are reused), but V8 grows an idle worker's
          // young generation to 32 MiB after the init message's burst and keeps it: capped, per worker.
          resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB },
        });
        worker.unref();
        handles.push({ worker, port: port1, flag, lo: 0, hi: 0, pending: 0 });
        worker.postMessage({ type: 'compile', origin: rules.origin } satisfies CompileMessage);
      }
    } catch (err) {
      for (const h of handles) void h.worker.terminate();
      throw new SweepWorkerError(`could not start the rules workers: ${(err as Error).message}`, { cause: err });
    }
    return new SweepPool(rules, handles);
  }

  /**
   * Splits the contacts into ranges of about equal work (events and contacts), one per worker and the
   * last for the main thread, and hands each worker the state of its contacts and their stored
   * answers. Blocks until every worker has checked its rules and columns, not while
   * it takes in its contacts: that runs while the main thread sweeps its own range.
   * `saved`: the contacts as a saved state packed them, cut per worker instead of packing them
   * again; true when they were, and then the contacts changed since that state must follow in the
   * next `begin`.
   */
  attach(events: EventCache, contacts: ContactCache, answers: AnswerTable, saved?: ContactColumns): boolean {
    let usedSaved = false;
    const rules = this.rules;
    const bounds = splitRanges(events, contacts, this.handles.length + 1);
    const { cols, offsets } = events.shared;
    try {
      this.handles.forEach((h, k) => {
        h.lo = bounds[k]!;
        h.hi = bounds[k + 1]!;
        const init: InitMessage = {
          type: 'init',
          specs: JSON.stringify(rules.plan.specs),
          names: [...rules.plan.names],
          dictionaries: rules.plan.categoricalProps.map((_, c) => rules.plan.dictionary(c)),
          base: cols,
          offsets,
          lo: h.lo,
          hi: h.hi,
          answers: answers.dumpRange(h.lo, h.hi),
        };
        h.worker.postMessage(init, [init.answers.kinds.buffer as ArrayBuffer, init.answers.nums.buffer as ArrayBuffer]);
        const sliced = saved && sliceColumns(saved, h.lo, h.hi);
        if (sliced) usedSaved = true;
        const delta: SweepDelta = {
          contacts: sliced ?? contacts.export([...contacts.ids(h.lo, h.hi)], rules.needs.email),
          overrides: overridesOf(events.overridden(h.lo, h.hi), events),
          prev: [],
        };
        h.worker.postMessage({ type: 'sweep', delta } satisfies SweepMessage, transferOf(delta.contacts));
      });
      for (const h of this.handles) {
        expect(wait(h), 'ready');
        h.pending = 1;
      }
    } catch (err) {
      this.close();
      throw err instanceof SweepWorkerError ? err : new SweepWorkerError(`could not start the rules workers: ${(err as Error).message}`, { cause: err });
    }
    this.mainFrom = bounds[this.handles.length]!;
    this.attached = true;
    return usedSaved;
  }

  /** True once `attach` handed the workers their contacts. */
  get ready(): boolean {
    return this.attached;
  }

  /** Starts `workers` threads and attaches them at once (see `spawn` and `attach`). */
  static start(rules: RuleSet, events: EventCache, contacts: ContactCache, workers: number, answers: AnswerTable): SweepPool {
    const pool = SweepPool.spawn(rules, workers);
    pool.attach(events, contacts, answers);
    return pool;
  }

  /** Threads a sweep runs on (the workers and the main thread). */
  get threads(): number {
    return this.handles.length + 1;
  }

  /**
   * Sends each worker the changed contacts of its range and starts its sweep; `finish` collects the
   * parts. Between the two, the main thread sweeps its own range.
   */
  begin(dirty: Iterable<number>, rules: RuleSet, events: EventCache, contacts: ContactCache, answers: AnswerTable, now: number, save: boolean): void {
    const perWorker = this.handles.map((): number[] => []);
    for (const id of dirty) {
      const k = this.handles.findIndex((h) => id >= h.lo && id < h.hi);
      if (k >= 0) perWorker[k]!.push(id);
    }
    this.handles.forEach((h, k) => {
      const msg: SweepMessage = { type: 'sweep', delta: deltaOf(perWorker[k]!, rules, events, contacts, answers), sweep: { now, save } };
      h.worker.postMessage(msg, transferOf(msg.delta.contacts));
    });
  }

  /** The workers' parts in id order (blocks until all answered). */
  finish(): SweepPart[] {
    return this.handles.map((h) => {
      for (; h.pending > 0; h.pending--) expect(wait(h), 'part');
      const reply = expect(wait(h), 'part');
      return reply.part!;
    });
  }

  /** Stops the workers. */
  close(): void {
    for (const h of this.handles) {
      h.port.close();
      void h.worker.terminate();
    }
    this.handles.length = 0;
  }
}

function deltaOf(ids: number[], rules: RuleSet, events: EventCache, contacts: ContactCache, answers: AnswerTable): SweepDelta {
  const prev = rules.segments.map((_, i) => ids.map((id) => answers.get(i, id)));
  return { contacts: contacts.export(ids, rules.needs.email), overrides: overridesOf(ids, events), prev };
}

/** The buffers of freshly packed contact columns, moved to the worker instead of copied. */
function transferOf(c: ContactColumns): ArrayBuffer[] {
  return [c.ids, c.alive, c.created, c.consent, c.records, c.tags].map((a) => a.buffer as ArrayBuffer);
}

function overridesOf(ids: number[], events: EventCache): [number, EventColumns][] {
  const overrides: [number, EventColumns][] = [];
  for (const id of ids) {
    const o = events.override(id);
    if (o) overrides.push([id, o]);
  }
  return overrides;
}

/**
 * Contiguous id ranges of about equal work for `threads` threads (the last runs to the end, so new
 * contacts fall to the main thread): a contact costs about as much as 50 of its events.
 */
export function splitRanges(events: EventCache, contacts: ContactCache, threads: number): number[] {
  const { offsets } = events.shared;
  const weight = (id: number): number => 50 + (id + 1 < offsets.length ? offsets[id + 1]! - offsets[id]! : 0);
  const top = contacts.maxId + 1;
  // Plain loops over ids, not `contacts.ids()`: a generator's step costs more than the weight itself.
  let total = 0;
  for (let id = 0; id < top; id++) if (contacts.has(id)) total += weight(id);
  const bounds = [0];
  let acc = 0;
  for (let id = 0; id < top && bounds.length < threads; id++) {
    if (!contacts.has(id)) continue;
    if (acc >= (total * bounds.length) / threads) bounds.push(id);
    acc += weight(id);
  }
  while (bounds.length < threads) bounds.push(contacts.maxId + 1);
  return bounds;
}

function wait(h: Handle): WorkerReply {
  const deadline = Date.now() + REPLY_TIMEOUT_MS;
  for (;;) {
    Atomics.store(h.flag, 0, 0);
    const got = receiveMessageOnPort(h.port);
    if (got) return got.message as WorkerReply;
    if (Date.now() > deadline) throw new SweepWorkerError(`a rules worker did not answer within ${REPLY_TIMEOUT_MS / 60_000} minutes`);
    Atomics.wait(h.flag, 0, 0, 1000);
  }
}

function expect<T extends WorkerReply['type']>(reply: WorkerReply, type: T): Extract<WorkerReply, { type: T }> {
  if (reply.type === 'error') throw new SweepWorkerError(`a rules worker failed: ${reply.message}`);
  if (reply.type !== type) throw new SweepWorkerError(`a rules worker answered ${reply.type} where ${type} was due`);
  return reply as Extract<WorkerReply, { type: T }>;
}
