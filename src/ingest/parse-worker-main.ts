/**
 * Runs in a worker thread during an import: reads the file, parses and validates every record, and
 * hands the main thread ready-to-store batches, so parsing (one core) overlaps with SQLite writes
 * (the other). At most two batches are in flight, which bounds memory whatever the file size.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeError } from '../errors';
import { toEventRow } from '../store/sqlite/sqlite-store';
import { EventColumnsBuilder, transferablesOf } from './event-columns';
import type { ParsedBatch, WorkerInput } from './parse-protocol';
import { readRecords } from './readers';
import { toIncomingContact, toIncomingEvent } from './records';

const MAX_IN_FLIGHT = 2;

async function main(input: WorkerInput): Promise<void> {
  const port = parentPort!;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  port.on('message', () => {
    inFlight--;
    wake?.();
  });
  let pending = emptyBatch();
  let bytes = 0;
  const send = async (): Promise<void> => {
    const events = pending.events.length ? pending.events.take() : undefined;
    const batch: ParsedBatch = { read: pending.read, bytes, lines: Int32Array.from(pending.lines), events, contacts: pending.contacts, rejects: pending.rejects };
    port.postMessage({ type: 'batch', batch }, [batch.lines.buffer as ArrayBuffer, ...(events ? transferablesOf(events) : [])]);
    pending = emptyBatch();
    inFlight++;
    while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
  };
  for await (const records of readRecords(input.file, (n) => (bytes += n))) {
    for (const rec of records) {
      pending.read++;
      if (rec.readError) {
        pending.rejects.push({ line: rec.line, error: rec.readError, text: rec.text });
        continue;
      }
      try {
        if (input.kind === 'events') pending.events.push(toEventRow(toIncomingEvent(rec.value, SOURCE)));
        else pending.contacts.push(toIncomingContact(rec.value, 'local', input.now));
        pending.lines.push(rec.line);
      } catch (err) {
        pending.rejects.push({ line: rec.line, error: describeError(err), text: rec.text });
      }
    }
    if (pending.lines.length >= input.batchSize) await send();
  }
  await send();
  port.postMessage({ type: 'done' });
}

const SOURCE = 'import';

/** A batch as the loop fills it. */
interface PendingBatch {
  read: number;
  lines: number[];
  events: EventColumnsBuilder;
  contacts: ParsedBatch['contacts'];
  rejects: ParsedBatch['rejects'];
}

function emptyBatch(): PendingBatch {
  return { read: 0, lines: [], events: new EventColumnsBuilder(SOURCE), contacts: [], rejects: [] };
}

main(workerData as WorkerInput).catch((err: unknown) => {
  parentPort!.postMessage({ type: 'error', message: describeError(err) });
});
