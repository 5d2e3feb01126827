/**
 * A store whose disk fills up. SQLite's page cap on the store's connection stands in for the disk: it
 * fails writes with the same SQLITE_FULL a full disk gives.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreFullError } from '../../../src/errors';
import { importFile } from '../../../src/ingest/importer';
import { isDiskFull } from '../../../src/store/disk-full';
import { openStore } from '../../../src/store/sqlite/sqlite-store';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const NOW = Date.UTC(2026, 11, 1);

/** Lets the store grow by `pages` more pages at most (0: not at all). */
function capPages(store: SqliteStore, pages: number): void {
  store.db.pragma(`max_page_count = ${(store.db.pragma('page_count', { simple: true }) as number) + pages}`);
}
const uncap = (store: SqliteStore): void => void store.db.pragma('max_page_count = 1073741823');
const eventCount = (store: SqliteStore): number => store.db.prepare('SELECT COUNT(*) FROM events').pluck().get() as number;
const eventIndexes = (store: SqliteStore): string[] =>
  store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name").pluck().all() as string[];

function eventsFile(dir: string, n: number): string {
  const file = join(dir, `events-${n}.jsonl`);
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: `e${i}`, email: `p${i % 500}@x.com`, name: 'Viewed Product', time: '2026-11-30T10:00:00Z', properties: { note: 'x'.repeat(300) } }),
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('a full disk under the store', () => {
  let dir: string;
  let path: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-full-'));
    path = join(dir, 'segsync.db');
    store = openStore(path);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('knows a full disk by SQLite’s code and the file system’s, and nothing else', () => {
    for (const code of ['SQLITE_FULL', 'ENOSPC', 'EDQUOT']) expect(isDiskFull(Object.assign(new Error('x'), { code }))).toBe(true);
    expect(isDiskFull({ cause: { code: 'ENOSPC' } })).toBe(true);
    for (const code of ['SQLITE_BUSY', 'SQLITE_IOERR', 'EACCES', undefined]) expect(isDiskFull(Object.assign(new Error('x'), { code }))).toBe(false);
  });

  it('fails a write whole with a typed error naming the store and the disk to free; the write probe says so until a write goes through', () => {
    store.upsertContacts([{ email: 'first@x.com', properties: {}, source: 'local' }]);
    capPages(store, 0);
    const big = Array.from({ length: 200 }, (_, i) => ({
      email: `a${i}@x.com`,
      name: 'N',
      time: NOW,
      properties: { note: 'x'.repeat(500) },
      source: 'import' as const,
    }));
    let thrown: unknown;
    try {
      store.appendEvents(big);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StoreFullError);
    expect(thrown).toMatchObject({
      code: 'E_STORE_FULL',
      retryable: true,
      folder: dir,
      message: `no room left to write the store ${path}: the disk that holds it is full`,
      hint: `free space on the disk that holds ${dir} (\`df -h ${dir}\` shows it), then run it again: what failed was not written at all`,
    });
    expect(eventCount(store)).toBe(0);
    expect(store.findContactByEmail('a0@x.com')).toBeUndefined();
    expect(() => store.probeWrite()).toThrow(StoreFullError);
    // A write outside a transaction fails typed too.
    expect(() => store.setCursor('hubspot', 'x'.repeat(9000), 'y'.repeat(9000))).toThrow(StoreFullError);

    uncap(store);
    store.appendEvents(big.slice(0, 1));
    expect(() => store.probeWrite()).not.toThrow();
    expect(eventCount(store)).toBe(1);
  });

  it('stops an import at the full disk, saying how many records were stored and that importing again is safe; nothing is rejected', async () => {
    const file = eventsFile(dir, 3000);
    capPages(store, 300);
    let thrown: unknown;
    await importFile({ kind: 'events', file, store, now: () => NOW, batchSize: 250 }).catch((err: unknown) => {
      thrown = err;
    });
    const stored = eventCount(store);
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(3000);
    expect(thrown).toBeInstanceOf(StoreFullError);
    expect(thrown).toMatchObject({
      message: `no room left to write the store ${path}: the disk that holds it is full: the import stopped after ${stored.toLocaleString('en-US')} records were stored`,
      hint: `free space on the disk that holds ${dir} (\`df -h ${dir}\` shows it), then import the same file again: what is already stored is not added twice`,
    });
    expect(readdirSync(dir).filter((f) => f.includes('rejects'))).toEqual([]);

    uncap(store);
    const again = await importFile({ kind: 'events', file, store, now: () => NOW, batchSize: 250 });
    expect(again).toMatchObject({ read: 3000, imported: 3000 - stored, duplicates: stored, rejected: 0 });
    expect(eventCount(store)).toBe(3000);
  });

  it('a bulk import stopped by a full disk: the event indexes are there at the next open at the latest, and importing again adds nothing twice', async () => {
    const file = eventsFile(dir, 100_000);
    capPages(store, 5000);
    await expect(importFile({ kind: 'events', file, store, now: () => NOW, batchSize: 10_000 })).rejects.toThrow(
      /the import stopped after [\d,]+ records were stored/,
    );
    const stored = eventCount(store);
    expect(stored).toBeGreaterThan(0);
    store.close();
    store = openStore(path);
    expect(eventIndexes(store)).toEqual(['events_by_contact', 'events_by_event_id']);
    const again = await importFile({ kind: 'events', file, store, now: () => NOW });
    expect(again).toMatchObject({ read: 100_000, imported: 100_000 - stored, duplicates: stored, rejected: 0 });
    expect(eventCount(store)).toBe(100_000);
    expect(existsSync(`${path}-wal`)).toBe(true);
  });
});
