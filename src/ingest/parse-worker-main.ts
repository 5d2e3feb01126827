/**
 * Runs in a worker thread during an import: reads the file (or its share of the file's byte ranges),
 * parses and validates every record, and hands the main thread ready-to-store batches, so parsing
 * overlaps with SQLite writes. At most two batches per worker are in flight, which bounds memory
 * whatever the file size.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describeError, ValidationError } from '../errors';
import { toEventRow } from '../store/event-row';
import { EventColumnsBuilder, transferablesOf } from './event-columns';
import type { ParsedBatch, WorkerFailure, WorkerInput } from './parse-protocol';
import { readJsonLinesRange, readRecords } from './readers';
import type { RawRecord } from './readers';
import { toIncomingContact, toIncomingEvent } from './records';

const MAX_IN_FLIGHT = 2;
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

async function main(input: WorkerInput): Promise<void> {
  const port = parentPort!;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  port.on('message', () => {
    inFlight--;
    wake?.();
  });
  let pending = emptyBatch();
  const send = async (range: number, end: { rangeLines: number } | undefined, bytes: number): Promise<void> => {
    const events = pending.events.length ? pending.events.take() : undefined;
    const batch: ParsedBatch = {
      range,
      lastOfRange: end !== undefined,
      rangeLines: end?.rangeLines ?? 0,
      read: pending.read,
      bytes,
      lines: Int32Array.from(pending.lines),
      events,
      contacts: pending.contacts,
      rejects: pending.rejects,
    };
    port.postMessage({ type: 'batch', batch }, [batch.lines.buffer as ArrayBuffer, ...(events ? transferablesOf(events) : [])]);
    pending = emptyBatch();
    inFlight++;
    while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
  };
  const parse = (rec: RawRecord): void => {
    pending.read++;
    if (rec.readError) {
      pending.rejects.push({ line: rec.line, error: rec.readError, text: rec.text });
      return;
    }
    try {
      if (input.kind === 'events') pending.events.push(toEventRow(toIncomingEvent(rec.value, SOURCE, input.now)));
      else pending.contacts.push(toIncomingContact(rec.value, 'local', input.now, input.fields));
      pending.lines.push(rec.line);
    } catch (err) {
      pending.rejects.push({ line: rec.line, error: describeError(err), text: rec.text });
    }
  };

  if (input.ranges) {
    const { rangeBytes, first, step, fileBytes } = input.ranges;
    for (let range = first; range * rangeBytes < fileBytes; range += step) {
      const start = range * rangeBytes;
      const end = Math.min(fileBytes, start + rangeBytes);
      const { records, lineCount } = await readJsonLinesRange(input.file, start, end);
      for (const slice of records) {
        for (const rec of slice) parse(rec);
        if (pending.lines.length >= input.batchSize) await send(range, undefined, 0);
      }
      await send(range, { rangeLines: lineCount }, end - start);
    }
  } else {
    let bytes = 0;
    for await (const records of readRecords(input.file, (n) => (bytes += n), input.kind)) {
      for (const rec of records) parse(rec);
      if (pending.lines.length >= input.batchSize) {
        await send(0, undefined, bytes);
        bytes = 0;
      }
    }
    await send(0, { rangeLines: 0 }, bytes);
  }
  port.postMessage({ type: 'done' });
}

main(workerData as WorkerInput).catch((err: unknown) => {
  const failure: WorkerFailure =
    err instanceof ValidationError
      ? { type: 'error', message: err.message, invalid: { ...(err.hint ? { hint: err.hint } : {}), ...(err.location ? { location: err.location } : {}) } }
      : { type: 'error', message: describeError(err) };
  parentPort!.postMessage(failure);
});
