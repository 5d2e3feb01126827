/**
 * A cold start scans every event: a statement per range of row ids, whose text the caller parses.
 * SQLite's side is most of that time and one connection runs one statement at a time, so a worker
 * thread with a connection of its own runs every other range meanwhile. Results come back in range
 * order; if the worker fails, the caller's connection runs what is left.
 */
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';

/** What the worker is given. */
export interface RangeJob {
  path: string;
  sql: string;
  params: unknown[];
  ranges: [number, number][];
  port: MessagePort;
  /** Bumped once per reply. */
  flag: Int32Array;
  /** How many of its results the caller has taken. */
  consumed: Int32Array;
  /** Most results waiting unread. */
  ahead: number;
}

export type RangeReply = { k: number; text: string } | { k: -1; error: string };

/** Results waiting unread at most (each a few MiB of JSON text). */
const AHEAD = 4;
/** A worker that sends nothing for this long is given up. */
const REPLY_TIMEOUT_MS = 5 * 60_000;

/**
 * The statement's text for each range, in order: `run` on the caller's connection for every fourth
 * range, a worker's own connection to `path` for the others (the caller also parses every text and
 * builds from it: with half the ranges it was the one waited for).
 */
export function* readRanges(
  path: string,
  sql: string,
  params: unknown[],
  ranges: [number, number][],
  run: (lo: number, hi: number) => string,
  onFallback: (reason: string) => void,
): IterableIterator<string> {
  const callers = (i: number): boolean => i % 4 === 0;
  const theirs = ranges.filter((_, i) => !callers(i));
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const consumed = new Int32Array(new SharedArrayBuffer(4));
  let worker: Worker | undefined;
  try {
    const job: RangeJob = { path, sql, params, ranges: theirs, port: port2, flag, consumed, ahead: AHEAD };
    worker = new Worker(join(__dirname, 'range-reader-worker.js'), { workerData: job, transferList: [port2] });
    worker.unref();
  } catch (err) {
    onFallback(`no thread for the second connection: ${(err as Error).message}`);
    worker = undefined;
  }
  /** The worker's text for its `k`-th range, or why there is none. */
  const take = (k: number): { text: string } | { failed: string } => {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(flag, 0);
      const got = receiveMessageOnPort(port1)?.message as RangeReply | undefined;
      if (got) {
        if ('error' in got) return { failed: got.error };
        return got.k === k ? { text: got.text } : { failed: `it answered range ${got.k} where ${k} was due` };
      }
      if (Date.now() > deadline) return { failed: `it sent nothing for ${REPLY_TIMEOUT_MS / 60_000} minutes` };
      Atomics.wait(flag, 0, seen, 1000);
    }
  };
  try {
    let k = 0;
    for (let i = 0; i < ranges.length; i++) {
      const [lo, hi] = ranges[i]!;
      if (callers(i) || !worker) {
        yield run(lo, hi);
        continue;
      }
      const got = take(k++);
      if ('failed' in got) {
        // This range and the rest on the caller's connection: slower, never wrong.
        onFallback(`the second connection's worker on ${path} failed (${got.failed})`);
        void worker.terminate();
        worker = undefined;
        yield run(lo, hi);
        continue;
      }
      Atomics.add(consumed, 0, 1);
      Atomics.notify(consumed, 0);
      yield got.text;
    }
  } finally {
    if (worker) void worker.terminate();
    port1.close();
  }
}
