import { SegmentEngine } from '../../../src/rules/engine';
import { diskFullError } from '../../../src/store/disk-full';
import { DAY, HOUR, T0, World, templateConfig } from './helpers';

describe('SegmentEngine', () => {
  it('merges a late-arriving older event into the cached history in time order', () => {
    const w = new World();
    const id = w.contact('late@example.com');
    w.event('late@example.com', 'Added to Cart', T0);
    w.event('late@example.com', 'Placed Order', T0 - 2 * DAY, { value: 10 });
    w.event('late@example.com', 'Added to Cart', T0 - 3 * DAY);
    expect(w.valueAt(id, 'cart_abandoner', T0 + 24 * HOUR)).toBe(true);
    expect(w.nextChangeAt(id, T0 + HOUR)).toBe(T0 + 24 * HOUR);
  });

  it('answers the same from its caches as straight from the store', () => {
    const w = new World();
    const id = w.contact('same@example.com', { properties: { country: 'AT', plan: 'pro' }, tags: ['newsletter'], consent: 'subscribed' });
    for (let i = 0; i < 6; i++)
      w.event('same@example.com', ['Viewed Product', 'Opened Email', 'Placed Order'][i % 3]!, T0 - i * 5 * HOUR, { value: 120.5, category: 'shoes' });
    const cold = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    for (const at of [T0, T0 + DAY, T0 + 40 * DAY]) {
      expect(cold.evaluateContact(id, { now: at, save: false })).toEqual(w.engine.evaluateContact(id, { now: at, save: false }));
    }
  });

  it('recomputes everyone, counts who entered and left, and finds nothing to change on a second run', async () => {
    const w = new World();
    const a = w.contact('a@example.com');
    const b = w.contact('b@example.com');
    w.event('a@example.com', 'Added to Cart', T0 - 25 * HOUR);
    w.event('b@example.com', 'Added to Cart', T0 - HOUR);
    const first = w.engine.recomputeAll();
    const cart = first.segments.find((s) => s.segment === 'cart_abandoner')!;
    expect(cart).toMatchObject({ members: 1 });
    expect(w.stored(a, 'cart_abandoner')).toBe(true);
    expect(w.stored(b, 'cart_abandoner')).toBeUndefined();
    expect(w.engine.recomputeAll().contactsChanged).toBe(0);
    await w.clock.set(T0 + 23 * HOUR);
    const due = w.engine.reevaluateDue();
    expect(due.flatMap((r) => r.changed).filter((c) => c.segment === 'cart_abandoner')).toEqual([
      { contactId: b, segment: 'cart_abandoner', from: false, to: true },
    ]);
    expect(w.store.getSegmentStates(b).find((s) => s.segment === 'cart_abandoner')?.since).toBe(T0 + 23 * HOUR);
  });

  it('forgets an erased contact', () => {
    const w = new World();
    const id = w.contact('gone@example.com');
    w.event('gone@example.com', 'Placed Order', T0, { value: 2000 });
    w.engine.evaluateContact(id);
    w.store.eraseContact(id);
    expect(w.engine.onContacts([id])).toEqual([]);
    expect(w.engine.evaluateContact(id)).toBeUndefined();
    expect(w.store.getSegmentStates(id)).toEqual([]);
  });

  it('re-evaluates only the due contacts from the store when not loaded', () => {
    const w = new World();
    const id = w.contact('due@example.com');
    w.event('due@example.com', 'Added to Cart', T0);
    w.engine.evaluateContact(id, { now: T0 });
    const lazy = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    expect(lazy.reevaluateDue(T0 + HOUR)).toEqual([]);
    const flipped = lazy.reevaluateDue(T0 + 24 * HOUR);
    expect(flipped.map((r) => r.contactId)).toEqual([id]);
    expect(w.stored(id, 'cart_abandoner')).toBe(true);
  });

  it('starts when the event snapshot of its full scan cannot be written for want of space; the next start scans again', () => {
    const w = new World();
    const id = w.contact('full@example.com');
    w.event('full@example.com', 'Placed Order', T0 - DAY, { value: 1500 });
    w.store.db.exec('DELETE FROM event_cache');
    const write = w.store.writeEventCache.bind(w.store);
    w.store.writeEventCache = () => {
      throw diskFullError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), '/srv/segsync/segsync.db')!;
    };
    const started = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    started.load();
    expect(started.lastLoad).toMatchObject({
      fromSnapshot: false,
      snapshotNotWritten: expect.stringContaining('no room left to write the store /srv/segsync/segsync.db'),
    });
    expect(started.evaluateContact(id, { now: T0, save: false })!.states.find((s) => s.segment === 'vip')!.value).toBe(true);
    w.store.writeEventCache = write;
    const next = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    next.load();
    expect(next.lastLoad).toMatchObject({ fromSnapshot: false });
    expect(next.lastLoad?.snapshotNotWritten).toBeUndefined();
    // Another fault is not swallowed.
    w.store.db.exec('DELETE FROM event_cache');
    w.store.writeEventCache = () => {
      throw new Error('disk I/O error (injected)');
    };
    expect(() => SegmentEngine.fromConfig(templateConfig(), w.store, w.clock).load()).toThrow('disk I/O error (injected)');
    w.store.writeEventCache = write;
  });

  it('restarts from the saved cache snapshot plus the rows stored since, with the same answers', () => {
    const w = new World();
    const ids = ['s1@example.com', 's2@example.com'].map((e) => w.contact(e, { consent: 'subscribed' }));
    w.event('s1@example.com', 'Viewed Product', T0 - HOUR, { category: 'shoes' });
    w.event('s1@example.com', 'Viewed Product', T0 - 2 * HOUR, { category: 'boots' });
    w.event('s2@example.com', 'Placed Order', T0 - DAY, { value: '999.99' });
    w.store.db.exec('DELETE FROM event_cache');
    const restarted = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    restarted.load();
    expect(restarted.lastLoad).toMatchObject({ fromSnapshot: false, eventsAfterSnapshot: 0, snapshotRejected: false });
    w.store.appendEvents([{ email: 's2@example.com', name: 'Placed Order', time: T0 - 2 * DAY, properties: { value: 0.01 }, source: 'track' }]);
    const again = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    again.load();
    expect(again.lastLoad).toMatchObject({ fromSnapshot: true, eventsAfterSnapshot: 1, snapshotRejected: false });
    w.engine.onEvents([ids[1]!]);
    const answers = (e: SegmentEngine, id: number): unknown => {
      const r = e.evaluateContact(id, { now: T0, save: false })!;
      return { states: r.states, next: r.nextChangeAt };
    };
    for (const id of ids) expect(answers(again, id)).toEqual(answers(w.engine, id));
    expect(again.evaluateContact(ids[0]!, { now: T0, save: false })!.states.find((s) => s.segment === 'shoe_browser')!.value).toBe(true);
    expect(again.evaluateContact(ids[1]!, { now: T0, save: false })!.states.find((s) => s.segment === 'vip')!.value).toBe(true);
  });

  it('drops the cache snapshot when a contact is erased, so erased events never come back', () => {
    const w = new World();
    const id = w.contact('erase@example.com');
    w.event('erase@example.com', 'Placed Order', T0, { value: 5000 });
    SegmentEngine.fromConfig(templateConfig(), w.store, w.clock).load();
    const layouts = w.store.db.prepare('SELECT COUNT(*) FROM event_cache').pluck().get() as number;
    expect(layouts).toBeGreaterThan(0);
    w.store.eraseContact(id);
    expect(w.store.db.prepare('SELECT COUNT(*) FROM event_cache').pluck().get()).toBe(0);
    const fresh = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    fresh.load();
    expect(fresh.lastLoad?.fromSnapshot).toBe(false);
  });
});
