import { ManualClock } from '../../../src/model/clock';
import { SegmentEngine } from '../../../src/rules/engine';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { DAY, HOUR, T0, storeFilePerTest, templateConfig } from './helpers';

const { open } = storeFilePerTest();

function engineOver(store: SqliteStore): SegmentEngine {
  const e = SegmentEngine.fromConfig(templateConfig(), store, new ManualClock(T0), { workers: 0 });
  e.load();
  return e;
}

const order = (email: string, value: number, time = T0 - HOUR): Parameters<SqliteStore['appendEvents']>[0][number] => ({
  email,
  name: 'Placed Order',
  time,
  properties: { value },
  source: 'import',
});

const vip = (store: SqliteStore, id: number): unknown => store.getSegmentStates(id).find((s) => s.segment === 'vip')?.value ?? false;

/** A store with one contact, evaluated by a loaded engine. */
function running(): { store: SqliteStore; engine: SegmentEngine; id: number } {
  const store = open();
  const [r] = store.upsertContacts([{ email: 'a@example.com', properties: {}, consent: 'subscribed', source: 'local', time: T0 - 400 * DAY }]);
  store.appendEvents([order('a@example.com', 10)]);
  const engine = engineOver(store);
  engine.recomputeAll();
  return { store, engine, id: r!.contactId };
}

describe('event rows the engine never heard of', () => {
  it('evaluates the contacts another connection stored events for (an import while the daemon runs), once', () => {
    const { store, engine, id } = running();
    expect(vip(store, id)).toBe(false);
    const other = open();
    other.appendEvents([order('a@example.com', 5000), order('new@example.com', 3000)]);
    other.close();
    const evals = engine.catchUpRows();
    const fresh = store.findContactByEmail('new@example.com')!.id;
    expect(evals.map((e) => e.contactId).sort()).toEqual([id, fresh].sort());
    expect(vip(store, id)).toBe(true);
    expect(vip(store, fresh)).toBe(true);
    expect(evals.find((e) => e.contactId === id)!.changed.map((c) => c.segment)).toContain('vip');
    expect(engine.catchUpRows()).toEqual([]);
  });

  it.each([20_000, 1])(
    'reads the rows stored at the ids of top rows another process deleted (an erase, then an import of events), once (%d a run)',
    (limit) => {
      const { store, engine, id } = running();
      // The daemon's connection: only what other processes write is noted for it.
      store.evaluatesOwnContactWrites();
      const [b] = store.upsertContacts([{ email: 'b@example.com', properties: {}, consent: 'subscribed', source: 'local', time: T0 - 400 * DAY }]);
      const [c] = store.upsertContacts([{ email: 'c@example.com', properties: {}, consent: 'subscribed', source: 'local', time: T0 - 400 * DAY }]);
      engine.onContacts([b!.contactId, c!.contactId]);
      engine.onEvents(store.appendEvents([order('b@example.com', 20), order('c@example.com', 30), order('c@example.com', 40)]).touched);
      // The engine has looked at every row up to c's last, and at every noted contact.
      engine.catchUpContacts();
      expect(engine.catchUpRows()).toEqual([]);
      expect(store.contactChanges()).toEqual([]);
      const other = open();
      // c's two rows are the newest: the next two rows stored, a's and b's, get their ids.
      other.eraseContact(c!.contactId);
      other.appendEvents([order('a@example.com', 5000), order('b@example.com', 7000), order('b@example.com', 1, T0 - 2 * HOUR)]);
      other.close();
      const evaluated = engine.catchUpContacts().map((e) => e.contactId);
      let runs = 0;
      do {
        evaluated.push(...engine.catchUpRows(limit).map((e) => e.contactId));
        if (runs === 0) expect(store.eventRowReuse(0) === undefined).toBe(limit > 1);
      } while (engine.hasMoreDue(T0) && ++runs < 10);
      expect(evaluated.sort()).toEqual([id, b!.contactId].sort());
      expect(vip(store, id)).toBe(true);
      expect(vip(store, b!.contactId)).toBe(true);
      // Each row counted once: a's two orders, b's three.
      const ltv = (contact: number): unknown => store.getSegmentStates(contact).find((x) => x.segment === 'lifetime_value')?.value;
      expect([ltv(id), ltv(b!.contactId)]).toEqual([5010, 7021]);
      expect(engine.catchUpRows()).toEqual([]);
      expect(store.eventRowReuse(0)).toBeUndefined();
    },
  );

  it('leaves alone the contacts whose rows this engine read itself', () => {
    const { store, engine, id } = running();
    const out = store.appendEvents([order('a@example.com', 5000)]);
    engine.onEvents(out.touched);
    expect(vip(store, id)).toBe(true);
    expect(engine.catchUpRows()).toEqual([]);
  });

  it('evaluates at the next start the events stored while no engine ran, from the snapshot’s tail', () => {
    const { store, engine, id } = running();
    expect(engine.saveState()).toBe(true);
    store.close();
    const importer = open();
    importer.appendEvents([order('a@example.com', 5000, T0 - 2 * DAY)]);
    importer.close();
    const again = open();
    const restarted = engineOver(again);
    expect(restarted.lastLoad).toMatchObject({ fromSnapshot: true, eventsAfterSnapshot: 1 });
    expect(vip(again, id)).toBe(false);
    expect(restarted.catchUpRows().map((e) => e.contactId)).toEqual([id]);
    expect(vip(again, id)).toBe(true);
  });

  it('takes at most `limit` contacts a call and the rest on the next', () => {
    const { store, engine } = running();
    const other = open();
    other.appendEvents(Array.from({ length: 25 }, (_, i) => order(`c${i}@example.com`, 100 * i)));
    other.close();
    expect(engine.catchUpRows(10)).toHaveLength(10);
    expect(engine.catchUpRows(10)).toHaveLength(10);
    expect(engine.catchUpRows(10)).toHaveLength(5);
    expect(engine.catchUpRows(10)).toEqual([]);
    for (let i = 0; i < 25; i++) expect(vip(store, store.findContactByEmail(`c${i}@example.com`)!.id)).toBe(i >= 10);
  });
});

/** `n` contacts who each added to cart a minute apart and nothing since, evaluated: all due to flip within a day. */
function cartsLeft(n: number): { store: SqliteStore; engine: SegmentEngine; ids: number[] } {
  const store = open();
  const emails = Array.from({ length: n }, (_, i) => `cart${i}@example.com`);
  store.upsertContacts(emails.map((email) => ({ email, properties: {}, consent: 'subscribed' as const, source: 'local' as const, time: T0 - DAY })));
  store.appendEvents(emails.map((email, i) => ({ email, name: 'Added to Cart', time: T0 - i * 60_000, properties: {}, source: 'track' as const })));
  const engine = engineOver(store);
  engine.recomputeAll();
  return { store, engine, ids: emails.map((e) => store.findContactByEmail(e)!.id) };
}

describe('a clock-driven batch that fails', () => {
  it('leaves every due contact to the next run, with the caches following the rolled-back store', () => {
    const { store, engine, ids } = cartsLeft(30);
    const abandoned = (): number => ids.filter((id) => store.getSegmentStates(id).some((s) => s.segment === 'cart_abandoner' && s.value === true)).length;
    expect(abandoned()).toBe(0);
    const save = store.saveEvaluation.bind(store);
    let calls = 0;
    store.saveEvaluation = (...args: Parameters<typeof save>) => {
      if (++calls === 12) throw new Error('disk full');
      save(...args);
    };
    expect(() => engine.reevaluateDue(T0 + 2 * DAY)).toThrow('disk full');
    expect(abandoned()).toBe(0);
    store.saveEvaluation = save;
    const flipped = engine.reevaluateDue(T0 + 2 * DAY);
    expect(flipped.filter((r) => r.changed.some((c) => c.segment === 'cart_abandoner')).length).toBe(30);
    expect(abandoned()).toBe(30);
  });
});

describe('clock-driven re-evaluation in bounded runs', () => {
  it('takes at most `limit` due contacts a call and says whether more are due', () => {
    const { engine } = cartsLeft(25);
    const at = T0 + 2 * DAY;
    expect(engine.hasMoreDue(at)).toBe(false);
    expect(engine.reevaluateDue(at, 10)).toHaveLength(10);
    expect(engine.hasMoreDue(at)).toBe(true);
    expect(engine.reevaluateDue(at, 10)).toHaveLength(10);
    expect(engine.reevaluateDue(at, 10)).toHaveLength(5);
    expect(engine.hasMoreDue(at)).toBe(false);
    expect(engine.reevaluateDue(at, 10)).toEqual([]);
  });
});
