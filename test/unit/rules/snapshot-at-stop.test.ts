import { ManualClock } from '../../../src/model/clock';
import { SegmentEngine } from '../../../src/rules/engine';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { DAY, HOUR, T0, storeFilePerTest, templateConfig } from './helpers';

const EMAILS = ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com'];
const NAMES = ['Viewed Product', 'Placed Order', 'Opened Email', 'Added to Cart'];

const { open } = storeFilePerTest();

function track(store: SqliteStore, from: number, count: number): number[] {
  const out = store.appendEvents(
    Array.from({ length: count }, (_, k) => {
      const i = from + k;
      return {
        email: EMAILS[i % EMAILS.length]!,
        name: NAMES[i % NAMES.length]!,
        time: T0 - (i % 50) * 5 * HOUR,
        properties: { value: 10 + i * 17.5, category: i % 3 ? 'shoes' : 'bags' },
        source: 'track' as const,
      };
    }),
  );
  return out.touched;
}

/** A store with four contacts and their events, and an engine loaded over it (as the daemon's start). */
function started(): { store: SqliteStore; engine: SegmentEngine; ids: number[] } {
  const store = open();
  const ids = store
    .upsertContacts(
      EMAILS.map((email) => ({
        email,
        properties: { country: 'DE', plan: 'pro' },
        consent: 'subscribed' as const,
        source: 'local' as const,
        time: T0 - 400 * DAY,
      })),
    )
    .map((r) => r.contactId);
  track(store, 0, 40);
  const engine = engine_(store);
  engine.load();
  engine.recomputeAll();
  return { store, engine, ids };
}

function engine_(store: SqliteStore): SegmentEngine {
  return SegmentEngine.fromConfig(templateConfig(), store, new ManualClock(T0), { workers: 0 });
}

/** Every answer of these contacts from an engine, and from one that reads the stored events directly. */
function expectStoreAnswers(e: SegmentEngine, store: SqliteStore, ids: number[]): void {
  const direct = engine_(store);
  for (const id of ids) {
    const a = e.evaluateContact(id, { now: T0, save: false });
    const b = direct.evaluateContact(id, { now: T0, save: false });
    expect({ id, states: a?.states, next: a?.nextChangeAt }).toEqual({ id, states: b?.states, next: b?.nextChangeAt });
  }
}

const snapshotRow = (store: SqliteStore): number | undefined => store.db.prepare('SELECT max_event_row FROM event_cache').pluck().get() as number | undefined;

/** The next start: a new connection and engine, loaded. */
function restart(): { store: SqliteStore; engine: SegmentEngine } {
  const store = open();
  const engine = engine_(store);
  engine.load();
  return { store, engine };
}

describe('event cache snapshot at a clean stop', () => {
  it('takes in the rows stored since the load, so the next start re-reads no contact one by one', () => {
    const { store, engine, ids } = started();
    const before = snapshotRow(store)!;
    engine.onEvents(track(store, 40, 30));
    expect(engine.saveState()).toBe(true);
    expect(snapshotRow(store)).toBe(store.eventCountBound());
    expect(snapshotRow(store)).toBeGreaterThan(before);
    store.close();
    const next = restart();
    expect(next.engine.lastLoad).toMatchObject({ fromSnapshot: true, eventsAfterSnapshot: 0, fromStateSnapshot: true });
    expectStoreAnswers(next.engine, next.store, ids);
  });

  it('writes one again after an erase dropped it, without the erased events, and a reused id reads its own', () => {
    const { store, engine, ids } = started();
    const gone = ids[3]!;
    store.eraseContact(gone);
    engine.onContacts([gone]);
    expect(snapshotRow(store)).toBeUndefined();
    const [again] = store.upsertContacts([{ email: 'again@example.com', properties: {}, consent: 'subscribed', source: 'local', time: T0 - DAY }]);
    expect(again!.contactId).toBe(gone);
    engine.onContacts([gone]);
    const out = store.appendEvents([{ email: 'again@example.com', name: 'Placed Order', time: T0 - HOUR, properties: { value: 4000 }, source: 'track' }]);
    engine.onEvents(out.touched);
    expect(engine.saveState()).toBe(true);
    expect(snapshotRow(store)).toBe(store.eventCountBound());
    store.close();
    const next = restart();
    expect(next.engine.lastLoad).toMatchObject({ fromSnapshot: true, eventsAfterSnapshot: 0 });
    expectStoreAnswers(next.engine, next.store, ids);
    expect(next.engine.evaluateContact(gone, { now: T0, save: false })!.states.find((s) => s.segment === 'vip')!.value).toBe(true);
  });

  it('writes one again after a merge moved events between contacts', () => {
    const { store, engine, ids } = started();
    store.identities.moveContactEvents(ids[0]!, ids[1]!);
    engine.resync([ids[0]!, ids[1]!]);
    expect(engine.saveState()).toBe(true);
    store.close();
    const next = restart();
    expect(next.engine.lastLoad).toMatchObject({ fromSnapshot: true, eventsAfterSnapshot: 0 });
    expectStoreAnswers(next.engine, next.store, ids);
    expect(next.engine.evaluateContact(ids[0]!, { now: T0, save: false })!.states.find((s) => s.segment === 'repeat_buyer')!.value).toBe(false);
  });

  it('leaves another connection’s new rows after the snapshot, to be read at the next start', () => {
    const { store, engine, ids } = started();
    const other = open();
    // Only for d@: the engine hears of a@'s new rows (read through its last), never of d@'s.
    other.appendEvents([{ email: EMAILS[3]!, name: 'Placed Order', time: T0 - HOUR, properties: { value: 9000 }, source: 'track' }]);
    other.close();
    const own = store.appendEvents([{ email: EMAILS[0]!, name: 'Viewed Product', time: T0 - HOUR, properties: { category: 'shoes' }, source: 'track' }]);
    engine.onEvents(own.touched);
    const mark = snapshotRow(store)!;
    expect(engine.saveState()).toBe(true);
    expect(snapshotRow(store)).toBe(mark);
    store.close();
    const next = restart();
    expect(next.engine.lastLoad).toMatchObject({ fromSnapshot: true });
    expect(next.engine.lastLoad!.eventsAfterSnapshot).toBe(2);
    expectStoreAnswers(next.engine, next.store, ids);
    expect(next.engine.evaluateContact(ids[3]!, { now: T0, save: false })!.states.find((s) => s.segment === 'vip')!.value).toBe(true);
  });

  it.each([
    ['erases a contact', (s: SqliteStore, ids: number[]) => s.eraseContact(ids[2]!)],
    ['merges two contacts’ events', (s: SqliteStore, ids: number[]) => void s.identities.moveContactEvents(ids[2]!, ids[0]!)],
  ])('saves nothing when another connection %s, and the next start reads every event', (_, write) => {
    const { store, engine, ids } = started();
    engine.onEvents(track(store, 40, 30));
    const other = open();
    write(other, ids);
    other.close();
    expect(engine.saveState()).toBe(false);
    expect(snapshotRow(store)).toBeUndefined();
    store.close();
    const next = restart();
    expect(next.engine.lastLoad).toMatchObject({ fromSnapshot: false, fromStateSnapshot: false });
    expectStoreAnswers(next.engine, next.store, ids);
  });

  it('keeps the snapshot when few rows came since it (the stop would cost more than the start saves)', () => {
    const { store, engine } = started();
    const many = track(store, 40, 30_000);
    engine.onEvents(many);
    expect(engine.saveState()).toBe(true);
    const mark = snapshotRow(store)!;
    engine.onEvents(track(store, 40_000, 10));
    expect(engine.saveState()).toBe(true);
    expect(snapshotRow(store)).toBe(mark);
  });
});
