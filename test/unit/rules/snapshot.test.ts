import { readdirSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { SegsyncEvent } from '../../../src/model/types';
import { SegmentEngine } from '../../../src/rules/engine';
import { EventCache, columnsFromEvents } from '../../../src/rules/event-cache';
import { RuleSet, inlineSources } from '../../../src/rules/ruleset';
import { snapshotFilesOnDisk, snapshotFolder } from '../../../src/store/sqlite/snapshot-files';
import { DAY, HOUR, T0, World, storeFilePerTest, templateConfig } from './helpers';

const files = storeFilePerTest();

/** A world on a store file with a few contacts and events, and a cache snapshot saved by a first load. */
function worldWithSnapshot(): { w: World; ids: number[] } {
  const w = new World(templateConfig(), {}, files.path());
  const ids = ['a@example.com', 'b@example.com', 'c@example.com'].map((e) =>
    w.contact(e, { consent: 'subscribed', properties: { country: 'DE', plan: 'pro' } }),
  );
  for (let i = 0; i < 40; i++) {
    const email = ['a@example.com', 'b@example.com', 'c@example.com'][i % 3]!;
    const name = ['Viewed Product', 'Placed Order', 'Opened Email', 'Added to Cart'][i % 4]!;
    w.event(email, name, T0 - i * 7 * HOUR, { value: 10 + i * 31.5, category: i % 2 ? 'shoes' : 'bags' });
  }
  SegmentEngine.fromConfig(templateConfig(), w.store, w.clock).load();
  return { w, ids };
}

/** The file the store's snapshot row names. */
function snapshotFile(w: World): string {
  return join(snapshotFolder(w.path), w.store.db.prepare('SELECT file FROM event_cache').pluck().get() as string);
}

/** Rewrites the snapshot's parts through `edit`, as damage on disk would leave them (no trigger sees it). */
function damageParts(edit: (parts: Buffer[]) => Buffer[]): (w: World) => void {
  return (w) => {
    const disk = snapshotFilesOnDisk(w.path);
    const name = disk.write('events', edit([...disk.read(basename(snapshotFile(w)))!]));
    w.store.db.prepare('UPDATE event_cache SET file = ?').run(name);
  };
}

/** Every answer and wake-up of these contacts from a loaded engine, at a few times. */
function answers(e: SegmentEngine, ids: number[]): unknown {
  return ids.flatMap((id) =>
    [T0, T0 + DAY, T0 + 30 * DAY].map((at) => {
      const r = e.evaluateContact(id, { now: at, save: false })!;
      return { states: r.states, next: r.nextChangeAt };
    }),
  );
}

describe('event cache snapshot', () => {
  const damages: [string, (w: World) => void][] = [
    [
      'a flipped byte in a column',
      damageParts((parts) => {
        parts[1]![parts[1]!.length >> 1]! ^= 0x40;
        return parts;
      }),
    ],
    ['a column part cut short', damageParts((parts) => parts.map((p, i) => (i === 1 ? p.subarray(0, p.length - 8) : p)))],
    ['the check part missing (a write cut off before its end)', damageParts((parts) => parts.slice(0, -1))],
    ['a middle part missing', damageParts((parts) => parts.filter((_, i) => i !== 2))],
    [
      'a changed event name in the header',
      damageParts((parts) => [Buffer.from(parts[0]!.toString('utf8').replace('Placed Order', 'Placed Ordex')), ...parts.slice(1)]),
    ],
    ['a header that is not JSON', damageParts((parts) => [Buffer.from('{"v":2,'), ...parts.slice(1)])],
    ['a file cut short mid-part (a disk that lost its end)', (w) => truncateSync(snapshotFile(w), statSync(snapshotFile(w)).size - 100)],
  ];

  it.each(damages)('detects %s, rebuilds from the events with the right answers, and saves a good snapshot again', (_, damage) => {
    const { w, ids } = worldWithSnapshot();
    const truth = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    truth.load();
    expect(truth.lastLoad?.fromSnapshot).toBe(true);
    const expected = answers(truth, ids);
    damage(w);
    const damaged = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    damaged.load();
    expect(damaged.lastLoad).toMatchObject({ fromSnapshot: false, eventsAfterSnapshot: 0, snapshotRejected: true });
    expect(answers(damaged, ids)).toEqual(expected);
    const next = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    next.load();
    expect(next.lastLoad?.fromSnapshot).toBe(true);
    expect(answers(next, ids)).toEqual(expected);
  });

  it('takes a snapshot whose file is gone for none: rebuilds from the events and saves one again', () => {
    const { w, ids } = worldWithSnapshot();
    const expected = answers(SegmentEngine.fromConfig(templateConfig(), w.store, w.clock), ids);
    unlinkSync(snapshotFile(w));
    const rebuilt = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    rebuilt.load();
    expect(rebuilt.lastLoad).toMatchObject({ fromSnapshot: false, snapshotRejected: false });
    expect(answers(rebuilt, ids)).toEqual(expected);
    const next = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    next.load();
    expect(next.lastLoad?.fromSnapshot).toBe(true);
  });

  it('keeps one file per snapshot: a new one deletes the one before, and a file its dropped row named is never read', () => {
    const { w, ids } = worldWithSnapshot();
    const first = basename(snapshotFile(w));
    w.store.db.exec('DELETE FROM event_cache');
    const second = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    second.load();
    expect(second.lastLoad?.fromSnapshot).toBe(false);
    const folder = snapshotFolder(w.path);
    expect(readdirSync(folder)).toEqual([basename(snapshotFile(w))]);
    expect(basename(snapshotFile(w))).not.toBe(first);
    // An erase drops the row (a trigger); the file stays until the next snapshot, unread.
    w.store.db.prepare('DELETE FROM events WHERE contact_id = ?').run(ids[0]);
    expect(readdirSync(folder)).toHaveLength(1);
    const after = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    after.load();
    expect(after.lastLoad).toMatchObject({ fromSnapshot: false, snapshotRejected: false });
    expect(answers(after, ids)).toEqual(answers(SegmentEngine.fromConfig(templateConfig(), w.store, w.clock), ids));
    expect(readdirSync(folder)).toHaveLength(1);
  });

  it('reads an intact snapshot back to the very answers of a full scan', () => {
    const { w, ids } = worldWithSnapshot();
    const fromSnapshot = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    fromSnapshot.load();
    expect(fromSnapshot.lastLoad?.fromSnapshot).toBe(true);
    const fromStore = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    expect(answers(fromSnapshot, ids)).toEqual(answers(fromStore, ids));
  });
});

describe('event cache snapshot read by other rules over the same properties', () => {
  it('re-codes event names and filtered values the other rules number differently', () => {
    const a = RuleSet.compile(
      inlineSources({
        spent: { rule: 'sum("Placed Order", "value")', type: 'value' },
        shoes: 'count("Viewed Product", 30d, {"category": ["shoes"]}) >= 1',
      }),
    ).plan;
    const b = RuleSet.compile(
      inlineSources({
        boots: 'count("Viewed Product", 30d, {"category": ["boots", "bags", "shoes"]}) >= 1',
        opened: 'exists("Opened Email")',
        spent: { rule: 'sum("Placed Order", "value")', type: 'value' },
      }),
    ).plan;
    expect(EventCache.layoutOf(b)).toBe(EventCache.layoutOf(a));
    const events: Pick<SegsyncEvent, 'name' | 'time' | 'properties'>[] = [
      { name: 'Viewed Product', time: T0 - HOUR, properties: { category: 'shoes' } },
      { name: 'Placed Order', time: T0 - 2 * HOUR, properties: { value: 12.5 } },
      { name: 'Viewed Product', time: T0 - 3 * HOUR, properties: { category: 'boots' } },
      { name: 'Opened Email', time: T0 - 4 * HOUR, properties: {} },
      { name: 'Viewed Product', time: T0 - 5 * HOUR, properties: { category: 'hats' } },
    ];
    const written = EventCache.empty(a);
    written.append(3, events);
    const read = EventCache.fromSnapshot(b, written.serialize())!;
    const decoded = (plan: typeof a, cache: EventCache): unknown => {
      const s = cache.slice(3);
      return Array.from({ length: s.end - s.start }, (_, i) => ({
        name: plan.names[s.cols.names[s.start + i]!],
        time: s.cols.times[s.start + i],
        value: s.cols.numeric[0]![s.start + i],
        category: s.cols.categorical[0]![s.start + i]! >= 0 ? plan.dictionary(0).find(([, c]) => c === s.cols.categorical[0]![s.start + i])?.[0] : null,
      }));
    };
    expect(decoded(b, read)).toEqual(decoded(a, written));
    expect(
      decoded(b, EventCache.fromSnapshot(b, EventCache.fromColumns(b, columnsFromEvents(b, events), Int32Array.from([0, 0, 0, 0, 5])).serialize())!),
    ).toEqual(decoded(a, written));
  });
});
