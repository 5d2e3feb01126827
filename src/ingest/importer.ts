/**
 * Imports contacts or events from a file into the store: streamed in batches (bounded memory), every
 * bad record reported with its line and written to a rejects file beside the input, every good record kept.
 */
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { SegsyncError, describeError } from '../errors';
import type { IncomingContact, IncomingEvent } from '../model/types';
import type { Store } from '../store/store';
import { readRecords } from './readers';
import type { RawRecord } from './readers';
import { toIncomingContact, toIncomingEvent } from './records';

export type ImportKind = 'contacts' | 'events';

export interface ImportOptions {
  kind: ImportKind;
  file: string;
  store: Store;
  now: () => number;
  /** Records written per transaction. */
  batchSize?: number;
  /** Called with bytes read so far (for a progress bar). */
  onBytes?: (bytesRead: number) => void;
  /** Called for each rejected record (for the terminal). */
  onReject?: (reject: Rejected) => void;
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
  /** Path of the rejects file, when any record was rejected. */
  rejectsFile: string | undefined;
  elapsedMs: number;
}

/** The rejects file for an input: `orders.jsonl` → `orders.jsonl.rejects.jsonl`. */
export function rejectsPathFor(file: string): string {
  return `${file}.rejects.jsonl`;
}

/** Runs one import to the end and summarises it. */
export async function importFile(options: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const batchSize = options.batchSize ?? 5000;
  const summary: ImportSummary = { kind: options.kind, read: 0, imported: 0, duplicates: 0, contactsCreated: 0, rejected: 0, rejectsFile: undefined, elapsedMs: 0 };
  let rejects: WriteStream | undefined;
  const reject = (rec: RawRecord, error: string): void => {
    summary.rejected++;
    if (!rejects) {
      summary.rejectsFile = rejectsPathFor(options.file);
      rejects = createWriteStream(summary.rejectsFile, { encoding: 'utf8' });
    }
    rejects.write(`${JSON.stringify({ line: rec.line, error, record: rec.text })}\n`);
    options.onReject?.({ line: rec.line, error });
  };

  let bytes = 0;
  const onBytes = options.onBytes ? (n: number) => options.onBytes!((bytes += n)) : undefined;
  let events: { rec: RawRecord; event: IncomingEvent }[] = [];
  let contacts: { rec: RawRecord; contact: IncomingContact }[] = [];
  const writeEvents = (batch: typeof events): void => {
    const r = options.store.appendEvents(batch.map((b) => b.event));
    summary.imported += r.inserted;
    summary.duplicates += r.duplicates;
    summary.contactsCreated += r.contactsCreated;
  };
  const writeContacts = (batch: typeof contacts): void => {
    const outcomes = options.store.upsertContacts(batch.map((c) => c.contact));
    summary.imported += outcomes.length;
    summary.contactsCreated += outcomes.filter((o) => o.created).length;
  };
  // A batch is one transaction; if the store refuses it, each record is retried alone so only the
  // bad one is rejected.
  const writeIsolating = <T extends { rec: RawRecord }>(batch: T[], write: (b: T[]) => void): void => {
    try {
      write(batch);
    } catch (err) {
      if (!(err instanceof SegsyncError) || batch.length === 1) {
        if (batch.length === 1 && err instanceof SegsyncError) return reject(batch[0]!.rec, describeError(err));
        throw err;
      }
      for (const one of batch) writeIsolating([one], write);
    }
  };
  const flush = (): void => {
    if (events.length) writeIsolating(events, writeEvents);
    if (contacts.length) writeIsolating(contacts, writeContacts);
    events = [];
    contacts = [];
  };

  for await (const rec of readRecords(options.file, onBytes)) {
    summary.read++;
    if (rec.readError) {
      reject(rec, rec.readError);
      continue;
    }
    try {
      if (options.kind === 'events') events.push({ rec, event: toIncomingEvent(rec.value, 'import') });
      else contacts.push({ rec, contact: toIncomingContact(rec.value, 'local', options.now()) });
    } catch (err) {
      reject(rec, describeError(err));
      continue;
    }
    if (events.length >= batchSize || contacts.length >= batchSize) flush();
  }
  flush();
  if (rejects) await new Promise<void>((resolve, fail) => rejects!.end((err?: Error | null) => (err ? fail(err) : resolve())));
  summary.elapsedMs = Date.now() - started;
  return summary;
}
