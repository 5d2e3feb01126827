import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toEventRow } from '../../../src/store/sqlite/sqlite-store';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { EventRow } from '../../../src/store/store';

const T0 = Date.UTC(2026, 0, 1);

function rows(from: number, count: number, name = 'Viewed Product'): EventRow[] {
  return Array.from({ length: count }, (_, i) =>
    toEventRow({ email: `user${(from + i) % 97}@example.com`, name, time: T0 + from + i, properties: { n: from + i }, source: 'import', eventId: `e${from + i}` }),
  );
}

function hasContactIndex(store: SqliteStore): boolean {
  return store.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_by_contact'").get() !== undefined;
}

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

  it('sets the per-contact index aside for a load bigger than the table, and builds it again at the end', () => {
    const store = new SqliteStore({ path, now: () => T0 });
    const load = store.beginEventBulkLoad(200_000);
    expect(hasContactIndex(store)).toBe(false);
    const r = load.append(rows(0, 500));
    expect(r).toMatchObject({ inserted: 500, duplicates: 0, contactsCreated: 97 });
    load.finish();
    expect(hasContactIndex(store)).toBe(true);
    expect(planFor(store)).toContain('events_by_contact');
    expect(store.eventsOf(store.findContactByEmail('user5@example.com')!.id).map((e) => e.eventId)).toEqual(['e5', 'e102', 'e199', 'e296', 'e393', 'e490']);
    store.close();
  });

  it('keeps the index for a load smaller than the table or too small to be worth a rebuild', () => {
    const store = new SqliteStore({ path, now: () => T0 });
    const small = store.beginEventBulkLoad(1_000);
    expect(hasContactIndex(store)).toBe(true);
    small.append(rows(0, 1_000));
    small.finish();
    store.db.prepare('INSERT INTO events (id, event_id, contact_id, name_id, time, properties, source) VALUES (500000, ?, 1, 1, ?, ?, ?)').run('far', T0, '{}', 'import');
    const smallerThanTable = store.beginEventBulkLoad(200_000);
    expect(hasContactIndex(store)).toBe(true);
    smallerThanTable.finish();
    store.close();
  });

  it('stores the same rows as appendEventRows, drops replays and still refuses a bad email without losing the batch', () => {
    const plain = new SqliteStore({ path: join(dir, 'plain.db'), now: () => T0 });
    const bulkStore = new SqliteStore({ path, now: () => T0 });
    const load = bulkStore.beginEventBulkLoad(150_000);
    for (const [from, count] of [[0, 300], [200, 300]] as const) {
      expect(load.append(rows(from, count))).toEqual(plain.appendEventRows(rows(from, count)));
    }
    expect(() => load.append([...rows(900, 2), { ...rows(902, 1)[0]!, email: 'not-an-email' }])).toThrow(/email/);
    expect(load.append(rows(900, 2)).inserted).toBe(2);
    load.finish();
    const dump = (s: SqliteStore): unknown[] => s.db.prepare('SELECT event_id, contact_id, name_id, time, properties, source FROM events ORDER BY id').all();
    plain.appendEventRows(rows(900, 2));
    expect(dump(bulkStore)).toEqual(dump(plain));
    expect(bulkStore.db.pragma('foreign_key_check')).toEqual([]);
    expect(bulkStore.db.pragma('foreign_keys', { simple: true })).toBe(1);
    plain.close();
    bulkStore.close();
  });

  it('builds the index again on the next open when a load died before finishing', () => {
    const store = new SqliteStore({ path, now: () => T0 });
    store.beginEventBulkLoad(500_000).append(rows(0, 100));
    expect(hasContactIndex(store)).toBe(false);
    store.close();
    const reopened = new SqliteStore({ path, now: () => T0 });
    expect(hasContactIndex(reopened)).toBe(true);
    reopened.close();
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
