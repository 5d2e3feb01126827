/**
 * Golden answers at the exact edges of every event function: window bounds (an event exactly W ago
 * has left), ties (an X at the same millisecond as the Y), future-dated events, and the strict
 * forms. docs/rules.md states each of these rules; this file holds the code to them.
 */
import { FailedValue } from '../../../src/rules/context';
import { columnsFromEvents } from '../../../src/rules/event-cache';
import { RuleSet, inlineSources } from '../../../src/rules/ruleset';
import type { EventProperties } from '../../../src/model/types';
import type { ContactView } from '../../../src/rules/context';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const S = 1000;
const H = 3_600_000;
const CONTACT: ContactView = { id: 1, email: 'e@x.com', properties: {}, tags: [], consent: 'subscribed', createdAt: NOW - 100 * H };

type Ev = [name: string, time: number, properties?: EventProperties];

function evaluate(rule: string, events: Ev[], now = NOW, type: 'flag' | 'value' = 'value'): { value: unknown; next: number } {
  const rs = RuleSet.compile(inlineSources({ r: { rule, type } }));
  const list = events.map(([name, time, properties]) => ({ name, time, properties: properties ?? {} }));
  const ev = rs.evaluate(CONTACT, columnsFromEvents(rs.plan, list), 0, list.length, now);
  const v = ev.values[0];
  return { value: v instanceof FailedValue ? `error: ${v.error.message}` : v, next: ev.segmentNext[0]! };
}

const value = (rule: string, events: Ev[], now = NOW): unknown => evaluate(rule, events, now).value;

describe('window bounds: now - W < t <= now', () => {
  it.each([
    ['count("A", 24h)', [['A', NOW - 24 * H]], 0],
    ['count("A", 24h)', [['A', NOW - 24 * H + 1]], 1],
    ['count("A", 24h)', [['A', NOW]], 1],
    ['count("A", 24h)', [['A', NOW + 1]], 0],
    ['exists("A", 24h)', [['A', NOW - 24 * H]], false],
    ['exists("A", 24h)', [['A', NOW - 24 * H + 1]], true],
    [
      'sum("A", "v", 24h)',
      [
        ['A', NOW - 24 * H, { v: 5 }],
        ['A', NOW - 1, { v: 2 }],
      ],
      2,
    ],
    [
      'max("A", "v", 24h)',
      [
        ['A', NOW - 24 * H, { v: 9 }],
        ['A', NOW, { v: 2 }],
      ],
      2,
    ],
    [
      'score({"A": 4}, 24h)',
      [
        ['A', NOW - 24 * H],
        ['A', NOW - 24 * H + 1],
      ],
      4,
    ],
    ['score({"A": 4}, 48h, 24h)', [['A', NOW - 24 * H + 1]], 4],
    ['score({"A": 4}, 48h, 24h)', [['A', NOW - 24 * H]], 2],
  ] as [string, Ev[], unknown][])('%s over %j is %j', (rule, events, expected) => {
    expect(value(rule, events)).toEqual(expected);
  });

  it('windowed first/last: the first/last event inside the window, an error when none is', () => {
    const events: Ev[] = [
      ['A', NOW - 48 * H],
      ['A', NOW - 24 * H],
      ['A', NOW - 24 * H + S],
      ['A', NOW - H],
    ];
    expect(value('first("A", 24h)', events)).toBe(NOW - 24 * H + S);
    expect(value('first("A")', events)).toBe(NOW - 48 * H);
    expect(value('last("A", 24h)', events)).toBe(NOW - H);
    expect(value('first("A", 30m)', events)).toBe('error: no "A" event in the window');
    expect(
      value('first("A", 24h, {"k": 1})', [
        ['A', NOW - 2 * H, { k: 2 }],
        ['A', NOW - H, { k: 1 }],
      ]),
    ).toBe(NOW - H);
  });

  it('a windowed first changes when that very event leaves the window', () => {
    const events: Ev[] = [
      ['A', NOW - 24 * H + S],
      ['A', NOW - H],
    ];
    expect(evaluate('first("A", 24h)', events).next).toBe(NOW + S);
    expect(evaluate('last("A", 24h)', events).next).toBe(NOW + 23 * H);
  });

  it('exists changes when its newest counted event leaves; count when its oldest does', () => {
    const events: Ev[] = [
      ['A', NOW - 20 * H],
      ['A', NOW - 2 * H],
    ];
    expect(evaluate('exists("A", 24h)', events).next).toBe(NOW + 22 * H);
    expect(evaluate('count("A", 24h)', events).next).toBe(NOW + 4 * H);
  });

  it('a future-dated event is not counted until its time, which is the next change', () => {
    const r = evaluate('count("A")', [['A', NOW + 5 * S]]);
    expect(r).toEqual({ value: 0, next: NOW + 5 * S });
    expect(value('count("A")', [['A', NOW + 5 * S]], NOW + 5 * S)).toBe(1);
  });
});

describe('ties and the strict forms', () => {
  const cart = NOW - 30 * H;
  it.each([
    // after: an X at the same millisecond as the last Y counts; after_strict: it does not.
    [
      'after("O", "C")',
      [
        ['C', cart],
        ['O', cart],
      ],
      true,
    ],
    [
      'after_strict("O", "C")',
      [
        ['C', cart],
        ['O', cart],
      ],
      false,
    ],
    [
      'after_strict("O", "C")',
      [
        ['C', cart],
        ['O', cart + 1],
      ],
      true,
    ],
    [
      'after("O", "C")',
      [
        ['O', cart - 1],
        ['C', cart],
      ],
      false,
    ],
    // within: [last Y, last Y + D]; within_strict: (last Y, last Y + D].
    [
      'within("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart + 24 * H],
      ],
      true,
    ],
    [
      'within("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart + 24 * H + 1],
      ],
      false,
    ],
    [
      'within("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart],
      ],
      true,
    ],
    [
      'within_strict("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart],
      ],
      false,
    ],
    [
      'within_strict("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart + 24 * H],
      ],
      true,
    ],
    // none_within: D has passed since the last Y and no X came in [Y, Y + D] (strict: (Y, Y + D]).
    [
      'none_within("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart],
      ],
      false,
    ],
    [
      'none_within_strict("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart],
      ],
      true,
    ],
    [
      'none_within("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart + 24 * H],
      ],
      false,
    ],
    [
      'none_within("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart + 24 * H + 1],
      ],
      true,
    ],
    ['none_within("O", 24h, "C")', [['C', NOW - 24 * H]], true],
    ['none_within("O", 24h, "C")', [['C', NOW - 24 * H + 1]], false],
    // The last Y decides: a second cart add restarts the wait.
    [
      'none_within("O", 24h, "C")',
      [
        ['C', cart],
        ['O', cart + H],
        ['C', cart + 2 * H],
      ],
      true,
    ],
    // count_since: T <= t <= now; count_since_strict: T < t <= now.
    [
      'count_since("V", first("V", 48h))',
      [
        ['V', NOW - 10 * H],
        ['V', NOW - 10 * H],
        ['V', NOW - H],
      ],
      3,
    ],
    [
      'count_since_strict("V", first("V", 48h))',
      [
        ['V', NOW - 10 * H],
        ['V', NOW - 10 * H],
        ['V', NOW - H],
      ],
      1,
    ],
    [
      'count_since("C", first("V", 48h))',
      [
        ['C', NOW - 11 * H],
        ['V', NOW - 10 * H],
        ['C', NOW - 10 * H],
        ['C', NOW + H],
      ],
      1,
    ],
    [
      'count_since("C", timestamp("2026-03-01T11:00:00Z"), {"k": ["a", "b"]})',
      [
        ['C', NOW - H, { k: 'a' }],
        ['C', NOW - H + 1, { k: 'c' }],
        ['C', NOW, { k: 'b' }],
      ],
      2,
    ],
    // tier: x >= t counts; tier_strict: x > t counts.
    ['tier(2, [1, 2, 3])', [], 3],
    ['tier_strict(2, [1, 2, 3])', [], 2],
    ['tier(since("A"), [1h, 2h])', [['A', NOW - H]], 2],
    ['tier_strict(since("A"), [1h, 2h])', [['A', NOW - H]], 1],
  ] as [string, Ev[], unknown][])('%s over %j is %j', (rule, events, expected) => {
    expect(value(rule, events)).toEqual(expected);
  });

  it('the shipped cart_abandoner idiom counts a same-millisecond order as a conversion; the strict forms do not', () => {
    const events: Ev[] = [
      ['C', NOW - 30 * H],
      ['O', NOW - 30 * H],
    ];
    expect(value('none_within("O", 24h, "C") && !after("O", "C")', events)).toBe(false);
    expect(value('none_within_strict("O", 24h, "C") && !after_strict("O", "C")', events)).toBe(true);
  });

  it('none_within flips exactly when D has passed, and not at all once an X came', () => {
    expect(evaluate('none_within("O", 24h, "C")', [['C', NOW - H]])).toEqual({ value: false, next: NOW + 23 * H });
    expect(
      evaluate('none_within("O", 24h, "C")', [
        ['C', NOW - H],
        ['O', NOW - 1],
      ]),
    ).toEqual({ value: false, next: Infinity });
    expect(evaluate('tier_strict(since("A"), [1h, 2h])', [['A', NOW - H]]).next).toBe(NOW + 1);
    expect(evaluate('tier(since("A"), [1h, 2h])', [['A', NOW - H]]).next).toBe(NOW + H);
  });

  it("the issue's browse rule: 3 views within 48 h and no cart after the earliest of them", () => {
    const rule = 'count("V", 48h) >= 3 && count_since("C", first("V", 48h)) == 0';
    const views: Ev[] = [
      ['V', NOW - 40 * H],
      ['V', NOW - 20 * H],
      ['V', NOW - H],
    ];
    expect(value(rule, views)).toBe(true);
    expect(value(rule, [...views, ['C', NOW - 30 * H]])).toBe(false);
    expect(value(rule, [...views, ['C', NOW - 41 * H]])).toBe(true);
    expect(value(rule, [...views, ['C', NOW - 40 * H]])).toBe(false);
  });
});

describe('string() of times', () => {
  it('gives RFC 3339 in UTC for timestamps and seconds for durations, as CEL defines', () => {
    expect(value('string(timestamp("2026-03-01T09:00:00Z"))', [])).toBe('2026-03-01T09:00:00Z');
    expect(value('string(last("A"))', [['A', Date.UTC(2026, 1, 2, 3, 4, 5, 600)]])).toBe('2026-02-02T03:04:05.600Z');
    expect(value('string(24h)', [])).toBe('86400s');
    expect(value('"ordered " + string(now)', [])).toBe('ordered 2026-03-01T12:00:00Z');
  });
});
