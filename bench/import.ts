/**
 * `segsync import events` throughput: a seeded 1,000,000-line JSONL file into a fresh SQLite store,
 * through the same importer the CLI uses. Prints events/s, peak memory and the machine.
 * Size: SEGSYNC_BENCH_IMPORT_LINES (default 1,000,000).
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importFile } from '../src/ingest/importer';
import { SqliteStore } from '../src/store/sqlite/sqlite-store';
import { machineLine, peakRssMiB, seededRandom } from './machine';

const NAMES = ['Viewed Product', 'Added to Cart', 'Placed Order', 'Opened Email', 'Clicked Email', 'Started Checkout'];

async function writeEvents(file: string, lines: number): Promise<void> {
  const rand = seededRandom(42);
  const out = createWriteStream(file);
  const start = Date.UTC(2026, 0, 1);
  const contacts = Math.max(1, Math.floor(lines / 20));
  let buf = '';
  for (let i = 0; i < lines; i++) {
    const name = NAMES[Math.floor(rand() * NAMES.length)]!;
    const props = name === 'Placed Order' ? { value: Math.round(rand() * 50000) / 100, currency: 'EUR' } : { product_id: `P${Math.floor(rand() * 5000)}`, category: 'shoes' };
    buf += `${JSON.stringify({ id: `evt-${i}`, email: `user${Math.floor(rand() ** 2 * contacts)}@example.com`, name, time: new Date(start + Math.floor(rand() * 300 * 86_400_000)).toISOString(), properties: props })}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((r) => out.end(r));
}

/** Runs the import benchmark and prints its figures. */
export async function run(): Promise<void> {
  const lines = Number(process.env.SEGSYNC_BENCH_IMPORT_LINES ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'segsync-bench-import-'));
  try {
    const file = join(dir, 'events.jsonl');
    await writeEvents(file, lines);
    const store = new SqliteStore({ path: join(dir, 'segsync.db') });
    const rssBefore = peakRssMiB();
    const started = process.hrtime.bigint();
    const summary = await importFile({ kind: 'events', file, store, now: Date.now });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    store.close();
    console.log('== bench: import events (JSONL → SQLite)');
    console.log(machineLine());
    console.log(`file: ${lines.toLocaleString('en')} lines, ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB; imported ${summary.imported.toLocaleString('en')}, rejected ${summary.rejected}, contacts ${summary.contactsCreated.toLocaleString('en')}`);
    console.log(`throughput: ${Math.round(summary.read / seconds).toLocaleString('en')} events/s (${seconds.toFixed(2)} s)   target ≥ 200,000 events/s`);
    console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB (before import ${rssBefore.toFixed(0)} MiB): bounded by the batch size, not the file size`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

