/**
 * `segsync import events` throughput: a seeded 1,000,000-line JSONL file into a fresh SQLite store,
 * through the same importer the CLI uses, once per way files carry event ids (order-style ids, UUIDs,
 * none: derived from content), then 10 % more events into the filled store (the row-by-row path).
 * Each fresh-store import is set beside the store's own bulk-insert ceiling in the same run: the very
 * rows it stored, inserted again into a fresh store of the same schema by a bare prepared statement in
 * transactions of 50,000 (no file, no parsing, no contact lookups). Target: import ≥ 50 % of it.
 * Prints events/s, the ratio, peak memory and the machine. Size: SEGSYNC_BENCH_IMPORT_LINES (default 1,000,000).
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importFile } from '../src/ingest/importer';
import type { ImportSummary } from '../src/ingest/importer';
import { SqliteStore } from '../src/store/sqlite/sqlite-store';
import { machineLine, peakRssMiB, seededRandom } from './machine';

const NAMES = ['Viewed Product', 'Added to Cart', 'Placed Order', 'Opened Email', 'Clicked Email', 'Started Checkout'];

type IdStyle = 'sequential' | 'uuid' | 'none';

/** A UUID-shaped id from the seeded generator (Segment's messageId looks like this). */
function uuidFrom(rand: () => number): string {
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
}

async function writeEvents(file: string, lines: number, ids: IdStyle, seed = 42, firstId = 0): Promise<void> {
  const rand = seededRandom(seed);
  const out = createWriteStream(file);
  const start = Date.UTC(2026, 0, 1);
  const contacts = Math.max(1, Math.floor(lines / 20));
  let buf = '';
  for (let i = 0; i < lines; i++) {
    const name = NAMES[Math.floor(rand() * NAMES.length)]!;
    const props =
      name === 'Placed Order'
        ? { value: Math.round(rand() * 50000) / 100, currency: 'EUR' }
        : { product_id: `P${Math.floor(rand() * 5000)}`, category: 'shoes' };
    const id = ids === 'sequential' ? { id: `evt-${firstId + i}` } : ids === 'uuid' ? { id: uuidFrom(rand) } : {};
    buf += `${JSON.stringify({ ...id, email: `user${Math.floor(rand() ** 2 * contacts)}@example.com`, name, time: new Date(start + Math.floor(rand() * 300 * 86_400_000)).toISOString(), properties: props })}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((r) => out.end(r));
}

const STYLES: [IdStyle, string][] = [
  ['sequential', 'ids like order numbers ("evt-1")'],
  ['uuid', 'UUID ids (Segment messageId)'],
  ['none', 'no ids (derived from content)'],
];

/** Runs the import benchmark and prints its figures. */
export async function run(): Promise<void> {
  const lines = Number(process.env.SEGSYNC_BENCH_IMPORT_LINES ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'segsync-bench-import-'));
  try {
    console.log('== bench: import events (JSONL → SQLite)');
    console.log(machineLine());
    const rssBefore = peakRssMiB();
    for (const [style, label] of STYLES) {
      const file = join(dir, `events-${style}.jsonl`);
      await writeEvents(file, lines, style);
      const dbPath = join(dir, `segsync-${style}.db`);
      const store = new SqliteStore({ path: dbPath });
      const first = await timedImport(file, store);
      store.close();
      console.log(
        `${label}: ${lines.toLocaleString('en')} lines, ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB → ${first.rate.toLocaleString('en')} events/s (${first.seconds.toFixed(2)} s); imported ${first.summary.imported.toLocaleString('en')}, rejected ${first.summary.rejected}, contacts ${first.summary.contactsCreated.toLocaleString('en')}`,
      );
      const ceiling = bulkInsertCeiling(dbPath, join(dir, `ceiling-${style}.db`));
      const share = first.rate / ceiling.rate;
      console.log(
        `  ceiling: the same ${ceiling.rows.toLocaleString('en')} rows by a bare prepared INSERT, 50,000 per transaction: ${ceiling.rate.toLocaleString('en')} rows/s (${ceiling.seconds.toFixed(2)} s)` +
          ` | import is ${(share * 100).toFixed(1)} % of it (target ≥ 50 % ${share >= 0.5 ? 'OK' : 'MISSED'})`,
      );
      if (style === 'sequential') {
        // The filled store is now ten times the new file: the rows go in with the indexes kept up.
        const more = join(dir, 'more.jsonl');
        await writeEvents(more, Math.round(lines / 10), style, 7, lines);
        const reopened = new SqliteStore({ path: dbPath });
        const next = await timedImport(more, reopened);
        reopened.close();
        console.log(
          `  then ${next.summary.read.toLocaleString('en')} more into that store: ${next.rate.toLocaleString('en')} events/s (${next.seconds.toFixed(2)} s)`,
        );
      }
      rmSync(dbPath, { force: true });
      rmSync(file, { force: true });
    }
    console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB (before the imports ${rssBefore.toFixed(0)} MiB): bounded by the batch size, not the file size`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CEILING_BATCH = 50_000;

/**
 * The store's own bulk-insert ceiling: the events `source` holds, read back in id order 50,000 at a time
 * (not timed) and inserted by one bare prepared statement into a fresh store at `target` (same
 * migrations, so the same schema, indexes and pragmas), one transaction per 50,000 rows (timed).
 * Contacts and event names are copied first so the foreign keys hold.
 */
function bulkInsertCeiling(source: string, target: string): { rows: number; seconds: number; rate: number } {
  const store = new SqliteStore({ path: target });
  try {
    const db = store.db;
    db.prepare('ATTACH DATABASE ? AS src').run(source);
    db.exec('INSERT INTO contacts SELECT * FROM src.contacts; INSERT INTO event_names SELECT * FROM src.event_names;');
    const read = db.prepare('SELECT event_id, contact_id, name_id, time, properties, source FROM src.events WHERE id > ? ORDER BY id LIMIT ?').raw();
    const idAt = db.prepare('SELECT id FROM src.events WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?').pluck();
    const insert = db.prepare('INSERT INTO events (event_id, contact_id, name_id, time, properties, source) VALUES (?, ?, ?, ?, ?, ?)');
    const insertAll = db.transaction((rows: unknown[][]) => {
      for (const r of rows) insert.run(r);
    });
    let rows = 0;
    let ns = 0n;
    for (let after = 0; ;) {
      const chunk = read.all(after, CEILING_BATCH) as unknown[][];
      if (!chunk.length) break;
      const last = idAt.get(after, chunk.length - 1) as number;
      const started = process.hrtime.bigint();
      insertAll(chunk);
      ns += process.hrtime.bigint() - started;
      rows += chunk.length;
      after = last;
    }
    const seconds = Number(ns) / 1e9;
    return { rows, seconds, rate: Math.round(rows / seconds) };
  } finally {
    store.close();
    rmSync(target, { force: true });
    rmSync(`${target}-wal`, { force: true });
    rmSync(`${target}-shm`, { force: true });
  }
}

async function timedImport(file: string, store: SqliteStore): Promise<{ summary: ImportSummary; seconds: number; rate: number }> {
  const started = process.hrtime.bigint();
  const summary = await importFile({ kind: 'events', file, store, now: Date.now });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { summary, seconds, rate: Math.round(summary.read / seconds) };
}
