import { demoScenariosFor } from '../../../src/cli/demo-scenarios';
import type { ShopperFacts } from '../../../src/cli/demo-scenarios';

const NOW = Date.UTC(2026, 11, 1);
const DAY = 86_400_000;

function shopper(id: number, over: Partial<ShopperFacts>): ShopperFacts {
  return { id, email: `s${id}@example.com`, createdAt: NOW - 100 * DAY, properties: { first_name: `S${id}` }, tags: [], segments: {}, events: [], ...over };
}

const cart = (total: number): ShopperFacts['events'][number] => ({
  name: 'Added to Cart',
  time: NOW - DAY,
  properties: { product_name: 'Trail Shoe', total, items: [{ name: 'Trail Shoe', price: total, quantity: 1 }] },
});
const order = (daysAgo: number, value: number): ShopperFacts['events'][number] => ({ name: 'Placed Order', time: NOW - daysAgo * DAY, properties: { value } });

describe('demo scenarios', () => {
  it('picks one cart shopper per branch the cart email has (VIP, free shipping, small cart) with the cart lines it reads', () => {
    const facts = [
      shopper(0, { events: [cart(30)], segments: { cart_abandoner: true } }),
      shopper(1, { events: [cart(40)], segments: { cart_abandoner: true } }),
      shopper(2, { events: [cart(150)], segments: { cart_abandoner: true } }),
      shopper(3, { events: [cart(20)], segments: { cart_abandoner: true, vip: true } }),
      shopper(4, {}),
    ];
    const scenarios = demoScenariosFor('cart-abandonment', facts, NOW);
    expect(scenarios.map((s) => s.email)).toEqual(['s0@example.com', 's2@example.com', 's3@example.com']);
    expect(scenarios[1]).toMatchObject({
      properties: { first_name: 'S2', cart_total: 150, cart_item_count: 1 },
      segments: { cart_abandoner: true, vip_customer: false },
      now: new Date(NOW).toISOString(),
    });
    expect(scenarios[2]!.tags).toEqual(['vip']);
    expect(scenarios[1]!.events![0]!.properties.items).toEqual([{ name: 'Trail Shoe', price: 150, quantity: 1 }]);
  });

  it('derives points and days since the last order from the orders', () => {
    const facts = [shopper(0, { events: [order(10, 600), order(5, 700)], segments: { vip: true } }), shopper(1, { events: [order(100, 80)] })];
    expect(demoScenariosFor('vip', facts, NOW).map((s) => s.properties.loyalty_points)).toEqual([1300, 80]);
    expect(demoScenariosFor('win-back', facts, NOW).map((s) => [s.properties.days_since_last_order, s.segments!.lifecycle_stage])).toEqual([
      [5, 'active'],
      [100, 'lapsed'],
    ]);
  });

  it('adds nobody to a campaign it does not know', () => {
    expect(demoScenariosFor('newsletter', [shopper(0, { events: [cart(30)] })], NOW)).toEqual([]);
  });
});
