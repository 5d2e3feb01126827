/**
 * Full recomputes on worker threads give exactly what one thread gives: the same figures, the same
 * stored answers and wake-ups, also after incremental changes the workers must hear of (new events,
 * changed and erased contacts, new contacts past their ranges).
 */
import { parseConfig } from '../../../src/config/load';
import { SegmentEngine } from '../../../src/rules/engine';
import type { RecomputeSummary } from '../../../src/rules/engine';
import { DAY, HOUR, T0, World, templateConfig } from './helpers';

const CONTACTS = 240;
const NAMES = ['Viewed Product', 'Placed Order', 'Opened Email', 'Added to Cart', 'Clicked Email'];

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The same history for every world it is given. */
function populate(w: World): void {
  const rand = random(42);
  for (let i = 0; i < CONTACTS; i++)
    w.contact(`p${i}@example.com`, {
      consent: i % 7 ? 'subscribed' : 'unsubscribed',
      properties: { country: ['DE', 'AT', 'US'][i % 3]!, plan: i % 4 ? 'free' : 'pro' },
      tags: i % 5 ? [] : ['newsletter'],
    });
  const events = Array.from({ length: 3000 }, () => ({
    email: `p${Math.floor(rand() * CONTACTS)}@example.com`,
    name: NAMES[Math.floor(rand() * NAMES.length)]!,
    time: T0 - Math.floor(rand() * 120 * DAY),
    properties: { value: Math.round(rand() * 80_000) / 100, category: rand() < 0.5 ? 'shoes' : 'hats' },
    source: 'track' as const,
  }));
  w.store.appendEvents(events);
}

/** Changes after the first recompute, through the engine's incremental paths. */
function change(w: World): void {
  const rand = random(7);
  for (let k = 0; k < 40; k++) {
    const i = Math.floor(rand() * CONTACTS);
    w.event(`p${i}@example.com`, NAMES[k % NAMES.length]!, T0 - Math.floor(rand() * 3 * DAY), { value: 600, category: 'shoes' });
  }
  for (const i of [3, 100, 200]) w.contact(`p${i}@example.com`, { consent: 'subscribed', properties: { country: 'AT', plan: 'pro' }, tags: ['newsletter'] });
  const erased = w.store.findContactByEmail('p150@example.com')!.id;
  w.store.eraseContact(erased);
  w.engine.onContacts([erased]);
  w.contact('late@example.com', { consent: 'subscribed', properties: { country: 'DE', plan: 'pro' } });
  w.event('late@example.com', 'Placed Order', T0 - HOUR, { value: 2000 });
}

function stored(w: World): unknown {
  return {
    answers: [...w.store.scanSegmentStates()],
    wakeups: w.store.db.prepare('SELECT contact_id, next_change_at FROM wakeups ORDER BY contact_id').all(),
  };
}

const figures = (s: RecomputeSummary): unknown => ({ ...s, timings: undefined });

describe('recompute on worker threads', () => {
  it('stores the same answers and wake-ups and reports the same figures as one thread, before and after incremental changes', async () => {
    const one = new World(templateConfig(), { workers: 0 });
    const many = new World(templateConfig(), { workers: 2, minContactsPerThread: 10 });
    try {
      for (const w of [one, many]) populate(w);
      const [a1, b1] = [one, many].map((w) => w.engine.recomputeAll());
      expect(b1!.timings.threads).toBe(3);
      expect(a1!.timings.threads).toBe(1);
      expect(figures(b1!)).toEqual(figures(a1!));
      expect(stored(many)).toEqual(stored(one));

      for (const w of [one, many]) change(w);
      for (const w of [one, many]) await w.clock.set(T0 + 2 * DAY);
      const [a2, b2] = [one, many].map((w) => w.engine.recomputeAll());
      expect(b2!.timings.threads).toBe(3);
      expect(figures(b2!)).toEqual(figures(a2!));
      expect(a2!.contactsChanged).toBeGreaterThan(0);
      expect(stored(many)).toEqual(stored(one));
      // Nothing changed since: no worker may find a change the main thread does not know of.
      expect(many.engine.recomputeAll().contactsChanged).toBe(0);

      const [a3, b3] = [one, many].map((w) => w.engine.evaluateAllAt(T0 + 40 * DAY));
      expect(figures(b3!)).toEqual(figures(a3!));
      expect(stored(many)).toEqual(stored(one));
    } finally {
      many.engine.close();
    }
  });

  it('restarted from a saved state, hands the workers their share of it and then the contacts changed since the load', async () => {
    const one = new World(templateConfig(), { workers: 0 });
    const many = new World(templateConfig(), { workers: 2, minContactsPerThread: 10 });
    const again = SegmentEngine.fromConfig(templateConfig(), many.store, many.clock, { workers: 2, minContactsPerThread: 10 });
    try {
      for (const w of [one, many]) {
        populate(w);
        // Both read what populate stored behind their backs, as the restarted engine will.
        w.engine.load();
        w.engine.recomputeAll();
      }
      expect(many.engine.saveState()).toBe(true);
      many.engine.close();
      again.load();
      expect(again.lastLoad?.fromStateSnapshot).toBe(true);
      // Changes between the load and the first recompute, told to the restarted engine.
      const restarted = Object.create(many, { engine: { value: again } }) as World;
      for (const w of [one, restarted]) change(w);
      for (const w of [one, many]) await w.clock.set(T0 + 2 * DAY);
      const [a, b] = [one.engine, again].map((e) => e.recomputeAll());
      expect(b!.timings.threads).toBe(3);
      expect(figures(b!)).toEqual(figures(a!));
      expect(stored(many)).toEqual(stored(one));
      expect(again.recomputeAll().contactsChanged).toBe(0);
    } finally {
      again.close();
      many.engine.close();
    }
  });

  it('recomputes on one thread, with the same answers and the error kept, when a worker cannot follow the main thread', () => {
    const one = new World(templateConfig(), { workers: 0 });
    const broken = new World(templateConfig(), { workers: 1, minContactsPerThread: 10 });
    try {
      for (const w of [one, broken]) populate(w);
      // The worker compiles what `origin` says: a different rule there must never give different answers.
      const origin = broken.engine.rules.origin;
      broken.engine.rules.origin = { ...origin, sources: origin.sources.map((s, i) => (i === 0 ? { ...s, text: 'count("Clicked Email", 3d) >= 2' } : s)) };
      const [a, b] = [one, broken].map((w) => w.engine.recomputeAll());
      expect(b!.timings.threads).toBe(1);
      expect(broken.engine.poolError).toMatchObject({ code: 'E_RULES_WORKER' });
      expect(figures(b!)).toEqual(figures(a!));
      expect(stored(broken)).toEqual(stored(one));
    } finally {
      broken.engine.close();
    }
  });
});

describe('recompute on worker threads, rules that read the email', () => {
  it('gives workers the emails when a rule reads them (and the same answers as one thread)', () => {
    const config = (): ReturnType<typeof templateConfig> =>
      parseConfig(
        `version: 1
segments:
  tens: { rule: 'email.startsWith("p1")' }
  clicked: { rule: 'exists("Clicked Email", 30d)' }
`,
        'parallel-email.yaml',
        { env: {}, secrets: { connectors: false, daemon: false } },
      );
    const one = new World(config(), { workers: 0 });
    const many = new World(config(), { workers: 2, minContactsPerThread: 10 });
    try {
      for (const w of [one, many]) populate(w);
      const [a, b] = [one, many].map((w) => w.engine.recomputeAll());
      expect(b!.timings.threads).toBe(3);
      expect(figures(b!)).toEqual(figures(a!));
      expect(stored(many)).toEqual(stored(one));
      expect(a!.segments.find((s) => s.segment === 'tens')!.members).toBeGreaterThan(100);
      expect(many.engine.rules.needs.email).toBe(true);
      expect(new World(templateConfig()).engine.rules.needs.email).toBe(false);
    } finally {
      many.engine.close();
    }
  });
});
