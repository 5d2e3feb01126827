import { DAY, HOUR, MIN, T0, World } from './helpers';

describe('cart abandoner (none_within order 24h after the last cart add)', () => {
  const T = T0;
  function world(): { w: World; id: number } {
    const w = new World();
    const id = w.contact('ann@example.com');
    w.event('ann@example.com', 'Added to Cart', T, { product: 'p1' });
    return { w, id };
  }

  it('is not an abandoner at T+23h59m and is one at exactly T+24h', () => {
    const { w, id } = world();
    expect(w.valueAt(id, 'cart_abandoner', T + 23 * HOUR + 59 * MIN)).toBe(false);
    expect(w.valueAt(id, 'cart_abandoner', T + 24 * HOUR)).toBe(true);
  });

  it('says the answer next changes exactly 24 h after the cart add', () => {
    const { w, id } = world();
    expect(w.nextChangeAt(id, T)).toBe(T + 24 * HOUR);
  });

  it('is not an abandoner after an order at T+2h', () => {
    const { w, id } = world();
    w.event('ann@example.com', 'Placed Order', T + 2 * HOUR, { value: 40 });
    expect(w.valueAt(id, 'cart_abandoner', T + 24 * HOUR)).toBe(false);
    expect(w.valueAt(id, 'cart_abandoner', T + 30 * DAY)).toBe(false);
  });

  it('stops being an abandoner once a late order arrives', () => {
    const { w, id } = world();
    expect(w.valueAt(id, 'cart_abandoner', T + 25 * HOUR)).toBe(true);
    w.event('ann@example.com', 'Placed Order', T + 30 * HOUR, { value: 40 });
    expect(w.valueAt(id, 'cart_abandoner', T + 30 * HOUR)).toBe(false);
  });

  it('measures from the last cart add, not the first', () => {
    const { w, id } = world();
    w.event('ann@example.com', 'Added to Cart', T + 10 * HOUR);
    expect(w.valueAt(id, 'cart_abandoner', T + 24 * HOUR)).toBe(false);
    expect(w.valueAt(id, 'cart_abandoner', T + 34 * HOUR)).toBe(true);
  });

  it('flips on the minute through the wake-up heap, recording the flip time', async () => {
    const { w, id } = world();
    await w.clock.set(T + 5 * MIN);
    w.engine.evaluateContact(id);
    expect(w.stored(id, 'cart_abandoner')).toBeUndefined();
    expect(w.engine.nextWakeup()).toBe(T + 24 * HOUR);
    expect(w.engine.reevaluateDue(T + 24 * HOUR - 1)).toEqual([]);
    await w.clock.set(T + 24 * HOUR + 20_000);
    const flipped = w.engine.reevaluateDue();
    expect(flipped.map((r) => r.contactId)).toEqual([id]);
    expect(w.store.getSegmentStates(id).find((s) => s.segment === 'cart_abandoner')).toMatchObject({ value: true, since: T + 24 * HOUR });
  });
});

describe('browse abandoner (≥ 3 product views in 48 h, no cart add since)', () => {
  it('counts views inside the 48 h window only and leaves when the oldest view ages out', () => {
    const w = new World();
    const id = w.contact('bo@example.com');
    for (const h of [0, 10, 20]) w.event('bo@example.com', 'Viewed Product', T0 + h * HOUR, { category: 'shoes' });
    expect(w.valueAt(id, 'browse_abandoner', T0 + 20 * HOUR)).toBe(true);
    expect(w.nextChangeAt(id, T0 + 20 * HOUR)).toBe(T0 + 48 * HOUR);
    expect(w.valueAt(id, 'browse_abandoner', T0 + 48 * HOUR - 1)).toBe(true);
    expect(w.valueAt(id, 'browse_abandoner', T0 + 48 * HOUR)).toBe(false);
  });

  it('is not a browse abandoner after a cart add', () => {
    const w = new World();
    const id = w.contact('bo@example.com');
    for (const h of [0, 1, 2]) w.event('bo@example.com', 'Viewed Product', T0 + h * HOUR);
    w.event('bo@example.com', 'Added to Cart', T0 + 3 * HOUR);
    expect(w.valueAt(id, 'browse_abandoner', T0 + 4 * HOUR)).toBe(false);
  });
});

describe('high intent (≥ 3 views in 48 h and a cart add not followed by an order)', () => {
  it('is high intent with views and an open cart, and not after the purchase', () => {
    const w = new World();
    const id = w.contact('hi@example.com');
    for (const h of [0, 1, 2]) w.event('hi@example.com', 'Viewed Product', T0 + h * HOUR);
    expect(w.valueAt(id, 'high_intent', T0 + 3 * HOUR)).toBe(false);
    w.event('hi@example.com', 'Added to Cart', T0 + 3 * HOUR);
    expect(w.valueAt(id, 'high_intent', T0 + 3 * HOUR)).toBe(true);
    w.event('hi@example.com', 'Placed Order', T0 + 4 * HOUR, { value: 10 });
    expect(w.valueAt(id, 'high_intent', T0 + 4 * HOUR)).toBe(false);
  });
});

describe('repeat buyer and VIP', () => {
  it('is a repeat buyer with 2 orders in 180 days, until the older one is 180 days old', () => {
    const w = new World();
    const id = w.contact('rb@example.com');
    w.event('rb@example.com', 'Placed Order', T0, { value: 10 });
    w.event('rb@example.com', 'Placed Order', T0 + 30 * DAY, { value: 10 });
    expect(w.valueAt(id, 'repeat_buyer', T0 + 30 * DAY)).toBe(true);
    expect(w.valueAt(id, 'repeat_buyer', T0 + 180 * DAY - 1)).toBe(true);
    expect(w.valueAt(id, 'repeat_buyer', T0 + 180 * DAY)).toBe(false);
  });

  it('adds order values exactly: 999.99 + "0.01" reaches a 1000 threshold, 999.98 + 0.01 does not', () => {
    const w = new World();
    const a = w.contact('v1@example.com');
    w.event('v1@example.com', 'Placed Order', T0, { value: 999.99 });
    w.event('v1@example.com', 'Placed Order', T0 + HOUR, { value: '0.01' });
    expect(w.valueAt(a, 'lifetime_value', T0 + HOUR)).toBe(1000);
    expect(w.valueAt(a, 'vip', T0 + HOUR)).toBe(true);
    const b = w.contact('v2@example.com');
    w.event('v2@example.com', 'Placed Order', T0, { value: 999.98 });
    w.event('v2@example.com', 'Placed Order', T0 + HOUR, { value: 0.01 });
    expect(w.valueAt(b, 'vip', T0 + HOUR)).toBe(false);
  });

  it('adds ten payments of 0.1 to exactly 1.0 (no binary floating-point drift)', () => {
    const w = new World();
    const id = w.contact('dime@example.com');
    for (let i = 0; i < 10; i++) w.event('dime@example.com', 'Placed Order', T0 + i, { value: 0.1 });
    expect(w.valueAt(id, 'lifetime_value', T0 + HOUR)).toBe(1);
  });
});

describe('engagement level', () => {
  it('grades highly active, moderately active and inactive by opens and clicks in 30/90 days', () => {
    const w = new World();
    const id = w.contact('el@example.com');
    expect(w.valueAt(id, 'engagement_level', T0)).toBe('inactive');
    w.event('el@example.com', 'Opened Email', T0 - 60 * DAY);
    expect(w.valueAt(id, 'engagement_level', T0)).toBe('moderately_active');
    w.event('el@example.com', 'Clicked Email', T0 - 2 * DAY);
    w.event('el@example.com', 'Clicked Email', T0 - DAY);
    expect(w.valueAt(id, 'engagement_level', T0)).toBe('highly_active');
    expect(w.valueAt(id, 'engagement_level', T0 - 2 * DAY + 30 * DAY)).toBe('moderately_active');
    expect(w.valueAt(id, 'engagement_level', T0 - DAY + 90 * DAY)).toBe('inactive');
  });
});

describe('lifecycle stage (a value, not a flag)', () => {
  it('moves from new_subscriber to engaged at exactly 14 days, then lapsed and churned', () => {
    const w = new World();
    const id = w.contact('lc@example.com', { createdAt: T0, consent: 'subscribed' });
    w.event('lc@example.com', 'Opened Email', T0 + HOUR);
    expect(w.valueAt(id, 'lifecycle_stage', T0 + HOUR)).toBe('new_subscriber');
    expect(w.nextChangeAt(id, T0 + HOUR)).toBe(T0 + 14 * DAY);
    expect(w.valueAt(id, 'lifecycle_stage', T0 + 14 * DAY)).toBe('engaged');
    expect(w.valueAt(id, 'lifecycle_stage', T0 + HOUR + 90 * DAY)).toBe('lapsed');
    expect(w.valueAt(id, 'lifecycle_stage', T0 + HOUR + 365 * DAY)).toBe('churned');
  });

  it('is an active customer with an order in 90 days, and churned once unsubscribed', () => {
    const w = new World();
    const id = w.contact('ac@example.com', { consent: 'subscribed' });
    w.event('ac@example.com', 'Placed Order', T0, { value: 20 });
    expect(w.valueAt(id, 'lifecycle_stage', T0 + DAY)).toBe('active_customer');
    w.store.setConsent(id, { status: 'unsubscribed', updatedAt: T0 + DAY, source: 'mailchimp' });
    w.engine.onContacts([id]);
    expect(w.valueAt(id, 'lifecycle_stage', T0 + DAY)).toBe('churned');
  });
});

describe('engagement score (points per behavior, halving every 30 days) and loyal (> 70)', () => {
  it('adds points per behavior and halves them after 30 days', () => {
    const w = new World();
    const id = w.contact('es@example.com');
    w.event('es@example.com', 'Opened Email', T0);
    w.event('es@example.com', 'Clicked Email', T0);
    w.event('es@example.com', 'Viewed Product', T0);
    w.event('es@example.com', 'Added to Cart', T0);
    w.event('es@example.com', 'Placed Order', T0, { value: 5 });
    expect(w.valueAt(id, 'engagement_score', T0)).toBe(21);
    expect(w.valueAt(id, 'engagement_score', T0 + 30 * DAY)).toBe(10.5);
    expect(w.valueAt(id, 'engagement_score', T0 + 30 * DAY - 1)).toBe(21);
    expect(w.valueAt(id, 'engagement_score', T0 + 90 * DAY)).toBe(0);
  });

  it('is loyal above 70 points and stops being loyal when the points halve', () => {
    const w = new World();
    const id = w.contact('loyal@example.com');
    for (let i = 0; i < 8; i++) w.event('loyal@example.com', 'Placed Order', T0 + i * MIN, { value: 1 });
    expect(w.valueAt(id, 'engagement_score', T0 + HOUR)).toBe(80);
    expect(w.valueAt(id, 'loyal', T0 + HOUR)).toBe(true);
    expect(w.valueAt(id, 'loyal', T0 + 30 * DAY + 7 * MIN)).toBe(false);
  });
});

describe('RFM', () => {
  it('scores a recent, frequent, big spender "555" and a one-off old small order "111"', () => {
    const w = new World();
    const best = w.contact('best@example.com');
    for (let i = 0; i < 8; i++) w.event('best@example.com', 'Placed Order', T0 - i * DAY, { value: 200 });
    expect(w.valueAt(best, 'rfm', T0)).toBe('555');
    const old = w.contact('old@example.com');
    w.event('old@example.com', 'Placed Order', T0 - 300 * DAY, { value: 20 });
    expect(w.valueAt(old, 'rfm', T0)).toBe('111');
  });

  it('lowers recency exactly when the last order turns 30 days old', () => {
    const w = new World();
    const id = w.contact('r@example.com');
    w.event('r@example.com', 'Placed Order', T0, { value: 20 });
    expect(w.valueAt(id, 'rfm_recency', T0 + 30 * DAY - 1)).toBe(5);
    expect(w.nextChangeAt(id, T0 + DAY)).toBe(T0 + 30 * DAY);
    expect(w.valueAt(id, 'rfm_recency', T0 + 30 * DAY)).toBe(4);
  });
});

describe('property conditions mixed in', () => {
  it('needs the country, the plan, the tag and consent together', () => {
    const w = new World();
    const yes = w.contact('de@example.com', { properties: { country: 'DE', plan: 'pro' }, tags: ['newsletter'], consent: 'subscribed' });
    const noTag = w.contact('de2@example.com', { properties: { country: 'DE', plan: 'pro' }, consent: 'subscribed' });
    const fr = w.contact('fr@example.com', { properties: { country: 'FR', plan: 'pro' }, tags: ['newsletter'], consent: 'subscribed' });
    const noPlan = w.contact('np@example.com', { properties: { country: 'AT' }, tags: ['newsletter'], consent: 'subscribed' });
    expect(w.valueAt(yes, 'dach_pro_newsletter', T0)).toBe(true);
    expect(w.valueAt(noTag, 'dach_pro_newsletter', T0)).toBe(false);
    expect(w.valueAt(fr, 'dach_pro_newsletter', T0)).toBe(false);
    expect(w.valueAt(noPlan, 'dach_pro_newsletter', T0)).toBe(false);
  });

  it('re-evaluates a contact when a tag changes', () => {
    const w = new World();
    const id = w.contact('vip@example.com', { consent: 'subscribed' });
    w.event('vip@example.com', 'Placed Order', T0 - DAY, { value: 1500 });
    w.engine.evaluateContact(id);
    expect(w.stored(id, 'vip_reachable')).toBe(true);
    w.store.updateTags(id, ['do_not_contact'], [], 'local', T0);
    const [r] = w.engine.onContacts([id]);
    expect(r!.changed).toContainEqual({ contactId: id, segment: 'vip_reachable', from: true, to: false });
    expect(w.stored(id, 'vip_reachable')).toBe(false);
  });
});

describe('shoe browser (event-property filter)', () => {
  it('counts only views whose category is in the filter', () => {
    const w = new World();
    const id = w.contact('sb@example.com');
    w.event('sb@example.com', 'Viewed Product', T0, { category: 'shoes' });
    w.event('sb@example.com', 'Viewed Product', T0 + 1, { category: 'hats' });
    expect(w.valueAt(id, 'shoe_browser', T0 + HOUR)).toBe(false);
    w.event('sb@example.com', 'Viewed Product', T0 + 2, { category: 'boots' });
    expect(w.valueAt(id, 'shoe_browser', T0 + HOUR)).toBe(true);
  });
});
