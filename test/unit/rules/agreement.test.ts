/**
 * Property-based agreement: on random rule sets and random histories (with ties, window edges,
 * future-dated events, missing and non-numeric properties), the compiled evaluator gives the same
 * answers as the reference interpreter, and its next-change time is sound: no answer differs at any
 * time before it.
 */
import fc from 'fast-check';
import { FailedValue, RuleEvalError } from '../../../src/rules/context';
import type { ContactView } from '../../../src/rules/context';
import { columnsFromEvents } from '../../../src/rules/event-cache';
import { nextChanges } from '../../../src/rules/next-change';
import { RuleSet, inlineSources } from '../../../src/rules/ruleset';
import { referenceEvaluate } from './reference';
import type { RefEvent, RefValue } from './reference';

const HALF_HOUR = 1_800_000;
const NOW = Date.UTC(2026, 4, 1, 12, 0, 0);

const E = fc.constantFrom('"A"', '"B"', '"C"');
const W = fc.constantFrom('30m', '1h', '2h', '24h');
const OP = fc.constantFrom('<', '<=', '>', '>=', '==', '!=');
const N = fc.integer({ min: 0, max: 3 }).map(String);
const D = fc.constantFrom('0.0', '10.0', '19.99', '20.09', '29.99', '5.5');
const F = fc.constantFrom('{"category": "x"}', '{"category": ["x", 1]}', '{"category": "y", "flag": true}');
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<string> =>
  fc
    .option(
      a.map((x) => `, ${String(x)}`),
      { nil: '' },
    )
    .map((x) => x ?? '');

const leaf: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(E, opt(W), opt(F), OP, N).map(([e, w, f, op, n]) => `count(${e}${w}${f}) ${op} ${n}`),
  fc.tuple(E, opt(W), opt(F)).map(([e, w, f]) => `exists(${e}${w}${f})`),
  fc.tuple(E, opt(W), opt(F), OP, D).map(([e, w, f, op, d]) => `sum(${e}, "value"${w}${f}) ${op} ${d}`),
  fc.tuple(fc.constantFrom('avg', 'max', 'min'), E, opt(W), OP, D).map(([fn, e, w, op, d]) => `${fn}(${e}, "value"${w}) ${op} ${d}`),
  fc.tuple(fc.constantFrom('after', 'after_strict'), E, E).map(([fn, x, y]) => `${fn}(${x}, ${y})`),
  fc.tuple(fc.constantFrom('within', 'none_within', 'within_strict', 'none_within_strict'), E, W, E).map(([fn, x, w, y]) => `${fn}(${x}, ${w}, ${y})`),
  fc.tuple(fc.constantFrom('first', 'last'), E, W, opt(F), W).map(([fn, e, w, f, w2]) => `${fn}(${e}, ${w}${f}) <= now - ${w2}`),
  fc
    .tuple(fc.constantFrom('count_since', 'count_since_strict'), E, E, W, opt(F), OP, N)
    .map(([fn, e, y, w, f, op, n]) => `${fn}(${e}, first(${y}, ${w})${f}) ${op} ${n}`),
  fc.tuple(E, W, W).map(([e, w1, w2]) => `tier_strict(since(${e}), [${w1}, ${w2}]) == 2`),
  fc.tuple(E, W).map(([e, w]) => `string(last(${e}, ${w})) < "2026-05-01T11:00:00Z"`),
  fc.tuple(E, OP, W).map(([e, op, w]) => `since(${e}) ${op} ${w}`),
  fc.tuple(E, OP, W).map(([e, op, w]) => `now - last(${e}) ${op} ${w}`),
  fc.tuple(E, OP, W).map(([e, op, w]) => `last(${e}) ${op} now - ${w}`),
  fc.tuple(E, W).map(([e, w]) => `first(${e}, {"category": "x"}) < now - ${w}`),
  fc
    .tuple(
      opt(fc.tuple(W, opt(fc.constantFrom('30m', '1h')))).map((x) => x.replace(',,', ',')),
      OP,
      D,
    )
    .map(([wh, op, d]) => `score({"A": 1, "B": 2.5}${wh}) ${op} ${d}`),
  fc.tuple(E, W, W, OP, N).map(([e, w1, w2, op, n]) => `tier(since(${e}), [${w1}, ${w2}]) ${op} ${n}`),
  fc.tuple(E, W, N).map(([e, w, n]) => `tier(count(${e}, ${w}), [1, 2, 3]) == ${n}`),
  fc.constantFrom('contact.country == "DE"', '"vip" in tags', 'now - created_at < 2h', 'has(contact.country)', 'contact.score > 1.5'),
);

const boolExpr: fc.Arbitrary<string> = fc.letrec<{ b: string }>((tie) => ({
  b: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(tie('b'), tie('b')).map(([a, b]) => `(${a} && ${b})`),
    fc.tuple(tie('b'), tie('b')).map(([a, b]) => `(${a} || ${b})`),
    tie('b').map((a) => `!(${a})`),
    fc.tuple(tie('b'), tie('b'), tie('b')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
  ),
})).b;

const ruleSet = fc.tuple(boolExpr, boolExpr, boolExpr).map(([r0, r1, r2]) => ({
  r0,
  r1,
  r2: `${r2} || segments.r0`,
  v: { rule: 'segments.r1 ? count("A", 2h) : tier(since("B"), [1h, 24h])', type: 'value' as const },
  s: { rule: 'score({"A": 1, "C": 3}, 24h, 1h)', type: 'value' as const },
}));

const property = fc.constantFrom<unknown>(undefined, 10, 0.1, 19.99, '5.50', 'abc', true, 20);
const event: fc.Arbitrary<RefEvent> = fc
  .tuple(fc.constantFrom('A', 'B', 'C'), fc.integer({ min: -60, max: 6 }), property, fc.constantFrom<unknown>(undefined, 'x', 'y', 1), fc.boolean())
  .map(([name, k, value, category, flag]) => {
    const properties: RefEvent['properties'] = {};
    if (value !== undefined) properties.value = value as number;
    if (category !== undefined) properties.category = category as string;
    if (flag) properties.flag = true;
    return { name, time: NOW + k * HALF_HOUR, properties };
  });

const contact: fc.Arbitrary<ContactView> = fc
  .tuple(
    fc.constantFrom<string | undefined>('DE', 'FR', undefined),
    fc.boolean(),
    fc.integer({ min: -10, max: 0 }),
    fc.constantFrom<unknown>(undefined, 2, 'high'),
  )
  .map(([country, vip, created, score]) => ({
    id: 1,
    email: 'p@example.com',
    properties: { ...(country ? { country } : {}), ...(score !== undefined ? { score: score as number } : {}) },
    tags: vip ? ['vip'] : [],
    consent: 'subscribed',
    createdAt: NOW + created * HALF_HOUR,
  }));

function compiledAt(
  rs: RuleSet,
  c: ContactView,
  events: RefEvent[],
  now: number,
): { values: Map<string, RefValue>; next: number; segmentNext: Map<string, number> } {
  const cols = columnsFromEvents(rs.plan, events);
  const ev = rs.evaluate(c, cols, 0, events.length, now);
  const values = new Map<string, RefValue>();
  rs.segments.forEach((s, i) => {
    const v = ev.values[i];
    values.set(s.name, v instanceof FailedValue ? { ok: false, error: v.error.message } : { ok: true, value: v });
  });
  return { values, next: ev.nextChangeAt, segmentNext: new Map(rs.segments.map((s, i) => [s.name, ev.segmentNext[i]!])) };
}

/** Equal answers: both errors, or equal values. */
function same(a: RefValue | undefined, b: RefValue | undefined): boolean {
  if (!a || !b) return false;
  if (!a.ok || !b.ok) return a.ok === b.ok;
  return JSON.stringify(a.value) === JSON.stringify(b.value);
}

function describe(values: Map<string, RefValue>): string {
  return JSON.stringify(Object.fromEntries([...values].map(([k, v]) => [k, v.ok ? v.value : `error: ${v.error}`])));
}

test('compiled evaluator agrees with the reference interpreter on random rules and histories', () => {
  fc.assert(
    fc.property(ruleSet, fc.array(event, { maxLength: 12 }), contact, fc.integer({ min: -2, max: 4 }), (rules, events, c, shift) => {
      const sources = inlineSources(rules);
      const rs = RuleSet.compile(sources);
      const now = NOW + shift * HALF_HOUR;
      const mine = compiledAt(rs, c, events, now);
      const ref = referenceEvaluate(sources, c, events, now);
      for (const name of ref.keys()) {
        if (!same(mine.values.get(name), ref.get(name))) {
          throw new Error(
            `${name} differs at now=${now}\nrules: ${JSON.stringify(rules)}\nevents: ${JSON.stringify(events)}\ncompiled:  ${describe(mine.values)}\nreference: ${describe(ref)}`,
          );
        }
      }
    }),
    { numRuns: 400 },
  );
});

test("no answer changes before its segment's next-change time (checked against the reference just before it)", () => {
  fc.assert(
    fc.property(ruleSet, fc.array(event, { maxLength: 10 }), contact, fc.integer({ min: 1, max: 999 }), (rules, events, c, frac) => {
      const sources = inlineSources(rules);
      const rs = RuleSet.compile(sources);
      const { next, segmentNext } = compiledAt(rs, c, events, NOW);
      expect(next).toBe(Math.min(...segmentNext.values()));
      const base = referenceEvaluate(sources, c, events, NOW);
      for (const [name, own] of segmentNext) {
        const horizon = Math.min(own, NOW + 200 * HALF_HOUR);
        for (const at of [horizon - 1, NOW + Math.floor(((horizon - NOW) * frac) / 1000)]) {
          if (at <= NOW) continue;
          const later = referenceEvaluate(sources, c, events, at);
          if (!same(base.get(name), later.get(name))) {
            throw new Error(
              `${name} changed at ${at - NOW} ms, before its promised next change ${own - NOW} ms\nnow:   ${describe(base)}\nlater: ${describe(later)}`,
            );
          }
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('the next change shown per segment is exact: the same answer just before it, a different one at it', () => {
  fc.assert(
    fc.property(ruleSet, fc.array(event, { maxLength: 10 }), contact, fc.integer({ min: 1, max: 999 }), (rules, events, c, frac) => {
      const sources = inlineSources(rules);
      const rs = RuleSet.compile(sources);
      const cols = columnsFromEvents(rs.plan, events);
      const changes = nextChanges(rs, (t) => rs.evaluate(c, cols, 0, events.length, t), NOW);
      const base = referenceEvaluate(sources, c, events, NOW);
      const stored = (values: Map<string, RefValue>, i: number): unknown => {
        const v = values.get(rs.segments[i]!.name)!;
        return JSON.stringify(rs.stored(i, v.ok ? v.value : new FailedValue(new RuleEvalError(v.error))));
      };
      changes.forEach((n, i) => {
        if (n.kind !== 'exact') return;
        const horizon = n.at ?? NOW + 400 * HALF_HOUR;
        for (const at of [horizon - 1, NOW + Math.floor(((horizon - NOW) * frac) / 1000)]) {
          if (at <= NOW) continue;
          const later = referenceEvaluate(sources, c, events, at);
          if (stored(later, i) !== stored(base, i))
            throw new Error(`${n.segment} changed at +${at - NOW} ms, before its shown next change ${n.at === undefined ? 'never' : `+${n.at - NOW} ms`}`);
        }
        if (n.at !== undefined && stored(referenceEvaluate(sources, c, events, n.at), i) === stored(base, i)) {
          throw new Error(`${n.segment} did not change at its shown next change +${n.at - NOW} ms`);
        }
      });
    }),
    { numRuns: 200 },
  );
});
