import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { StoreError } from '../../../src/errors';
import { createLogger } from '../../../src/log/logger';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations';
import { SqliteStore, WEBHOOK_DEDUPE_RETENTION_MS, openStore } from '../../../src/store/sqlite/sqlite-store';

const T0 = Date.UTC(2026, 10, 1);
const deepText = (depth: number): string => `{"a":${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}}`;

describe('store safety', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-safety-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a zero-length store file and a store in a missing folder, each with a hint; creates only its own .segsync folder', () => {
    writeFileSync(join(dir, 'empty.db'), '');
    expect(() => openStore(join(dir, 'empty.db'))).toThrow(/is empty \(0 bytes\)/);
    const missing = (): SqliteStore => openStore(join(dir, 'not-mounted', 'segsync.db'));
    expect(missing).toThrow(StoreError);
    expect(missing).toThrow(/folder .*not-mounted does not exist/);
    try {
      missing();
    } catch (err) {
      expect((err as StoreError).hint).toMatch(/mkdir -p/);
    }
    openStore(join(dir, '.segsync', 'segsync.db')).close();
    expect(() => openStore(join(dir, 'a', '.segsync', 'segsync.db'))).toThrow(/does not exist/);
  });

  it('keeps every commit on disk before it returns with durability full (synchronous=FULL), NORMAL by default', () => {
    const normal = new SqliteStore({ path: join(dir, 'n.db') });
    const full = new SqliteStore({ path: join(dir, 'f.db'), durability: 'full' });
    expect([normal.db.pragma('synchronous', { simple: true }), full.db.pragma('synchronous', { simple: true })]).toEqual([1, 2]);
    normal.close();
    full.close();
  });

  it('reports an id reused for other content as a conflict, a resend as a duplicate (key order and receipt times aside)', () => {
    const store = new SqliteStore({ path: join(dir, 's.db'), now: () => T0 });
    const e = { eventId: 'm1', email: 'a@x.com', name: 'Placed Order', time: T0, properties: { a: 1, b: 2 }, source: 'track' as const };
    expect(store.appendEvents([e])).toMatchObject({ inserted: 1, duplicates: 0, conflicts: [] });
    const again = store.appendEvents([
      { ...e, properties: { b: 2, a: 1 } },
      { ...e, properties: { a: 2, b: 2 } },
      { ...e, time: T0 + 5 },
      { ...e, time: T0 + 5, timeFromReceipt: true },
      { ...e, name: 'Other' },
    ]);
    expect(again).toMatchObject({ inserted: 0, duplicates: 2, conflicts: [1, 2, 4] });
    store.close();
  });

  it('sets aside rows an older segsync stored unreadable, at the next open: events by id, properties by name', () => {
    const path = join(dir, 'old.db');
    // A file at the schema before the quarantine existed, poisoned as the old daemon let it be.
    const old = new SqliteStore({ path, migrations: MIGRATIONS.filter((m) => m.version < 13), now: () => T0 });
    old.appendEvents([{ eventId: 'good', email: 'a@x.com', name: 'Viewed Product', time: T0, properties: { sku: 'S1' }, source: 'track' }]);
    const contact = old.findContactByEmail('a@x.com')!.id;
    old.db
      .prepare("INSERT INTO events (event_id, contact_id, name_id, time, properties, source) VALUES ('poison', ?, 1, ?, ?, 'track')")
      .run(contact, T0, deepText(1001));
    old.db.prepare("INSERT INTO properties (contact_id, name, value, updated_at, source) VALUES (?, 'deep', ?, ?, 'local')").run(contact, deepText(1001), T0);
    old.close();

    const store = new SqliteStore({ path, now: () => T0 });
    expect(store.sweptContacts).toEqual([contact]);
    const q = store.quarantined(10);
    expect(q.total).toBe(2);
    expect(q.rows.map((r) => [r.kind, r.ref, r.contactId])).toEqual([
      ['event', 'poison', contact],
      ['property', 'deep', contact],
    ]);
    expect(store.eventsOf(contact).map((e) => e.eventId)).toEqual(['good']);
    expect(store.eventPropertyNames(100)).toEqual([{ event: 'Viewed Product', property: 'sku' }]);
    store.close();
    // The next open checks only rows stored since: nothing more to set aside.
    const again = new SqliteStore({ path, now: () => T0 });
    expect([again.sweptContacts, again.quarantined(10).total]).toEqual([[], 2]);
    again.close();
  });

  it('probes for writing without waiting: a lock held by another process fails the probe at once', async () => {
    const path = join(dir, 'p.db');
    const store = new SqliteStore({ path });
    expect(() => store.probeWrite()).not.toThrow();
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `
      const Database = require(${JSON.stringify(resolve(__dirname, '../../../node_modules/better-sqlite3'))});
      const db = new Database(process.argv[1]);
      db.exec('BEGIN IMMEDIATE');
      db.exec("INSERT INTO store_meta (key, value) VALUES ('x', '1')");
      process.stdout.write('locked\\n');
      setTimeout(() => { db.exec('ROLLBACK'); process.exit(0); }, 1500);`,
        path,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => holder.on('exit', r));
    await new Promise<void>((r) => holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && r()));
    const started = Date.now();
    expect(() => store.probeWrite()).toThrow(/locked by another process/);
    expect(Date.now() - started).toBeLessThan(500);
    await exited;
    // The holder is gone: the probe passes again, and it left nothing behind.
    expect(() => store.probeWrite()).not.toThrow();
    expect(store.db.prepare("SELECT COUNT(*) FROM store_meta WHERE key = 'write_probe'").pluck().get()).toBe(0);
    store.close();
  });

  it('forgets webhook delivery ids after the retry window', () => {
    const store = new SqliteStore({ path: join(dir, 'w.db') });
    expect(store.markWebhookEvent('hubspot', 'e1', T0)).toBe(true);
    expect(store.markWebhookEvent('hubspot', 'e1', T0 + 1000)).toBe(false);
    expect(store.markWebhookEvent('klaviyo', 'e2', T0 + WEBHOOK_DEDUPE_RETENTION_MS)).toBe(true);
    expect(store.pruneWebhookEvents(T0 + WEBHOOK_DEDUPE_RETENTION_MS - 1)).toBe(1);
    expect(store.markWebhookEvent('klaviyo', 'e2', T0 + WEBHOOK_DEDUPE_RETENTION_MS)).toBe(false);
    // Pruned as the table grows, too.
    for (let i = 0; i < 1000; i++) store.markWebhookEvent('hubspot', `n${i}`, T0 + 2 * WEBHOOK_DEDUPE_RETENTION_MS + 1);
    expect(store.db.prepare("SELECT COUNT(*) FROM webhook_events WHERE event_id = 'e2'").pluck().get()).toBe(0);
    store.close();
  });
});

describe('error logs', () => {
  it('name the real error class, code and hint', () => {
    let out = '';
    const logger = createLogger({ level: 'error', destination: new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) }) });
    logger.error({ err: new StoreError('the store is locked by another process', { hint: 'wait' }) }, 'x');
    logger.error({ err: { type: 'EspAuthError', message: 'summary made by the caller' } }, 'y');
    const [a, b] = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { err: Record<string, unknown> });
    expect(a!.err).toMatchObject({ type: 'StoreError', code: 'E_STORE', hint: 'wait', message: 'the store is locked by another process' });
    expect(b!.err).toEqual({ type: 'EspAuthError', message: 'summary made by the caller' });
  });
});
