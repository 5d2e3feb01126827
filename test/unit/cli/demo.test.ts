import { castShoppers, ShopperSimulation } from '../../../src/cli/demo-shoppers';
import { sampleChanges } from '../../../src/cli/demo';
import { diffMarks, markDifferences, readMarks } from '../../../src/cli/demo-view';
import type { Marks } from '../../../src/cli/demo-view';
import type { EspName } from '../../../src/model/types';

const DAY = 86_400_000;

describe('demo shoppers', () => {
  it('casts the same people and replays the same events for the same seed', () => {
    const a = castShoppers(50, 7);
    expect(castShoppers(50, 7)).toEqual(a);
    expect(new Set(a.map((s) => s.email)).size).toBe(50);
    const t = Date.UTC(2026, 10, 1);
    expect(new ShopperSimulation(a, 7).eventsBetween(t, t + 2 * DAY)).toEqual(new ShopperSimulation(a, 7).eventsBetween(t, t + 2 * DAY));
  });

  it("produces events inside the asked window, in time order, at roughly the personas' rates", () => {
    const shoppers = castShoppers(200, 3);
    const t = Date.UTC(2026, 10, 1);
    const events = new ShopperSimulation(shoppers, 3).eventsBetween(t, t + 10 * DAY);
    expect(events.every((e) => e.time >= t && e.time < t + 10 * DAY)).toBe(true);
    expect(events.map((e) => e.time)).toEqual([...events.map((e) => e.time)].sort((x, y) => x - y));
    // About 1.2 events per shopper per day on average across personas: far from zero, far from a flood.
    expect(events.length / 200 / 10).toBeGreaterThan(0.5);
    expect(events.length / 200 / 10).toBeLessThan(4);
    expect(events.filter((e) => e.event === 'Placed Order').every((e) => typeof e.properties.value === 'number')).toBe(true);
  });
});

describe('demo view', () => {
  const targets = [
    { segment: 'cart', as: 'tag' as const, name: 'seg:cart' },
    { segment: 'stage', as: 'property' as const, name: 'STAGE' },
  ];

  it('reads tags wherever the config puts them: native, a ;-separated property, a list property, prefixed lists', () => {
    const c = (tags: string[], properties: Record<string, unknown>, lists: string[] = []) => ({ email: 'a@x.com', tags, properties, lists });
    const has = (m: Marks) => m.get('a@x.com')?.get('cart');
    expect(has(readMarks([c(['seg:cart'], {})], targets, { property: undefined, listPrefix: undefined }))).toBe(true);
    expect(has(readMarks([c([], { t: 'x;seg:cart' })], targets, { property: 't', listPrefix: undefined }))).toBe(true);
    expect(has(readMarks([c([], { t: ['seg:cart'] })], targets, { property: 't', listPrefix: undefined }))).toBe(true);
    expect(has(readMarks([c([], {}, ['segsync: seg:cart'])], targets, { property: undefined, listPrefix: 'segsync: ' }))).toBe(true);
    expect(has(readMarks([c([], { t: 'seg:other' }, ['seg:cart'])], targets, { property: 't', listPrefix: undefined }))).toBeUndefined();
    expect(
      readMarks([c([], { STAGE: 'lapsed' })], targets, { property: undefined, listPrefix: undefined })
        .get('a@x.com')
        ?.get('stage'),
    ).toBe('lapsed');
  });

  it('groups one flip seen on several ESPs into one change, and reports values that changed or went', () => {
    const m = (entries: [string, string, string | boolean][]): Marks => {
      const out: Marks = new Map();
      for (const [email, seg, v] of entries) out.set(email, new Map([...(out.get(email) ?? new Map()), [seg, v]]));
      return out;
    };
    const before = new Map<EspName, Marks>([
      ['hubspot', m([['a@x.com', 'stage', 'new']])],
      ['mailchimp', m([])],
    ]);
    const after = new Map<EspName, Marks>([
      ['hubspot', m([['b@x.com', 'cart', true]])],
      [
        'mailchimp',
        m([
          ['b@x.com', 'cart', true],
          ['a@x.com', 'stage', 'active'],
        ]),
      ],
    ]);
    expect(diffMarks(before, after)).toEqual([
      { email: 'b@x.com', segment: 'cart', value: true, esps: ['hubspot', 'mailchimp'] },
      { email: 'a@x.com', segment: 'stage', value: undefined, esps: ['hubspot'] },
      { email: 'a@x.com', segment: 'stage', value: 'active', esps: ['mailchimp'] },
    ]);
  });

  it('samples changes across segments so one burst does not hide the rest', () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ email: `b${i}@x.com`, segment: 'browse', value: true, esps: ['mailchimp' as EspName] }));
    const one = { email: 'c@x.com', segment: 'cart', value: true, esps: ['hubspot', 'mailchimp', 'klaviyo'] as EspName[] };
    const shown = sampleChanges([...many, one], 4);
    expect(shown[0]).toBe(one);
    expect(shown).toHaveLength(4);
  });

  it('names the members an ESP does not show and the contacts it shows that are not members', () => {
    const marks: Marks = new Map([
      ['a@x.com', new Map([['vip', true]])],
      [
        'c@x.com',
        new Map<string, string | number | boolean>([
          ['vip', true],
          ['stage', 'new'],
        ]),
      ],
      ['d@x.com', new Map([['stage', 'new']])],
    ]);
    expect(markDifferences(new Set(['a@x.com', 'b@x.com', 'd@x.com']), 'vip', marks)).toEqual({ missing: ['b@x.com', 'd@x.com'], extra: ['c@x.com'] });
  });
});
