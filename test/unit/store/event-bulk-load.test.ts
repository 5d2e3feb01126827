import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations';
import { toEventRow } from '../../../src/store/event-row';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { EventRow } from '../../../src/store/store';

const T0 = Date.UTC(2026, 0, 1);

function rows(from: number, count: number, name = 'Viewed Product'): EventRow[] {
  return Array.from({ length: count }, (_, i) =>
    toEventRow({
      email: `user${(from + i) % 97}@example.com`,
      name,
      time: T0 + from + i,
      properties: { n: from + i },
      source: 'import',
      eventId: `e${from + i}`,
    }),
  );
}

function eventIndexes(store: SqliteStore): string[] {
  return store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name").pluck().all() as string[];
}
const BOTH = ['events_by_contact', 'events_by_event_id'];

const dump = (s: SqliteStore): unknown[] => s.db.prepare('SELECT id, event_id, contact_id, name_id, time, properties, source FROM events ORDER BY id').all();

function planFor(store: SqliteStore): string {
  const plan = store.db.prepare('EXPLAIN QUERY PLAN SELECT * FROM events WHERE contact_id = ? ORDER BY time').all(1) as { detail: string }[];
  return plan.map((p) => p.detail).join('; ');
}

describe('SqliteStore event bulk load', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-bulk-'));
    path = join(dir, 'segsync.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('sets the event indexes aside for a load bigger than the table, and builds them again at the end', () => {
    const store = new SqliteStore({ path, now: () => T0 });
    const load = store.beginEventBulkLoad(200_000);
    expect(load.rebuildsIndexes).toBe(true);
    expect(eventIndexes(store)).toEqual([]);
    expect(load.append(rows(0, 500))).toMatchObject({ inserted: 500, duplicates: 0, contactsCreated: 97 });
    expect(load.finish()).toEqual({ duplicates: 0 });
    expect(eventIndexes(store)).toEqual(BOTH);
    expect(planFor(store)).toContain('events_by_contact');
    expect(store.eventsOf(store.findContactByEmail('user5@example.com')!.id).map((e) => e.eventId)).toEqual(['e5', 'e102', 'e199', 'e296', 'e393', 'e490']);
    store.close();
  });

  it('keeps the contact index while a daemon that announced itself runs (it reads each contact by it), not after it is gone', async () => {
    const store = new SqliteStore({ path, now: () => T0 });
    const daemon = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      store.db.prepare("INSERT INTO store_meta (key, value) VALUES ('live_reader_pid', ?)").run(String(daemon.pid));
      const beside = store.beginEventBulkLoad(200_000);
      expect(eventIndexes(store)).toEqual(['events_by_contact']);
      beside.append(rows(0, 500));
      beside.finish();
      expect(eventIndexes(store)).toEqual(BOTH);
    } finally {
      daemon.kill('SIGKILL');
      await new Promise((r) => daemon.once('exit', r));
    }
    // Its pid is dead now (a crash left the row): the load sets both aside.
    const alone = store.beginEventBulkLoad(200_000);
    expect(eventIndexes(store)).toEqual([]);
    alone.finish();
    expect(eventIndexes(store)).toEqual(BOTH);
    store.close();
  });

  it('keeps the indexes for a load smaller than the table or too small to be worth a rebuild', () => {
    const store = new SqliteStore({ path, now: () => T0 });
    const small = store.beginEventBulkLoad(1_000);
    expect(small.rebuildsIndexes).toBe(false);
    small.append(rows(0, 1_000));
    expect(small.append(rows(900, 200))).toMatchObject({ inserted: 100, duplicates: 100 });
    expect(small.finish()).toEqual({ duplicates: 0 });
    store.db
      .prepare('INSERT INTO events (id, event_id, contact_id, name_id, time, properties, source) VALUES (500000, ?, 1, 1, ?, ?, ?)')
      .run('far', T0, '{}', 'import');
    const smallerThanTable = store.beginEventBulkLoad(200_000);
    expect(smallerThanTable.rebuildsIndexes).toBe(false);
    expect(eventIndexes(store)).toEqual(BOTH);
    smallerThanTable.finish();
    store.close();
  });

  it('ends with the rows appendEventRows stores: repeats of an id, in the load or before it, are removed at the end, the first kept', () => {
    const plain = new SqliteStore({ path: join(dir, 'plain.db'), now: () => T0 });
    const bulkStore = new SqliteStore({ path, now: () => T0 });
    const before = rows(0, 50);
    plain.appendEventRows(before);
    bulkStore.appendEventRows(before);
    const load = bulkStore.beginEventBulkLoad(150_000);
    let inserted = 0;
    let plainInserted = 0;
    for (const [from, count] of [
      [0, 300],
      [200, 300],
      [450, 100],
    ] as const) {
      inserted += load.append(rows(from, count)).inserted;
      plainInserted += plain.appendEventRows(rows(from, count)).inserted;
    }
    expect(() => load.append([...rows(900, 2), { ...rows(902, 1)[0]!, email: 'not-an-email' }])).toThrow(/email/);
    inserted += load.append(rows(900, 2)).inserted;
    plainInserted += plain.appendEventRows(rows(900, 2)).inserted;
    const { duplicates } = load.finish();
    expect(duplicates).toBe(50 + 100 + 50);
    expect(inserted - duplicates).toBe(plainInserted);
    expect(bulkStore.db.prepare('SELECT event_id, contact_id, name_id, time, properties, source FROM events ORDER BY id').all()).toEqual(
      plain.db.prepare('SELECT event_id, contact_id, name_id, time, properties, source FROM events ORDER BY id').all(),
    );
    expect(bulkStore.db.pragma('foreign_key_check')).toEqual([]);
    expect(bulkStore.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(() =>
      bulkStore.db.prepare("INSERT INTO events (event_id, contact_id, name_id, time, properties, source) VALUES ('e1', 1, 1, 0, '{}', 'import')").run(),
    ).toThrow(/UNIQUE/);
    plain.close();
    bulkStore.close();
  });

  it('lets another connection write events during the load; a repeated id ends as one row', () => {
    const loader = new SqliteStore({ path, now: () => T0 });
    const daemon = new SqliteStore({ path, now: () => T0 });
    const load = loader.beginEventBulkLoad(500_000);
    load.append(rows(0, 10));
    expect(daemon.appendEventRows(rows(5, 10)).inserted).toBe(10);
    load.append(rows(12, 5));
    expect(load.finish()).toEqual({ duplicates: 5 + 3 });
    expect(loader.db.prepare('SELECT event_id FROM events ORDER BY id').pluck().all() as string[]).toEqual(
      [...rows(0, 10), ...rows(10, 5), ...rows(15, 2)].map((r) => r.eventId),
    );
    expect(daemon.appendEventRows(rows(0, 20)).inserted).toBe(3);
    loader.close();
    daemon.close();
  });

  it('removes the repeats and builds the indexes on the next open when a load died before finishing', () => {
    const store = new SqliteStore({ path, now: () => T0 });
    const load = store.beginEventBulkLoad(500_000);
    load.append(rows(0, 100));
    load.append(rows(50, 100));
    expect(eventIndexes(store)).toEqual([]);
    store.close();
    const reopened = new SqliteStore({ path, now: () => T0 });
    expect(eventIndexes(reopened)).toEqual(BOTH);
    expect(reopened.counts().events).toBe(150);
    expect((dump(reopened) as { id: number }[]).map((r) => r.id)).toEqual([
      ...Array.from({ length: 100 }, (_, i) => i + 1),
      ...Array.from({ length: 50 }, (_, i) => i + 151),
    ]);
    reopened.close();
  });

  it('moves an older file to the named unique index without changing a row', () => {
    const old = new SqliteStore({ path, now: () => T0, migrations: MIGRATIONS.filter((m) => m.version < 12) });
    old.appendEventRows(rows(0, 300));
    const rowsBefore = dump(old);
    old.close();
    const upgraded = new SqliteStore({ path, now: () => T0 });
    expect(dump(upgraded)).toEqual(rowsBefore);
    expect(eventIndexes(upgraded)).toEqual(BOTH);
    expect(upgraded.appendEventRows(rows(290, 20))).toMatchObject({ inserted: 10, duplicates: 10 });
    expect(upgraded.db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events' ORDER BY name").pluck().all()).toEqual([
      'event_cache_drop_on_delete',
      'event_cache_drop_on_update',
      'rules_writes_events_delete',
      'rules_writes_events_update',
    ]);
    upgraded.close();
  });

  it('does not reuse an event name id from a batch that was rolled back', () => {
    const store = new SqliteStore({ path, now: () => T0 });
    const good = rows(0, 1, 'Brand New Name')[0]!;
    expect(() => store.appendEventRows([good, { ...rows(1, 1, 'Brand New Name')[0]!, email: 'bad' }])).toThrow(/email/);
    const load = store.beginEventBulkLoad(10);
    expect(load.append([good]).inserted).toBe(1);
    load.finish();
    expect(store.db.pragma('foreign_key_check')).toEqual([]);
    expect(store.eventsOf(store.findContactByEmail(good.email)!.id)[0]!.name).toBe('Brand New Name');
    store.close();
  });
});
