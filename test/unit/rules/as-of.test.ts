/**
 * `segments --as-of T` and `explain --at T` are one notion of evaluation time: on a seeded data set
 * (the demo's shoppers with a year of history, plus contacts placed on the exact edges: same-
 * millisecond cart and order, events exactly a window ago, future-dated events, imported creation
 * times), every contact's every answer from the as-of sweep equals what explain shows at T.
 */
import { castShoppers, ShopperSimulation } from '../../../src/cli/demo-shoppers';
import type { FieldValue } from '../../../src/model/types';
import { explainSegment } from '../../../src/rules/explain';
import { DAY, HOUR, T0, World } from './helpers';

function seededWorld(): World {
  const w = new World();
  const shoppers = castShoppers(16, 17);
  w.store.upsertContacts(
    shoppers.map((s, i) => ({
      email: s.email,
      properties: { country: s.country, plan: i % 3 === 0 ? 'pro' : 'free' },
      tags: i % 4 === 0 ? ['newsletter'] : [],
      consent: (['subscribed', 'unsubscribed', 'cleaned', 'pending'] as const)[i % 4],
      source: 'local' as const,
      time: T0 - 400 * DAY,
      createdAt: T0 - (i % 30) * DAY,
    })),
  );
  const history = new ShopperSimulation(shoppers, 17).history(T0, 120);
  w.store.appendEvents(history.map((e) => ({ email: e.email, name: e.event, time: e.time, properties: e.properties, source: 'track' as const })));
  const edge = (email: string, events: [string, number, Record<string, number | string>?][]): void => {
    w.store.upsertContacts([{ email, properties: {}, source: 'local', time: T0 - 30 * DAY }]);
    w.store.appendEvents(events.map(([name, time, properties]) => ({ email, name, time, properties: properties ?? {}, source: 'track' as const })));
  };
  edge('tie@x.com', [
    ['Added to Cart', T0 - 30 * HOUR],
    ['Placed Order', T0 - 30 * HOUR, { value: 1000 }],
  ]);
  edge('edge@x.com', [
    ['Added to Cart', T0 - 24 * HOUR],
    ['Viewed Product', T0 - 48 * HOUR, { category: 'shoes' }],
    ['Viewed Product', T0 - 47 * HOUR, { category: 'boots' }],
  ]);
  edge('future@x.com', [
    ['Placed Order', T0 + 2 * DAY, { value: 600 }],
    ['Opened Email', T0 + HOUR],
  ]);
  edge('money@x.com', [
    ...Array.from({ length: 10 }, (_, i): [string, number, Record<string, number>] => ['Placed Order', T0 - i * DAY, { value: 99.999 }]),
    ['Placed Order', T0 - 11 * DAY, { value: 0.01 }],
  ]);
  w.engine.load();
  return w;
}

test('an as-of sweep gives every contact the answers explain --at shows, at several instants', () => {
  const w = seededWorld();
  const segments = w.engine.rules.segments.map((s) => s.name);
  const ids = [...w.store.scanContacts()].map((r) => r[0]);
  expect(ids.length).toBeGreaterThan(16);
  let compared = 0;
  for (const at of [T0 - 60 * DAY, T0, T0 + 25 * HOUR]) {
    const swept = new Map<number, FieldValue[]>();
    const summary = w.engine.evaluateAllAt(at, undefined, (id, values) => swept.set(id, [...values]));
    expect(summary.contacts).toBe(ids.length);
    for (const id of ids) {
      const mine = swept.get(id)!;
      segments.forEach((segment, i) => {
        const x = explainSegment(w.engine.rules, w.store, id, segment, at)!;
        expect([id, segment, mine[i]]).toEqual([id, segment, x.value]);
        compared++;
      });
    }
  }
  expect(compared).toBe(3 * ids.length * segments.length);
  // An as-of sweep stores nothing.
  expect(w.store.getSegmentStates(ids[0]!)).toEqual([]);
});

test('the as-of sweep and --contact as of T agree, and neither stores anything', () => {
  const w = seededWorld();
  const id = w.store.findContactByEmail('tie@x.com')!.id;
  const swept = new Map<number, FieldValue[]>();
  w.engine.evaluateAllAt(T0, undefined, (cid, values) => swept.set(cid, [...values]));
  const one = w.engine.evaluateContact(id, { now: T0, save: false })!;
  expect(one.states.map((s) => s.value)).toEqual(swept.get(id));
  expect(w.store.getSegmentStates(id)).toEqual([]);
  // And a later stored run still sees every answer as a change (nothing was remembered in memory either).
  expect(w.engine.evaluateContact(id, { now: T0 })!.changed.length).toBeGreaterThan(0);
});
