import { SegmentEngine } from '../../../src/rules/engine';
import { DAY, HOUR, T0, World, templateConfig } from './helpers';

/** Every answer and the next change of these contacts, evaluated now without storing. */
function answers(e: SegmentEngine, ids: number[]): unknown {
  return ids.map((id) => {
    const r = e.evaluateContact(id, { now: T0, save: false });
    return r && { states: r.states, next: r.nextChangeAt };
  });
}

/** A freshly loaded engine: what the store holds, read whole. */
function truth(w: World): SegmentEngine {
  const e = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
  e.load();
  return e;
}

// SQLite gives a new row the highest id in the table plus one: once the top rows are erased, their
// ids come back, at or below the row the engine last read. The engine must still see those rows.
describe('row ids SQLite gives again after an erase', () => {
  it('reads an event stored under the id of an erased contact’s last event', () => {
    const w = new World();
    const keep = w.contact('keep@example.com', { consent: 'subscribed' });
    const gone = w.contact('gone@example.com', { consent: 'subscribed' });
    w.event('keep@example.com', 'Viewed Product', T0 - HOUR, { category: 'bags' });
    w.event('gone@example.com', 'Placed Order', T0 - DAY, { value: 10 });
    // A full scan after both rows: the cache holds them and no contact has rows read past the load.
    w.store.db.exec('DELETE FROM event_cache');
    const e = truth(w);
    expect(e.lastLoad?.fromSnapshot).toBe(false);
    w.store.eraseContact(gone);
    e.onContacts([gone]);
    const out = w.store.appendEvents([{ email: 'keep@example.com', name: 'Placed Order', time: T0 - 2 * HOUR, properties: { value: 5000 }, source: 'track' }]);
    e.onEvents(out.touched);
    expect(answers(e, [keep])).toEqual(answers(truth(w), [keep]));
    expect(w.store.getSegmentStates(keep).find((s) => s.segment === 'vip')?.value).toBe(true);
  });

  it('reads the events of a new contact that got an erased contact’s id', () => {
    const w = new World();
    const first = w.contact('first@example.com', { consent: 'subscribed' });
    const gone = w.contact('gone@example.com', { consent: 'subscribed' });
    w.event('gone@example.com', 'Viewed Product', T0 - HOUR, { category: 'shoes' });
    w.store.eraseContact(gone);
    w.engine.onContacts([gone]);
    const again = w.contact('again@example.com', { consent: 'subscribed' });
    expect(again).toBe(gone);
    w.event('again@example.com', 'Placed Order', T0 - 3 * HOUR, { value: 4000 });
    expect(answers(w.engine, [first, again])).toEqual(answers(truth(w), [first, again]));
    expect(w.stored(again, 'vip')).toBe(true);
  });
});
