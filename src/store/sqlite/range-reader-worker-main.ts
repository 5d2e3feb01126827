/**
 * Runs in a worker thread beside a cold start's event scan: opens its own read connection to the
 * store file and runs the scan's statement for its share of the row ranges, handing each result (one
 * JSON text) back in order (see range-reader.ts).
 */
import Database from 'better-sqlite3';
import { workerData } from 'node:worker_threads';
import type { RangeJob, RangeReply } from './range-reader';

const { path, sql, params, ranges, port, flag, consumed, ahead } = workerData as RangeJob;

function reply(r: RangeReply): void {
  port.postMessage(r);
  Atomics.add(flag, 0, 1);
  Atomics.notify(flag, 0);
}

try {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('cache_size = -65536');
  const s = db.prepare(sql).pluck();
  ranges.forEach(([lo, hi], k) => {
    // At most `ahead` results wait unread: a fast reader must not queue the whole table.
    while (k - Atomics.load(consumed, 0) >= ahead) Atomics.wait(consumed, 0, Atomics.load(consumed, 0), 1000);
    // An empty range's aggregate is NULL.
    reply({ k, text: (s.get(...params, lo, hi) as string | null) ?? '[]' });
  });
  db.close();
} catch (err) {
  reply({ k: -1, error: (err as Error).message });
}
