import type { SegsyncEvent } from '../../../src/model/types';
import { SegmentEngine } from '../../../src/rules/engine';
import { EventCache, columnsFromEvents } from '../../../src/rules/event-cache';
import { RuleSet, inlineSources } from '../../../src/rules/ruleset';
import { DAY, HOUR, T0, World, templateConfig } from './helpers';

/** A world with a few contacts and events, and a cache snapshot saved by a first load. */
function worldWithSnapshot(): { w: World; ids: number[] } {
  const w = new World();
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

function parts(w: World): { part: number; data: Buffer }[] {
  return w.store.db.prepare('SELECT part, data FROM event_cache ORDER BY part').all() as { part: number; data: Buffer }[];
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
      (w) => {
        const p = parts(w)[1]!;
        p.data[p.data.length >> 1]! ^= 0x40;
        w.store.db.prepare('UPDATE event_cache SET data = ? WHERE part = ?').run(p.data, p.part);
      },
    ],
    [
      'a column part cut short',
      (w) => {
        const p = parts(w)[1]!;
        w.store.db.prepare('UPDATE event_cache SET data = ? WHERE part = ?').run(p.data.subarray(0, p.data.length - 8), p.part);
      },
    ],
    [
      'the check part missing (a write cut off before its end)',
      (w) => {
        const last = parts(w).pop()!;
        w.store.db.prepare('DELETE FROM event_cache WHERE part = ?').run(last.part);
      },
    ],
    [
      'a middle part missing',
      (w) => {
        w.store.db.prepare('DELETE FROM event_cache WHERE part = 2').run();
      },
    ],
    [
      'a changed event name in the header',
      (w) => {
        const head = parts(w)[0]!;
        const text = head.data.toString('utf8').replace('Placed Order', 'Placed Ordex');
        w.store.db.prepare('UPDATE event_cache SET data = ? WHERE part = 0').run(Buffer.from(text));
      },
    ],
    [
      'a header that is not JSON',
      (w) => {
        w.store.db.prepare('UPDATE event_cache SET data = ? WHERE part = 0').run(Buffer.from('{"v":2,'));
      },
    ],
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
