/**
 * Runs in a worker thread during an import: reads the file, parses and validates every record, and
 * hands the main thread ready-to-store batches, so parsing (one core) overlaps with SQLite writes
 * (the other). At most two batches are in flight, which bounds memory whatever the file size.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeError } from '../errors';
import { toEventRow } from '../store/sqlite/sqlite-store';
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
  let batch: ParsedBatch = emptyBatch();
  let bytes = 0;
  const send = async (): Promise<void> => {
    batch.bytes = bytes;
    port.postMessage({ type: 'batch', batch });
    batch = emptyBatch();
    inFlight++;
    while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
  };
  for await (const records of readRecords(input.file, (n) => (bytes += n))) {
    for (const rec of records) {
      batch.read++;
      if (rec.readError) {
        batch.rejects.push({ line: rec.line, error: rec.readError, text: rec.text });
        continue;
      }
      try {
        if (input.kind === 'events') batch.events.push(toEventRow(toIncomingEvent(rec.value, 'import')));
        else batch.contacts.push(toIncomingContact(rec.value, 'local', input.now));
        batch.lines.push(rec.line);
      } catch (err) {
        batch.rejects.push({ line: rec.line, error: describeError(err), text: rec.text });
      }
    }
    if (batch.lines.length >= input.batchSize) await send();
  }
  await send();
  port.postMessage({ type: 'done' });
}

function emptyBatch(): ParsedBatch {
  return { read: 0, bytes: 0, lines: [], events: [], contacts: [], rejects: [] };
}

main(workerData as WorkerInput).catch((err: unknown) => {
  parentPort!.postMessage({ type: 'error', message: describeError(err) });
});
