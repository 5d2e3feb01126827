/**
 * The demo's preview scenarios: each example campaign's shipped scenarios (which reach every branch)
 * plus a few demo shoppers, chosen so that together they show each branch with real demo data, and
 * given the fields the example emails read (cart lines, last viewed product, points, days since the
 * last order), derived from what the demo stored for them.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { FieldValue } from '../model/types';
import type { Store } from '../store/store';
import { sampleFromStore } from '../preview/scenarios';

const DAY = 86_400_000;

/** A scenario as scenario files write it. */
export interface DemoScenario {
  name: string;
  email: string;
  now: string;
  properties: Record<string, FieldValue>;
  tags?: string[];
  segments?: Record<string, FieldValue>;
  events?: { name: string; time: string; properties: Record<string, FieldValue> }[];
  groups?: Record<string, string[]>;
}

/** What the demo knows of one shopper, read once from the store. */
export interface ShopperFacts {
  /** Position in the store's order. */
  id: number;
  email: string;
  createdAt: number;
  properties: Record<string, FieldValue>;
  tags: string[];
  segments: Record<string, FieldValue>;
  events: { name: string; time: number; properties: Record<string, FieldValue> }[];
}

/** A campaign's way of turning shoppers into scenarios: which bucket each falls in (one per bucket). */
interface Campaign {
  bucket(f: ShopperFacts, now: number): string | undefined;
  scenario(f: ShopperFacts, now: number): Omit<DemoScenario, 'name' | 'email' | 'now'>;
}

const last = (f: ShopperFacts, name: string): ShopperFacts['events'][number] | undefined => f.events.filter((e) => e.name === name).at(-1);
const firstName = (f: ShopperFacts): Record<string, FieldValue> => (typeof f.properties.first_name === 'string' ? { first_name: f.properties.first_name } : {});
const num = (v: FieldValue | undefined): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
const lifetimeValue = (f: ShopperFacts): number =>
  Math.round(f.events.filter((e) => e.name === 'Placed Order').reduce((n, e) => n + num(e.properties.value), 0));
const isVip = (f: ShopperFacts): boolean => f.segments.vip === true;
const daysSinceOrder = (f: ShopperFacts, now: number): number | undefined => {
  const order = last(f, 'Placed Order');
  return order ? Math.floor((now - order.time) / DAY) : undefined;
};

/** The example emails' lifecycle words, from the demo's data. */
function lifecycle(f: ShopperFacts, now: number): string {
  const days = daysSinceOrder(f, now);
  if (days === undefined) return now - f.createdAt < 14 * DAY ? 'new' : 'lapsed';
  return days <= 30 ? 'active' : days <= 45 ? 'at_risk' : 'lapsed';
}

const CAMPAIGNS: Record<string, Campaign> = {
  'cart-abandonment': {
    bucket: (f) => {
      const cart = last(f, 'Added to Cart');
      if (!cart) return undefined;
      return isVip(f) ? 'vip' : num(cart.properties.total) >= 100 ? 'free-shipping' : 'small';
    },
    scenario: (f) => {
      const cart = last(f, 'Added to Cart')!;
      const items = Array.isArray(cart.properties.items) ? cart.properties.items : [];
      const count = items.reduce<number>((n, i) => n + num((i as Record<string, FieldValue>).quantity), 0);
      return {
        properties: { ...firstName(f), cart_total: num(cart.properties.total), cart_item_count: count },
        tags: isVip(f) ? [...new Set([...f.tags, 'vip'])] : f.tags,
        segments: { cart_abandoner: f.segments.cart_abandoner ?? false, vip_customer: isVip(f) },
        events: [{ name: cart.name, time: new Date(cart.time).toISOString(), properties: cart.properties }],
      };
    },
  },
  'browse-abandonment': {
    bucket: (f, now) => (last(f, 'Viewed Product') ? lifecycle(f, now) : undefined),
    scenario: (f, now) => {
      const view = last(f, 'Viewed Product')!;
      return {
        properties: { ...firstName(f), last_viewed_product: view.properties.product_name ?? null, last_viewed_category: view.properties.category ?? null },
        segments: { lifecycle_stage: lifecycle(f, now) },
        events: [{ name: view.name, time: new Date(view.time).toISOString(), properties: view.properties }],
      };
    },
  },
  vip: {
    bucket: (f) => {
      const points = lifetimeValue(f);
      return points >= 1000 ? 'gold' : points >= 500 ? 'silver' : points > 0 ? 'member' : undefined;
    },
    scenario: (f) => ({
      properties: { ...firstName(f), loyalty_points: lifetimeValue(f) },
      tags: isVip(f) ? [...new Set([...f.tags, 'vip'])] : f.tags,
      segments: { vip_customer: isVip(f) },
    }),
  },
  welcome: {
    bucket: (f) => ['checkout', 'popup', 'footer'][f.id % 3],
    scenario: (f) => {
      const interests = [...new Set(f.events.filter((e) => e.name === 'Viewed Product').map((e) => String(e.properties.category)))]
        .slice(0, 2)
        .map((c) => c.charAt(0).toUpperCase() + c.slice(1));
      const source = ['checkout', 'popup', 'footer'][f.id % 3]!;
      return { properties: { ...firstName(f), signup_source: source, interests }, ...(interests.length ? { groups: { Interests: interests } } : {}) };
    },
  },
  'win-back': {
    bucket: (f, now) => (daysSinceOrder(f, now) === undefined ? undefined : lifecycle(f, now)),
    scenario: (f, now) => ({
      properties: { ...firstName(f), days_since_last_order: daysSinceOrder(f, now)! },
      segments: { lifecycle_stage: lifecycle(f, now) },
    }),
  },
};

/** Everything the demo scenarios read about each contact in the store (every contact, as preview samples them). */
export function shopperFacts(store: Store): ShopperFacts[] {
  const all = sampleFromStore(store, Number.MAX_SAFE_INTEGER);
  return all.map((sc, id) => {
    const events = sc.events.map((e) => ({ name: e.name, time: Date.parse(String(e.time)), properties: (e.properties ?? {}) as Record<string, FieldValue> }));
    // The demo creates a shopper just before its first event.
    return {
      id,
      email: sc.email ?? sc.name,
      createdAt: Math.min(Date.now(), ...events.map((e) => e.time)),
      properties: sc.properties,
      tags: sc.tags,
      segments: sc.segments,
      events,
    };
  });
}

/** Up to `max` demo shoppers for a campaign, one per bucket (in the order shoppers were stored). */
export function demoScenariosFor(campaign: string, facts: ShopperFacts[], now: number, max = 4): DemoScenario[] {
  const c = CAMPAIGNS[campaign];
  if (!c) return [];
  const seen = new Set<string>();
  const out: DemoScenario[] = [];
  for (const f of facts) {
    const bucket = c.bucket(f, now);
    if (bucket === undefined || seen.has(bucket)) continue;
    seen.add(bucket);
    out.push({ name: `demo shopper ${f.email}`, email: f.email, now: new Date(now).toISOString(), ...c.scenario(f, now) });
    if (out.length >= max) break;
  }
  return out;
}

/**
 * Copies the example templates to `outDir`, each campaign's scenario file extended with its demo
 * shoppers; returns `outDir` (a folder `segsync preview` reads like the shipped one).
 */
export function writeDemoTemplates(templatesDir: string, outDir: string, store: Store, now: number): string {
  const facts = shopperFacts(store);
  for (const campaign of readdirSync(templatesDir).sort()) {
    const from = join(templatesDir, campaign);
    if (!statSync(from).isDirectory()) continue;
    const to = join(outDir, campaign);
    mkdirSync(to, { recursive: true });
    for (const file of readdirSync(from)) if (file !== 'scenarios.yaml') copyFileSync(join(from, file), join(to, file));
    const shipped = join(from, 'scenarios.yaml');
    if (!existsSync(shipped)) continue;
    const doc = parseDocument(readFileSync(shipped, 'utf8'));
    for (const s of demoScenariosFor(campaign, facts, now)) doc.addIn(['scenarios'], doc.createNode(s));
    writeFileSync(join(to, 'scenarios.yaml'), doc.toString());
  }
  return outDir;
}
