import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { toEventRow } from '../../../src/store/event-row';
import { readRanges } from '../../../src/store/sqlite/range-reader';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const T0 = Date.UTC(2026, 0, 1);
const EVENTS = 200_000;

let dir: string;
let path: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'segsync-parallel-scan-'));
  path = join(dir, 'store.db');
  const store = new SqliteStore({ path, now: () => T0 });
  const names = ['Placed Order', 'Viewed Product', 'Opened Email'];
  for (let from = 0; from < EVENTS; from += 50_000) {
    store.appendEventRows(
      Array.from({ length: 50_000 }, (_, k) => {
        const i = from + k;
        const name = names[i % 3]!;
        return toEventRow({
          email: `user${i % 997}@example.com`,
          name,
          time: T0 + ((i * 7919) % 100_000) * 1000,
          properties:
            name === 'Placed Order'
              ? { value: i % 7 ? (i % 1000) / 4 : `${i}.25` }
              : name === 'Viewed Product'
                ? { category: i % 5 ? 'shoes' : ['a', { b: i }] }
                : {},
          source: 'import',
          eventId: `e${i}`,
        });
      }),
    );
  }
  store.close();
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The scan's rows, cut out of its chunks. */
const scan = (store: SqliteStore, afterRow = 0): unknown[][] => {
  const rows: unknown[][] = [];
  for (const { width, values } of store.scanEventChunks(['value'], ['category'], afterRow)) {
    expect(values.length % width).toBe(0);
    for (let i = 0; i < values.length; i += width) rows.push(values.slice(i, i + width));
  }
  return rows;
};

describe('the cold start scan on two connections', () => {
  it('reads every row, in row order, exactly as one connection does', () => {
    const one = new SqliteStore({ path, parallelScanFrom: Infinity });
    const two = new SqliteStore({ path, parallelScanFrom: 1 });
    try {
      const expected = scan(one);
      expect(expected).toHaveLength(EVENTS);
      // Row i as written: contact, name, time, the value as stored (a number or its text), the category's JSON text.
      const names = one.eventNamesById();
      const row = (i: number): unknown[] => {
        const [contact, nameId, ...rest] = expected[i]!;
        return [one.getContact(contact as number)?.email, names.get(nameId as number), ...rest];
      };
      expect(row(0)).toEqual(['user0@example.com', 'Placed Order', T0, '0.25', null]);
      expect(row(3)).toEqual(['user3@example.com', 'Placed Order', T0 + ((3 * 7919) % 100_000) * 1000, 0.75, null]);
      expect(row(1)).toEqual(['user1@example.com', 'Viewed Product', T0 + 7919_000, null, '"shoes"']);
      expect(row(10)).toEqual(['user10@example.com', 'Viewed Product', T0 + ((10 * 7919) % 100_000) * 1000, null, '["a",{"b":10}]']);
      expect(row(2)).toEqual(['user2@example.com', 'Opened Email', T0 + ((2 * 7919) % 100_000) * 1000, null, null]);
      expect(scan(two)).toEqual(expected);
      expect(two.scanFallback).toBeUndefined();
      expect(scan(two, 70_000)).toEqual(expected.slice(70_000));
    } finally {
      one.close();
      two.close();
    }
  });

  it('reads on the caller’s connection what a failed worker did not', () => {
    const db = new Database(path, { readonly: true });
    try {
      const sql = 'SELECT json_group_array(id ORDER BY id) FROM events WHERE id > ? AND id <= ?';
      const s = db.prepare(sql).pluck();
      const ranges: [number, number][] = Array.from({ length: 6 }, (_, i) => [i * 1000, (i + 1) * 1000]);
      const run = (lo: number, hi: number): string => s.get(lo, hi) as string;
      const expected = ranges.map(([lo, hi]) => run(lo, hi));
      // The worker cannot open this file: it answers with an error and the caller reads every range.
      const reasons: string[] = [];
      expect([...readRanges(join(dir, 'missing.db'), sql, [], ranges, run, (r) => reasons.push(r))]).toEqual(expected);
      expect(reasons).toEqual([`the second connection's worker on ${join(dir, 'missing.db')} failed (unable to open database file)`]);
      reasons.length = 0;
      expect([...readRanges(path, sql, [], ranges, run, (r) => reasons.push(r))]).toEqual(expected);
      expect(reasons).toEqual([]);
    } finally {
      db.close();
    }
  });
});
