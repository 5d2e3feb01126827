import type { FieldValue } from '../../../src/model/types';
import { ManualClock } from '../../../src/model/clock';
import { SegmentEngine } from '../../../src/rules/engine';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { DAY, HOUR, T0, storeFilePerTest, templateConfig } from './helpers';

const { open } = storeFilePerTest();

/** A loaded engine; as a daemon's (the default), its connection's own writes are not noted. */
function engineOver(store: SqliteStore, asDaemon = true): SegmentEngine {
  if (asDaemon) store.evaluatesOwnContactWrites();
  const e = SegmentEngine.fromConfig(templateConfig(), store, new ManualClock(T0), { workers: 0 });
  e.load();
  return e;
}

function customer(store: SqliteStore, email: string, spent: number, tags: string[] = []): number {
  const [r] = store.upsertContacts([{ email, properties: {}, tags, consent: 'subscribed', source: 'local', time: T0 - 400 * DAY }]);
  store.appendEvents([{ email, name: 'Placed Order', time: T0 - HOUR, properties: { value: spent }, source: 'import' }]);
  return r!.contactId;
}

const answer = (store: SqliteStore, id: number, segment: string): FieldValue | undefined =>
  store.getSegmentStates(id).find((s) => s.segment === segment)?.value ?? false;

/** A store with a VIP we may email, evaluated by a loaded engine (a running daemon). */
function running(): { store: SqliteStore; engine: SegmentEngine; id: number } {
  const store = open();
  const id = customer(store, 'a@example.com', 1500);
  const engine = engineOver(store);
  engine.recomputeAll();
  expect(answer(store, id, 'vip_reachable')).toBe(true);
  // Created before the load: noted, and the caches hold it, so the catch-up only evaluates it (no change).
  expect(store.contactChanges().map(([c]) => c)).toEqual([id]);
  expect(engine.catchUpContacts().map((e) => e.changed)).toEqual([[]]);
  expect(store.contactChanges()).toEqual([]);
  return { store, engine, id };
}

describe('contacts another process changed while the rules engine runs', () => {
  it('reads them again and evaluates them, once', () => {
    const { store, engine, id } = running();
    const other = open();
    other.updateTags(id, ['do_not_contact'], [], 'local', T0);
    other.close();
    const evals = engine.catchUpContacts();
    expect(evals.map((e) => e.contactId)).toEqual([id]);
    expect(evals[0]!.changed).toEqual([{ contactId: id, segment: 'vip_reachable', from: true, to: false }]);
    expect(answer(store, id, 'vip_reachable')).toBe(false);
    expect(engine.catchUpContacts()).toEqual([]);
    expect(store.contactChanges()).toEqual([]);
  });

  it('evaluates a contact another process created, and not again for its events', () => {
    const { store, engine } = running();
    const other = open();
    const fresh = customer(other, 'new@example.com', 2000);
    other.close();
    expect(engine.catchUpContacts().map((e) => e.contactId)).toEqual([fresh]);
    expect(answer(store, fresh, 'vip')).toBe(true);
    expect(engine.catchUpRows()).toEqual([]);
  });

  it('drops a contact another process erased, and reads the event rows whose ids come back as new', () => {
    const { store, engine, id } = running();
    // A later contact keeps the erased one's id from coming back.
    const [later] = store.upsertContacts([{ email: 'z@example.com', properties: {}, consent: 'subscribed', source: 'local', time: T0 }]);
    engine.onContacts([later!.contactId]);
    const other = open();
    other.eraseContact(id);
    // The erased contact's event row was the top one: SQLite gives its id to the next row stored.
    const next = customer(other, 'b@example.com', 1200);
    other.close();
    const evals = engine.catchUpContacts();
    expect(evals.map((e) => e.contactId)).toEqual([next]);
    expect(next).not.toBe(id);
    expect(engine.evaluateContact(id)).toBeUndefined();
    expect(answer(store, next, 'lifetime_value')).toBe(1200);
    // The erase took the top rows, so the rows above the highest one left are read again, once.
    expect(engine.catchUpRows().map((e) => [e.contactId, e.changed])).toEqual([[next, []]]);
    expect(engine.catchUpRows()).toEqual([]);
    // Caught up with every write of the other process: the caches hold what the tables hold.
    expect(engine.saveState()).toBe(true);
  });

  it('ignores what this process wrote itself and told the engine', () => {
    const { store, engine, id } = running();
    store.updateTags(id, ['do_not_contact'], [], 'local', T0);
    engine.onContacts([id]);
    expect(store.contactChanges()).toEqual([]);
    expect(engine.catchUpContacts()).toEqual([]);
  });

  it('takes at most `limit` contacts a call and says more wait', () => {
    const { store, engine } = running();
    const other = open();
    const ids = ['b', 'c', 'd', 'e', 'f'].map((x) => customer(other, `${x}@example.com`, 100));
    other.close();
    expect(engine.catchUpContacts(2).map((e) => e.contactId)).toEqual(ids.slice(0, 2));
    expect(engine.hasMoreDue(T0)).toBe(true);
    expect(engine.catchUpContacts(2).map((e) => e.contactId)).toEqual(ids.slice(2, 4));
    expect(engine.catchUpContacts(2).map((e) => e.contactId)).toEqual(ids.slice(4));
    expect(engine.hasMoreDue(T0)).toBe(false);
    for (const id of ids) expect(answer(store, id, 'lifetime_value')).toBe(100);
  });

  it('keeps the changes noted and the answers stored when its transaction fails', () => {
    const { store, engine, id } = running();
    const other = open();
    other.updateTags(id, ['do_not_contact'], [], 'local', T0);
    other.close();
    const save = store.saveEvaluation.bind(store);
    store.saveEvaluation = () => {
      throw new Error('disk full');
    };
    expect(() => engine.catchUpContacts()).toThrow('disk full');
    store.saveEvaluation = save;
    expect(store.contactChanges().map(([c]) => c)).toEqual([id]);
    expect(answer(store, id, 'vip_reachable')).toBe(true);
    expect(engine.catchUpContacts()[0]!.changed).toEqual([{ contactId: id, segment: 'vip_reachable', from: true, to: false }]);
  });

  it('keeps them noted for it when another process recomputes every contact meanwhile (a `segsync segments`)', () => {
    const { store, engine, id } = running();
    const other = open();
    other.updateTags(id, ['do_not_contact'], [], 'local', T0);
    const recompute = engineOver(other, false);
    recompute.recomputeAll();
    recompute.close();
    other.close();
    expect(answer(store, id, 'vip_reachable')).toBe(false);
    // The running engine still reads the tag, so its next evaluation of the contact is right.
    expect(engine.catchUpContacts().map((e) => e.contactId)).toEqual([id]);
    const out = store.appendEvents([{ email: 'a@example.com', name: 'Placed Order', time: T0, properties: { value: 10 }, source: 'track' }]);
    const changed = engine.onEvents(out.touched)[0]!.changed.map((c) => c.segment);
    expect(changed).toContain('lifetime_value');
    expect(changed).not.toContain('vip_reachable');
    expect(answer(store, id, 'vip_reachable')).toBe(false);
  });
});

describe('contacts changed while no rules engine ran', () => {
  it('are evaluated after the next start, from the caches it read', () => {
    const { store, engine, id } = running();
    expect(engine.saveState()).toBe(true);
    engine.close();
    store.close();
    const importer = open();
    importer.updateTags(id, ['do_not_contact'], [], 'local', T0);
    importer.close();
    const again = open();
    const restarted = engineOver(again);
    expect(answer(again, id, 'vip_reachable')).toBe(true);
    expect(restarted.catchUpContacts()[0]!.changed).toEqual([{ contactId: id, segment: 'vip_reachable', from: true, to: false }]);
    expect(again.contactChanges()).toEqual([]);
  });
});
