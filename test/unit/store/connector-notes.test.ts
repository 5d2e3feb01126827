/**
 * Connector notes in the store: what one process notes another reads, until it expires; notes of one
 * ESP and kind never mix with another's; replacing, dropping, and forgetting an ESP's on unlink.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryNotes } from '../../../connectors/notes';
import { ManualClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { storeNotes } from '../../../src/sync/connector-notes';

const T0 = Date.UTC(2026, 11, 7);

describe('connector notes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-notes-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are read by another connection until they expire, by ESP and kind, replaced and dropped by key', () => {
    const clock = new ManualClock(T0);
    const a = new SqliteStore({ path: join(dir, 'db.sqlite') });
    const b = new SqliteStore({ path: join(dir, 'db.sqlite') });
    try {
      const mine = storeNotes(a, 'mailchimp', clock);
      mine.put(
        'job',
        [
          ['j1', '["x"]'],
          ['j2', '["y"]'],
        ],
        T0 + 1000,
      );
      mine.put('other', [['j1', 'other kind']], T0 + 1000);
      storeNotes(a, 'klaviyo', clock).put('job', [['j3', '[]']], T0 + 1000);
      const theirs = storeNotes(b, 'mailchimp', clock);
      expect(theirs.get('job')).toEqual(
        new Map([
          ['j1', '["x"]'],
          ['j2', '["y"]'],
        ]),
      );
      expect(theirs.get('job', ['j2', 'nope'])).toEqual(new Map([['j2', '["y"]']]));
      theirs.put('job', [['j2', '["z"]']], T0 + 5000);
      theirs.drop('job', ['j1']);
      expect(mine.get('job')).toEqual(new Map([['j2', '["z"]']]));
      clock.set(T0 + 1000).catch(() => undefined);
      expect([mine.get('job').size, mine.get('other').size, storeNotes(b, 'klaviyo', clock).get('job').size]).toEqual([1, 0, 0]);
      // An expired note is deleted by the next write.
      mine.put('job', [], T0 + 9000);
      expect(a.db.prepare('SELECT COUNT(*) FROM connector_notes').pluck().get()).toBe(1);
    } finally {
      a.close();
      b.close();
    }
  });

  it('reads many keys at once (more than one query holds)', () => {
    const clock = new ManualClock(T0);
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    try {
      const notes = storeNotes(store, 'klaviyo', clock);
      const keys = Array.from({ length: 1_234 }, (_, i) => `k${i}`);
      notes.put(
        'subscribe',
        keys.map((k) => [k, '1'] as const),
        T0 + 1000,
      );
      expect(notes.get('subscribe', [...keys, 'missing']).size).toBe(1_234);
    } finally {
      store.close();
    }
  });

  it("are forgotten with the ESP's other links on unlink", () => {
    const clock = new ManualClock(T0);
    const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    try {
      storeNotes(store, 'mailchimp', clock).put('job', [['j1', '[]']], T0 + 1000);
      storeNotes(store, 'klaviyo', clock).put('job', [['j2', '[]']], T0 + 1000);
      store.unlinkEsp('mailchimp');
      expect([storeNotes(store, 'mailchimp', clock).get('job').size, storeNotes(store, 'klaviyo', clock).get('job').size]).toEqual([0, 1]);
    } finally {
      store.close();
    }
  });

  it('behave the same in memory (a connector without a store)', () => {
    const clock = new ManualClock(T0);
    const notes = memoryNotes(clock);
    notes.put(
      'job',
      [
        ['j1', 'a'],
        ['j2', 'b'],
      ],
      T0 + 1000,
    );
    notes.drop('job', ['j1']);
    expect(notes.get('job')).toEqual(new Map([['j2', 'b']]));
    expect(notes.get('other').size).toBe(0);
    clock.set(T0 + 1000).catch(() => undefined);
    expect(notes.get('job', ['j2']).size).toBe(0);
  });
});
