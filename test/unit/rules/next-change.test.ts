/**
 * Next-change times per segment, exact: a wake-up that cannot change an answer is not reported as a
 * change, a value that moves with the clock is shown on its own segment only, and `--due` stamps
 * each flip with the time it happened, not the time the run started.
 */
import { parseConfig } from '../../../src/config/load';
import { SegmentEngine } from '../../../src/rules/engine';
import { DAY, HOUR, MIN, T0, TEMPLATE, World, templateConfig } from './helpers';
import { readFileSync } from 'node:fs';

const next = (w: World, id: number, at: number): Record<string, { at: number | undefined; kind: string }> =>
  Object.fromEntries(w.engine.nextChanges(id, at)!.map((n) => [n.segment, { at: n.at, kind: n.kind }]));

describe('per-segment next changes', () => {
  it('does not wake a cart that was followed by an order, and says nothing changes by the clock for cart_abandoner', () => {
    const w = new World();
    const id = w.contact('converted@x.com');
    w.event('converted@x.com', 'Added to Cart', T0 - HOUR);
    w.event('converted@x.com', 'Placed Order', T0 - 30 * MIN, { value: 20 });
    const r = w.engine.evaluateContact(id, { now: T0, save: false })!;
    const i = w.engine.rules.indexOf('cart_abandoner');
    expect(r.segmentWakeups[i]).toBeUndefined();
    expect(next(w, id, T0).cart_abandoner).toEqual({ at: undefined, kind: 'exact' });
    // Nothing at cart + 24 h anywhere: the contact's earliest change is elsewhere and later.
    expect(Object.values(next(w, id, T0)).some((n) => n.at === T0 - HOUR + 24 * HOUR)).toBe(false);
  });

  it('reports the window exit that flips the answer, not the one that only lowers a count', () => {
    const w = new World();
    const id = w.contact('three@x.com');
    for (const d of [100, 50, 10]) w.event('three@x.com', 'Placed Order', T0 - d * DAY, { value: 10 });
    const i = w.engine.rules.indexOf('repeat_buyer');
    // The wake-up is when the oldest order leaves 180 days (3 → 2, still a repeat buyer) …
    expect(w.engine.evaluateContact(id, { now: T0, save: false })!.segmentWakeups[i]).toBe(T0 + 80 * DAY);
    // … the change is when the second one does (2 → 1).
    expect(next(w, id, T0).repeat_buyer).toEqual({ at: T0 + 130 * DAY, kind: 'exact' });
    expect(w.valueAt(id, 'repeat_buyer', T0 + 130 * DAY - 1)).toBe(true);
    expect(w.valueAt(id, 'repeat_buyer', T0 + 130 * DAY)).toBe(false);
  });

  it('keeps a now-reading value segment to itself instead of making every answer change in a minute', () => {
    const yaml = readFileSync(TEMPLATE, 'utf8').replace(/^segments:\n/m, 'segments:\n  since_order:\n    type: value\n    rule: since("Placed Order")\n');
    const config = parseConfig(yaml, TEMPLATE, {
      env: { HUBSPOT_ACCESS_TOKEN: 't', MAILCHIMP_API_KEY: 't-us1', KLAVIYO_API_KEY: 't' },
      secrets: { connectors: true, daemon: false },
    });
    const w = new World(config);
    const id = w.contact('clock@x.com');
    w.event('clock@x.com', 'Placed Order', T0 - 2 * DAY, { value: 10 });
    const n = next(w, id, T0);
    expect(n.since_order).toEqual({ at: T0 + MIN, kind: 'continuous' });
    expect(n.repeat_buyer).toEqual({ at: undefined, kind: 'exact' });
    expect(n.rfm_recency).toEqual({ at: T0 + 28 * DAY, kind: 'exact' });
    expect(n.vip).toEqual({ at: undefined, kind: 'exact' });
  });
});

describe('segments --due stamps flips with the flip time', () => {
  it('from the store (one-off cron run), a run at 12:10 records a flip due at 12:00:01 as 12:00:01', () => {
    const w = new World();
    const id = w.contact('due@x.com');
    const cart = T0 - 24 * HOUR + 1000;
    w.event('due@x.com', 'Added to Cart', cart);
    w.engine.evaluateContact(id, { now: T0 });
    const cron = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    const due = cron.reevaluateDue(T0 + 10 * MIN);
    expect(due.flatMap((r) => r.changed).filter((c) => c.segment === 'cart_abandoner')).toEqual([
      { contactId: id, segment: 'cart_abandoner', from: false, to: true },
    ]);
    const state = w.store.getSegmentStates(id).find((s) => s.segment === 'cart_abandoner')!;
    expect(state).toMatchObject({ value: true, since: cart + 24 * HOUR });
  });

  it('stamps each segment with its own flip when several flipped before the run', () => {
    const w = new World();
    const id = w.contact('two@x.com');
    const cart = T0 - 24 * HOUR + 1000;
    w.event('two@x.com', 'Added to Cart', cart);
    for (const m of [0, 1, 2]) w.event('two@x.com', 'Viewed Product', T0 - 48 * HOUR + 5 * MIN + m);
    w.engine.evaluateContact(id, { now: T0 });
    const cron = SegmentEngine.fromConfig(templateConfig(), w.store, w.clock);
    cron.reevaluateDue(T0 + HOUR);
    const since = Object.fromEntries(w.store.getSegmentStates(id).map((s) => [s.segment, s.since]));
    expect(since.cart_abandoner).toBe(cart + 24 * HOUR);
    // high_intent needed the three views within 48 h: it left when the first view left the window.
    expect(w.stored(id, 'high_intent')).toBe(false);
    expect(since.high_intent).toBe(T0 + 5 * MIN);
  });

  it("does the same from the loaded engine (the daemon's timer)", async () => {
    const w = new World();
    const id = w.contact('loaded@x.com');
    const cart = T0 - 24 * HOUR + 1000;
    w.event('loaded@x.com', 'Added to Cart', cart);
    w.engine.evaluateContact(id, { now: T0 });
    await w.clock.set(T0 + 10 * MIN);
    w.engine.reevaluateDue();
    expect(w.store.getSegmentStates(id).find((s) => s.segment === 'cart_abandoner')).toMatchObject({ value: true, since: cart + 24 * HOUR });
  });
});
