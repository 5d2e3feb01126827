import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../src/model/clock';
import { SegmentEngine } from '../../../src/rules/engine';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { snapshotFilesOnDisk, snapshotFolder } from '../../../src/store/sqlite/snapshot-files';
import { DAY, HOUR, T0, World, storeFilePerTest, templateConfig } from './helpers';

const files = storeFilePerTest();

const EMAILS = ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com'];

/** A world whose engine computed and stored every answer, then saved its state. */
function savedWorld(): { w: World; ids: number[] } {
  const w = new World(templateConfig(), {}, files.path());
  const ids = EMAILS.map((e, k) =>
    w.contact(e, {
      consent: k === 3 ? 'unsubscribed' : 'subscribed',
      tags: k % 2 ? ['newsletter'] : [],
      properties: { country: ['DE', 'AT', 'US', 'FR'][k]!, plan: k ? 'pro' : 'free' },
    }),
  );
  for (let i = 0; i < 60; i++) {
    const name = ['Viewed Product', 'Placed Order', 'Opened Email', 'Added to Cart', 'Clicked Email'][i % 5]!;
    w.event(EMAILS[i % EMAILS.length]!, name, T0 - i * 9 * HOUR, { value: 20 + i * 41.25, category: i % 3 ? 'shoes' : 'bags' });
  }
  w.engine.recomputeAll();
  expect(w.engine.saveState()).toBe(true);
  return { w, ids };
}

function restarted(w: World): SegmentEngine {
  const e = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
  e.load();
  return e;
}

function stateRows(w: World): number {
  return w.store.db.prepare('SELECT COUNT(*) FROM rules_state').pluck().get() as number;
}

/** Every answer, change and wake-up of these contacts as a loaded engine sees them, at a few times (undefined: no such contact). */
function picture(e: SegmentEngine, ids: number[]): unknown {
  return ids.flatMap((id) =>
    [T0, T0 + 2 * DAY, T0 + 40 * DAY].map((at) => {
      const r = e.evaluateContact(id, { now: at, save: false });
      return r && { states: r.states, changed: r.changed, next: r.nextChangeAt };
    }),
  );
}

describe('rules state snapshot', () => {
  it('restarts from the saved state with exactly the answers, changes and wake-ups a full re-read gives', () => {
    const { w, ids } = savedWorld();
    const fast = restarted(w);
    expect(fast.lastLoad?.fromStateSnapshot).toBe(true);
    w.store.db.prepare('DELETE FROM rules_state').run();
    const slow = restarted(w);
    expect(slow.lastLoad?.fromStateSnapshot).toBe(false);
    expect(picture(fast, ids)).toEqual(picture(slow, ids));
    // Nothing changed since the answers were stored: a recompute from the saved state writes nothing.
    expect(fast.recomputeAll().contactsChanged).toBe(0);
    expect(fast.nextWakeup()).toBe(slow.nextWakeup());
  });

  const writes: [string, (store: SqliteStore, ids: number[]) => void][] = [
    ['a property', (store, ids) => store.setProperty(ids[0]!, 'country', { value: 'CH', updatedAt: T0, source: 'local' })],
    ['a tag', (store, ids) => store.updateTags(ids[1]!, ['vip'], [], 'local', T0)],
    ['a consent', (store, ids) => store.setConsent(ids[2]!, { status: 'unsubscribed', updatedAt: T0, source: 'local' })],
    ['a new contact', (store) => store.upsertContacts([{ email: 'new@example.com', properties: {}, source: 'local', time: T0 }])],
    ['an erased contact', (store, ids) => store.eraseContact(ids[3]!)],
    ['an email change', (store, ids) => store.changeEmail(ids[0]!, 'a2@example.com')],
    ['a stored answer', (store, ids) => store.saveEvaluation(ids[0]!, [{ contactId: ids[0]!, segment: 'vip', value: true, since: T0 }], undefined)],
    // The earliest wake-up of all, so a restart that missed it wakes at another time.
    ['a wake-up alone', (store, ids) => store.saveEvaluations([{ contactId: ids[1]!, states: [], nextChangeAt: T0 + 1 }])],
  ];

  // Not a write to what the state holds (events are the event cache's), but one another connection makes.
  const foreignWrites = [
    ...writes,
    ['events moved to another contact (one person)', (store: SqliteStore, ids: number[]) => void store.identities.moveContactEvents(ids[0]!, ids[1]!)],
  ] as typeof writes;

  it.each(writes)('is dropped by any write to what it holds: %s', (_, write) => {
    const { w, ids } = savedWorld();
    expect(stateRows(w)).toBeGreaterThan(0);
    write(w.store, ids);
    expect(stateRows(w)).toBe(0);
    expect(restarted(w).lastLoad?.fromStateSnapshot).toBe(false);
  });

  it.each(foreignWrites)(
    'is saved after another connection wrote %s, once the engine read again what it touched, and restarts as a full re-read does',
    (name, write) => {
      const { w, ids } = savedWorld();
      // The daemon's connection: its own writes are not noted, another's are until it reads them again.
      w.store.evaluatesOwnContactWrites();
      const daemon = restarted(w);
      // The set-up's own notes (it ran as no daemon) are taken first.
      for (let run = 0; run < 10 && daemon.catchUpContacts().length; run++);
      expect(w.store.contactChanges()).toEqual([]);
      const other = new SqliteStore({ path: w.path, now: () => w.clock.now() });
      try {
        write(other, ids);
        other.appendEvents([{ email: EMAILS[2]!, name: 'Placed Order', time: T0 - HOUR, properties: { value: 900 }, source: 'import' }]);
      } finally {
        other.close();
      }
      expect(daemon.saveState()).toBe(false);
      for (let run = 0; run < 10 && daemon.catchUpContacts().length; run++);
      expect(w.store.contactChanges()).toEqual([]);
      // The erase took the top event rows, whose ids the other connection's new row got: not read yet.
      expect(daemon.saveState()).toBe(name !== 'an erased contact');
      for (let run = 0; run < 10 && daemon.catchUpRows().length; run++);
      expect(daemon.saveState()).toBe(true);
      daemon.close();

      const every = w.store.db.prepare('SELECT id FROM contacts ORDER BY id').pluck().all() as number[];
      const fast = restarted(w);
      expect(fast.lastLoad?.fromStateSnapshot).toBe(true);
      w.store.db.prepare('DELETE FROM rules_state').run();
      w.store.db.prepare('DELETE FROM event_cache').run();
      const slow = restarted(w);
      expect(slow.lastLoad?.fromStateSnapshot).toBe(false);
      expect(picture(fast, [...ids, ...every])).toEqual(picture(slow, [...ids, ...every]));
      expect(fast.nextWakeup()).toBe(slow.nextWakeup());
      expect(fast.recomputeAll().contactsChanged).toBe(0);
    },
  );

  it('is dropped once per transaction, and again by a write after a save or after a rolled-back part in the same transaction', () => {
    const { w, ids } = savedWorld();
    const answer = (id: number): void => w.store.saveEvaluation(id, [{ contactId: id, segment: 'vip', value: true, since: T0 }], undefined);
    const writesCount = (): number => w.store.db.prepare('SELECT n FROM main.rules_writes').pluck().get() as number;
    const before = writesCount();
    w.store.transaction(() => ids.forEach(answer));
    expect(stateRows(w)).toBe(0);
    expect(writesCount()).toBe(before + 1);
    // A save inside the transaction, then an answer: the state saved is stale again.
    w.store.transaction(() => {
      expect(w.engine.saveState()).toBe(true);
      answer(ids[1]!);
    });
    expect(stateRows(w)).toBe(0);
    // The part that dropped the state rolls back (the rows come back): the next write drops them again.
    expect(w.engine.saveState()).toBe(true);
    w.store.transaction(() => {
      expect(() =>
        w.store.transaction(() => {
          answer(ids[2]!);
          throw new Error('a failed part');
        }),
      ).toThrow('a failed part');
      expect(stateRows(w)).toBeGreaterThan(0);
      answer(ids[3]!);
    });
    expect(stateRows(w)).toBe(0);
    expect(w.store.foreignRulesWrites()).toBe(0);
  });

  it('is not dropped by events, which the event cache follows on its own', () => {
    const { w } = savedWorld();
    w.store.appendEvents([{ email: EMAILS[0]!, name: 'Opened Email', time: T0, properties: {}, source: 'track' }]);
    expect(restarted(w).lastLoad?.fromStateSnapshot).toBe(true);
  });

  it('is not saved when another connection wrote to the store since the load (its caches may miss that write)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'segsync-state-'));
    const clock = new ManualClock(T0);
    const store = new SqliteStore({ path: join(dir, 'store.db'), now: () => clock.now() });
    const other = new SqliteStore({ path: join(dir, 'store.db'), now: () => clock.now() });
    try {
      const [c] = store.upsertContacts([{ email: 'a@example.com', properties: { country: 'DE' }, source: 'local', time: T0 }]);
      const engine = SegmentEngine.fromConfig(templateConfig(), store, clock);
      engine.recomputeAll();
      expect(engine.saveState()).toBe(true);
      // Another connection's outbox and event writes do not matter to the rules' caches.
      other.appendEvents([{ email: 'a@example.com', name: 'Opened Email', time: T0, properties: {}, source: 'track' }]);
      other.enqueue([{ esp: 'hubspot', contactId: c!.contactId, key: 'k', op: 'set', value: 'v' }], T0);
      expect(engine.saveState()).toBe(true);
      other.setProperty(c!.contactId, 'country', { value: 'AT', updatedAt: T0, source: 'local' });
      expect(engine.saveState()).toBe(false);
      engine.load();
      expect(engine.saveState()).toBe(true);
      engine.close();
    } finally {
      other.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not saved when a contact was erased or created without the engine told, and is once it was', () => {
    const { w, ids } = savedWorld();
    const e = restarted(w);
    w.store.eraseContact(ids[3]!);
    expect(e.saveState()).toBe(false);
    e.onContacts([ids[3]!]);
    expect(e.saveState()).toBe(true);
    const fresh = restarted(w);
    expect(fresh.lastLoad?.fromStateSnapshot).toBe(true);
    expect(fresh.evaluateContact(ids[3]!, { save: false })).toBeUndefined();
  });

  it('is ignored when damaged (a flipped byte, a missing part) and the start reads the tables instead', () => {
    const { w, ids } = savedWorld();
    const truth = picture(restarted(w), ids);
    const disk = snapshotFilesOnDisk(w.path);
    const file = (): string => w.store.db.prepare('SELECT file FROM rules_state').pluck().get() as string;
    const parts = [...disk.read(file())!];
    parts[1]![parts[1]!.length >> 1]! ^= 0x20;
    // Pointed at through SQL on purpose: a damaged snapshot is not a write the triggers watch.
    w.store.db.prepare('UPDATE rules_state SET file = ?').run(disk.write('rules', parts));
    const e = restarted(w);
    expect(e.lastLoad).toMatchObject({ fromStateSnapshot: false, stateRejected: true });
    expect(picture(e, ids)).toEqual(truth);
    w.store.db.prepare('UPDATE rules_state SET file = ?').run(
      disk.write(
        'rules',
        parts.filter((_, i) => i !== 2),
      ),
    );
    expect(restarted(w).lastLoad?.fromStateSnapshot).toBe(false);
    unlinkSync(join(snapshotFolder(w.path), file()));
    expect(restarted(w).lastLoad).toMatchObject({ fromStateSnapshot: false, stateRejected: false });
  });
});
