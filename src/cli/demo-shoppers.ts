/**
 * The demo's shoppers: a seeded cast of realistic contacts, where each lives (HubSpot, Mailchimp,
 * Klaviyo, or two of them), a back-dated history, and the behaviour they show while the demo runs.
 * Pure: the same seed gives the same people and the same events, so the demo reads the same twice.
 */
import { Faker, base, en } from '@faker-js/faker';
import type { EspName } from '../model/types';

/** How a shopper behaves; sets the odds of each event per simulated hour. */
export type Persona = 'browser' | 'cart_leaver' | 'buyer' | 'big_spender' | 'reader' | 'dormant';

export interface Shopper {
  email: string;
  firstName: string;
  lastName: string;
  country: string;
  persona: Persona;
  /** The ESPs the contact already exists in before segsync first pulls. */
  homes: EspName[];
}

/** A line of a cart, as the example cart emails read it (a type, so it is a plain JSON value for event properties). */
export type CartItem = {
  name: string;
  price: number;
  quantity: number;
};

/** An event as the track API takes it. */
export interface DemoEvent {
  email: string;
  event: string;
  time: number;
  properties: Record<string, string | number | CartItem[]>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const PERSONAS: [Persona, number][] = [
  ['browser', 0.22],
  ['cart_leaver', 0.2],
  ['buyer', 0.2],
  ['big_spender', 0.06],
  ['reader', 0.2],
  ['dormant', 0.12],
];

/** Expected events per simulated day, by persona. */
const DAILY: Record<Persona, Record<string, number>> = {
  browser: { 'Viewed Product': 3, 'Added to Cart': 0.1, 'Opened Email': 0.3 },
  cart_leaver: { 'Viewed Product': 2, 'Added to Cart': 0.6, 'Placed Order': 0.03, 'Opened Email': 0.3 },
  buyer: { 'Viewed Product': 1.5, 'Added to Cart': 0.4, 'Placed Order': 0.1, 'Opened Email': 0.6, 'Clicked Email': 0.2 },
  big_spender: { 'Viewed Product': 2, 'Added to Cart': 0.5, 'Placed Order': 0.2, 'Opened Email': 0.8, 'Clicked Email': 0.4 },
  reader: { 'Opened Email': 1.2, 'Clicked Email': 0.4, 'Viewed Product': 0.3 },
  dormant: { 'Opened Email': 0.01 },
};

const CATEGORIES = ['shoes', 'boots', 'jackets', 'bags', 'shirts'];
/** Product names per category, so events carry what the example emails show. */
const PRODUCTS: Record<string, string[]> = {
  shoes: ['Trail Shoe', 'City Sneaker', 'Canvas Slip-on'],
  boots: ['Hiking Boot', 'Chelsea Boot', 'Winter Boot'],
  jackets: ['Rain Jacket', 'Down Jacket', 'Denim Jacket'],
  bags: ['Day Pack', 'Tote Bag', 'Weekender'],
  shirts: ['Linen Shirt', 'Flannel Shirt', 'Oxford Shirt'],
};
const COUNTRIES = ['US', 'US', 'GB', 'DE', 'DE', 'AT', 'CH', 'FR', 'NL', 'CA'];

/** A seeded faker (names, emails) and a seeded uniform random number. */
function generator(seed: number): { faker: Faker; random: () => number } {
  const faker = new Faker({ locale: [en, base] });
  faker.seed(seed);
  return { faker, random: () => faker.number.float({ min: 0, max: 1 }) };
}

function pick<T>(random: () => number, weighted: [T, number][]): T {
  let r = random() * weighted.reduce((n, [, w]) => n + w, 0);
  for (const [value, w] of weighted) {
    r -= w;
    if (r <= 0) return value;
  }
  return weighted[weighted.length - 1]![0];
}

/** `n` shoppers; about a fifth live in two ESPs, so the first pull merges them by email. */
export function castShoppers(n: number, seed: number): Shopper[] {
  const { faker, random } = generator(seed);
  const esps: EspName[] = ['hubspot', 'mailchimp', 'klaviyo'];
  const seen = new Set<string>();
  const out: Shopper[] = [];
  while (out.length < n) {
    const firstName = faker.person.firstName();
    const lastName = faker.person.lastName();
    const email = faker.internet.email({ firstName, lastName, provider: 'example.com' }).toLowerCase();
    if (seen.has(email)) continue;
    seen.add(email);
    const home = esps[Math.floor(random() * 3)]!;
    const homes: EspName[] = random() < 0.2 ? [home, esps[(esps.indexOf(home) + 1) % 3]!] : [home];
    out.push({ email, firstName, lastName, country: COUNTRIES[Math.floor(random() * COUNTRIES.length)]!, persona: pick(random, PERSONAS), homes });
  }
  return out;
}

/** The behaviour of a cast over time: events for any stretch of simulated time, in time order. */
export class ShopperSimulation {
  private readonly random: () => number;

  constructor(
    private readonly shoppers: Shopper[],
    seed: number,
  ) {
    this.random = generator(seed + 1).random;
  }

  /** Events in `[from, to)`: each shopper's events arrive as a Poisson process at its persona's rates. */
  eventsBetween(from: number, to: number): DemoEvent[] {
    const days = Math.max(0, to - from) / DAY;
    const out: DemoEvent[] = [];
    for (const s of this.shoppers) {
      for (const [event, perDay] of Object.entries(DAILY[s.persona])) {
        for (let k = this.poisson(perDay * days); k > 0; k--) out.push(this.event(s, event, from + this.random() * (to - from)));
      }
    }
    return out.sort((a, b) => a.time - b.time);
  }

  /** A back-dated history of `days` days before `now`, so value segments (RFM, VIP, lapsed) have data. */
  history(now: number, days: number): DemoEvent[] {
    return this.eventsBetween(now - days * DAY, now - HOUR);
  }

  private event(s: Shopper, event: string, time: number): DemoEvent {
    const t = Math.floor(time);
    const category = CATEGORIES[Math.floor(this.random() * CATEGORIES.length)]!;
    const products = PRODUCTS[category]!;
    const product = products[Math.floor(this.random() * products.length)]!;
    switch (event) {
      case 'Viewed Product':
        return { email: s.email, event, time: t, properties: { category, product_name: product, price: this.price(s) } };
      case 'Added to Cart': {
        const price = this.price(s);
        const quantity = 1 + Math.floor(this.random() * 2);
        const items: CartItem[] = [{ name: product, price, quantity }];
        return {
          email: s.email,
          event,
          time: t,
          properties: { category, product_name: product, price, items, total: Math.round(price * quantity * 100) / 100 },
        };
      }
      case 'Placed Order':
        return { email: s.email, event, time: t, properties: { value: this.price(s) * (1 + Math.floor(this.random() * 3)) } };
      default:
        return { email: s.email, event, time: t, properties: { campaign: 'weekly-digest' } };
    }
  }

  private price(s: Shopper): number {
    const top = s.persona === 'big_spender' ? 600 : 120;
    return Math.round((20 + this.random() * top) * 100) / 100;
  }

  /** A Poisson draw (Knuth's method; means here are small). */
  private poisson(mean: number): number {
    const limit = Math.exp(-mean);
    let k = 0;
    for (let p = this.random(); p > limit; p *= this.random()) k++;
    return k;
  }
}
