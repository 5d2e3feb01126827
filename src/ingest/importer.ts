/**
 * Imports contacts or events from a file into the store: streamed in batches (bounded memory), every
 * bad record reported with its line and written to a rejects file beside the input, every good record kept.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SegsyncError, StoreFullError, ValidationError, describeError, isRetryable } from '../errors';
import { freeSpaceHint } from '../store/disk-full';
import type { FieldShape } from '../config/field-values';
import type { FieldWarning, IncomingContact } from '../model/types';
import { consentKeptWarning } from '../model/consent';
import type { EventBulkLoad, EventRow, Store } from '../store/store';
import { rowsOf } from './event-columns';
import type { ParsedBatch, WorkerInput, WorkerMessage } from './parse-protocol';
import { formatOf } from './readers';
import type { ImportKind } from './readers';
import { DEFAULT_BATCH } from './batch-size';
import { writeRejects } from './rejects';
import type { RejectedLine } from './rejects';

export { DEFAULT_BATCH } from './batch-size';

/**
 * JSON-lines bytes a parse worker takes at a time. A file bigger than two ranges is shared by
 * PARSE_WORKERS workers: parsing costs more than the SQLite writes on the main thread (deriving ids
 * most of all), so one worker would leave the main thread waiting.
 */
export const DEFAULT_RANGE_BYTES = 4 << 20;
const PARSE_WORKERS = 2;

export type { ImportKind } from './readers';

export interface ImportOptions {
  kind: ImportKind;
  file: string;
  store: Store;
  now: () => number;
  /** Records written per transaction. */
  batchSize?: number;
  /** segsync.yaml's declared fields: a contact's value that does not fit its type is left out with a warning. */
  fields?: Record<string, FieldShape>;
  /** JSON-lines bytes a parse worker takes at a time (tests make it small to exercise the split). */
  rangeBytes?: number;
  /** Called with bytes read so far (for a progress bar). */
  onBytes?: (bytesRead: number) => void;
  /** Called for each rejected record (for the terminal). */
  onReject?: (reject: Rejected) => void;
  /** Called for each field left out of a record that was kept (an unknown consent state, say). */
  onWarning?: (warning: ImportWarning) => void;
}

/** A field of a kept record that was not understood. */
export interface ImportWarning extends FieldWarning {
  line: number;
}

export interface Rejected {
  line: number;
  error: string;
}

export interface ImportSummary {
  kind: ImportKind;
  read: number;
  imported: number;
  /** Events already stored (same idempotency id): dropped, not doubled. */
  duplicates: number;
  contactsCreated: number;
  rejected: number;
  /** Fields left out of kept records (each named by onWarning). */
  warnings: number;
  /** Path of the rejects file (the rejected records as they were), when any record was rejected. */
  rejectsFile: string | undefined;
  /** Path of the errors file beside it (why each was rejected), when any record was rejected. */
  errorsFile: string | undefined;
  elapsedMs: number;
}

/** Runs one import to the end and summarises it. */
export async function importFile(options: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  const summary: ImportSummary = {
    kind: options.kind,
    read: 0,
    imported: 0,
    duplicates: 0,
    contactsCreated: 0,
    rejected: 0,
    warnings: 0,
    rejectsFile: undefined,
    errorsFile: undefined,
    elapsedMs: 0,
  };
  // Lines and errors only: the records are copied from the input as they were once the run ends.
  const rejected: RejectedLine[] = [];
  const reject = (line: number, error: string): void => {
    summary.rejected++;
    rejected.push({ line, error });
    options.onReject?.({ line, error });
  };

  const fileBytes = statSync(options.file).size;
  let bytesRead = 0;
  let bulk: EventBulkLoad | undefined;
  // Parallel arrays: a record and its line, without an object per pair.
  let events: EventRow[] = [];
  let eventLines: number[] = [];
  let contacts: IncomingContact[] = [];
  let contactLines: number[] = [];
  const flush = (): void => {
    if (events.length) {
      // Sized from what was read so far: records per byte times the file's bytes.
      bulk ??= options.store.beginEventBulkLoad(bytesRead ? Math.round((summary.read / bytesRead) * fileBytes) : summary.read);
      const load = bulk;
      const rows = events;
      const lines = eventLines;
      writeIsolating(
        rows.length,
        (from, to) => {
          const r = load.append(from === 0 && to === rows.length ? rows : rows.slice(from, to));
          summary.imported += r.inserted;
          summary.duplicates += r.duplicates;
          summary.contactsCreated += r.contactsCreated;
          for (const c of r.conflicts) {
            const i = from + c;
            reject(lines[i]!, `the id "${rows[i]!.eventId}" is already stored for a different event: this line was not imported`);
          }
        },
        (i, err) => reject(lines[i]!, describeError(err)),
      );
      events = [];
      eventLines = [];
    }
    if (contacts.length) {
      const all = contacts;
      const lines = contactLines;
      writeIsolating(
        all.length,
        (from, to) => {
          const outcomes = options.store.upsertContacts(all.slice(from, to));
          summary.imported += outcomes.length;
          summary.contactsCreated += outcomes.filter((o) => o.created).length;
          outcomes.forEach((o, i) => {
            if (!o.consentKept) return;
            summary.warnings++;
            options.onWarning?.({ line: lines[from + i]!, ...consentKeptWarning(all[from + i]!, o.consentKept, 'give the record a "time" (when they did)') });
          });
        },
        (i, err) => reject(lines[i]!, describeError(err)),
      );
      contacts = [];
      contactLines = [];
    }
  };

  const onBatch = (batch: ParsedBatch): void => {
    summary.read += batch.read;
    bytesRead += batch.bytes;
    for (const r of batch.rejects) reject(r.line, r.error);
    const lines = options.kind === 'events' ? eventLines : contactLines;
    for (let i = 0; i < batch.lines.length; i++) lines.push(batch.lines[i]!);
    if (batch.events) for (const row of rowsOf(batch.events)) events.push(row);
    batch.contacts.forEach((contact, i) => {
      for (const w of contact.warnings ?? []) {
        summary.warnings++;
        options.onWarning?.({ line: batch.lines[i]!, ...w });
      }
      contacts.push(contact);
    });
    if (events.length >= batchSize || contacts.length >= batchSize) flush();
    options.onBytes?.(bytesRead);
  };

  const base: WorkerInput = { file: options.file, kind: options.kind, batchSize, now: options.now(), ...(options.fields ? { fields: options.fields } : {}) };
  const rangeBytes = options.rangeBytes ?? DEFAULT_RANGE_BYTES;
  const split = formatOf(options.file) === 'jsonl' && fileBytes > 2 * rangeBytes;
  const inputs = split
    ? Array.from({ length: PARSE_WORKERS }, (_, first) => ({ ...base, ranges: { rangeBytes, first, step: PARSE_WORKERS, fileBytes } }))
    : [base];
  let failure: unknown;
  try {
    await runWorkers(inputs, onBatch);
    flush();
  } catch (err) {
    failure = err;
  }
  try {
    const { duplicates } = bulk?.finish() ?? { duplicates: 0 };
    summary.imported -= duplicates;
    summary.duplicates += duplicates;
  } catch (err) {
    // The error that stopped the import is the one to show; indexes a bulk load set aside and could
    // not build again are built at the store's next writable open.
    failure ??= err;
  }
  if (failure !== undefined) throw failure instanceof StoreFullError ? importStoppedFull(failure, summary) : failure;
  if (rejected.length) Object.assign(summary, await writeRejects(options.file, rejected, new Date(started)));
  summary.elapsedMs = Date.now() - started;
  return summary;
}

/** A full disk stopped the import: how far it got, and that importing the same file again is safe. */
function importStoppedFull(err: StoreFullError, summary: ImportSummary): StoreFullError {
  return new StoreFullError(`${err.message}: the import stopped after ${summary.imported.toLocaleString('en-US')} records were stored`, {
    cause: err,
    folder: err.folder,
    hint: freeSpaceHint(err.folder, 'import the same file again: what is already stored is not added twice'),
  });
}

/**
 * Writes records [0, count) in one transaction; if the store refuses them, each is retried alone so
 * only the bad one is rejected and the rest are kept.
 */
function writeIsolating(count: number, write: (from: number, to: number) => void, onRefused: (index: number, err: SegsyncError) => void): void {
  const attempt = (from: number, to: number): SegsyncError | undefined => {
    try {
      write(from, to);
      return undefined;
    } catch (err) {
      // A failure that may pass (the store's disk is full) is no record's fault: the import stops.
      if (!(err instanceof SegsyncError) || isRetryable(err)) throw err;
      return err;
    }
  };
  const refused = attempt(0, count);
  if (!refused) return;
  if (count === 1) return onRefused(0, refused);
  for (let i = 0; i < count; i++) {
    const err = attempt(i, i + 1);
    if (err) onRefused(i, err);
  }
}

/**
 * Runs the parse workers and hands their batches to `onBatch` in file order (range by range, each
 * range's batches as its worker sent them), with line numbers made absolute; a batch is acknowledged
 * once handled, which lets its worker send the next.
 */
function runWorkers(inputs: WorkerInput[], onBatch: (batch: ParsedBatch) => void): Promise<void> {
  return new Promise((resolve, fail) => {
    const workers = inputs.map((input) => new Worker(join(__dirname, 'parse-worker.js'), { workerData: input }));
    const waiting = new Map<number, { batch: ParsedBatch; worker: Worker }[]>();
    let nextRange = 0;
    let linesBefore = 0;
    let running = workers.length;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.terminate();
      if (err) fail(err);
      else if (waiting.size) fail(new Error(`import stopped with parsed batches of ranges ${[...waiting.keys()].join(', ')} never written`));
      else resolve();
    };
    const drain = (): void => {
      for (let queue = waiting.get(nextRange); queue?.length; queue = waiting.get(nextRange)) {
        const { batch, worker } = queue.shift()!;
        for (let i = 0; i < batch.lines.length; i++) batch.lines[i]! += linesBefore;
        for (const r of batch.rejects) r.line += linesBefore;
        onBatch(batch);
        worker.postMessage('ack');
        if (batch.lastOfRange) {
          waiting.delete(nextRange);
          linesBefore += batch.rangeLines;
          nextRange++;
        }
      }
    };
    for (const worker of workers) {
      worker.on('message', (msg: WorkerMessage) => {
        // A worker's batches still arrive while it is being stopped: an import that ended writes none.
        if (settled) return;
        try {
          if (msg.type === 'batch') {
            const queue = waiting.get(msg.batch.range) ?? [];
            queue.push({ batch: msg.batch, worker });
            waiting.set(msg.batch.range, queue);
            drain();
          } else if (msg.type === 'done') {
            if (--running === 0) finish();
          } else if (msg.invalid) finish(new ValidationError(msg.message, msg.invalid));
          else finish(new ValidationError(`cannot import ${inputs[0]!.file}: ${msg.message}`, { hint: 'check the file exists and is readable' }));
        } catch (err) {
          finish(err as Error);
        }
      });
      worker.on('error', (err) => finish(err));
      worker.on('exit', (code) => {
        if (code !== 0) finish(new Error(`import worker stopped with exit code ${code}`));
      });
    }
  });
}
