/**
 * Triggers run once per row written, so one that scans a table makes a bulk write quadratic: migration
 * 91's delete trigger read every event for each event deleted (an erase of 200 events among 2 M took
 * 15 s). Every statement of every trigger must reach the big tables through an index or the row id.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../src/store/sqlite/sqlite-store';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

/** Tables that grow with the contacts or their events. */
const BIG = ['events', 'contacts', 'properties', 'tags', 'segment_answers', 'sync_state', 'outbox'];

/** The statements of a trigger's body, with OLD and NEW columns made constants so they can be planned alone. */
function bodyStatements(sql: string): string[] {
  const body = sql.slice(sql.search(/\bBEGIN\b/i) + 5, sql.search(/\bEND\s*$/i));
  return body
    .split(';')
    .map((s) => s.trim().replace(/\b(?:OLD|NEW)\.\w+/g, '1'))
    .filter(Boolean);
}

describe('store triggers', () => {
  let dir: string;
  let store: SqliteStore;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-triggers-'));
    store = openStore(join(dir, 'segsync.db'));
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never scan a table that grows with the contacts or their events', () => {
    const triggers = store.db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all() as { name: string; sql: string }[];
    expect(triggers.map((t) => t.name)).toContain('rules_writes_events_delete');
    const scans: string[] = [];
    for (const t of triggers) {
      for (const statement of bodyStatements(t.sql)) {
        const plan = store.db.prepare(`EXPLAIN QUERY PLAN ${statement}`).all() as { detail: string }[];
        for (const { detail } of plan)
          if (BIG.some((table) => new RegExp(`^SCAN ${table}\\b`).test(detail))) scans.push(`${t.name}: ${detail} in ${statement}`);
      }
    }
    expect(scans).toEqual([]);
  });

  it('an erase of the newest contact still records the highest event row left (the floor the catch-up reads from)', () => {
    const events = Array.from({ length: 300 }, (_, i) => ({
      email: i < 200 ? 'early@x.com' : 'late@x.com',
      name: 'N',
      time: i,
      properties: {},
      source: 'import' as const,
    }));
    store.appendEvents(events);
    const late = store.findContactByEmail('late@x.com')!;
    store.eraseContact(late.id);
    // The top 100 rows went: the floor is the highest row left.
    expect(store.db.prepare('SELECT MIN(floor) FROM event_row_reuse').pluck().get()).toBe(200);
  });
});
