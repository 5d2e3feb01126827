/**
 * The generated rule-set function against compile.ts's closures: on random rule sets (every construct
 * rules use, plus some the generator leaves to closures), random contacts, histories and times, both
 * give the same values, the same failures (with the same message), the same per-segment next-change
 * times and the same wake-up, contact after contact on one reused evaluation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseConfig } from '../../../src/config/load';
import { AggregatePlan } from '../../../src/rules/aggregates';
import { checkRules } from '../../../src/rules/check';
import { FailedValue } from '../../../src/rules/context';
import type { ContactView } from '../../../src/rules/context';
import { columnsFromEvents } from '../../../src/rules/event-cache';
import { generateRuleSet } from '../../../src/rules/generate';
import { RuleSet, inlineSources, sourcesFromConfig } from '../../../src/rules/ruleset';
import type { RefEvent } from './reference';

const HALF_HOUR = 1_800_000;
const NOW = Date.UTC(2026, 4, 1, 12, 0, 0);

const E = fc.constantFrom('"A"', '"B"', '"C"');
const W = fc.constantFrom('30m', '1h', '2h', '24h');
const N = fc.integer({ min: 0, max: 3 }).map(String);
const D = fc.constantFrom('0.0', '10.0', '19.99', '20.09', '-2.5');
const F = fc.constantFrom('{"category": "x"}', '{"category": ["x", 1]}', '{"category": "y", "flag": true}');
const OP = fc.constantFrom('<', '<=', '>', '>=', '==', '!=');
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<string> =>
  fc
    .option(
      a.map((x) => `, ${String(x)}`),
      { nil: '' },
    )
    .map((x) => x ?? '');

/** Expressions by CEL type; `refs` are segments of that type a rule may read. */
function grammar(refs: { bool: string[]; int: string[]; double: string[]; string: string[] }): {
  bool: fc.Arbitrary<string>;
  int: fc.Arbitrary<string>;
  str: fc.Arbitrary<string>;
} {
  const ref = (names: string[]): fc.Arbitrary<string>[] => (names.length ? [fc.constantFrom(...names).map((s) => `segments.${s}`)] : []);
  const dur = fc.oneof(
    W,
    E.map((e) => `since(${e})`),
    fc.constant('now - created_at'),
    fc.tuple(E, opt(W)).map(([e, w]) => `now - last(${e}${w})`),
    fc.tuple(E, W).map(([e, w]) => `(${w} + since(${e}))`),
    fc.tuple(E, W).map(([e, w]) => `(since(${e}) - ${w})`),
  );
  const time = fc.oneof(
    fc.tuple(fc.constantFrom('first', 'last'), E, opt(W), opt(F)).map(([fn, e, w, f]) => `${fn}(${e}${w}${f})`),
    W.map((w) => `now - ${w}`),
    fc.constant('created_at'),
    fc.constant('timestamp("2026-05-01T11:00:00Z")'),
  );
  const tree = fc.letrec<{ bool: string; int: string; double: string; str: string }>((tie) => ({
    int: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      N,
      fc.tuple(E, opt(W), opt(F)).map(([e, w, f]) => `count(${e}${w}${f})`),
      fc.tuple(E, W, W).map(([e, w1, w2]) => `tier(since(${e}), [${w1}, ${w2}])`),
      fc.tuple(E, W, W).map(([e, w1, w2]) => `tier_strict(now - last(${e}), [${w1}, ${w2}])`),
      fc.tuple(E, W).map(([e, w]) => `tier(count(${e}, ${w}), [1, 2, 3])`),
      fc.tuple(E, E, W, opt(F)).map(([e, y, w, f]) => `count_since(${e}, first(${y}, ${w})${f})`),
      fc.constant('size(tags)'),
      ...ref(refs.int),
      fc.tuple(tie('int'), tie('int')).map(([a, b]) => `(${a} + ${b})`),
      fc.tuple(tie('int'), tie('int')).map(([a, b]) => `(${a} - ${b})`),
      fc.tuple(tie('int'), tie('int')).map(([a, b]) => `(${a} * ${b})`),
      fc.tuple(tie('int'), tie('int')).map(([a, b]) => `(${a} / ${b})`),
      tie('int').map((a) => `-(${a})`),
      fc.tuple(tie('bool'), tie('int'), tie('int')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    ),
    double: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      D,
      fc.tuple(E, opt(W), opt(F)).map(([e, w, f]) => `sum(${e}, "value"${w}${f})`),
      fc.tuple(fc.constantFrom('avg', 'max', 'min'), E, opt(W)).map(([fn, e, w]) => `${fn}(${e}, "value"${w})`),
      fc.tuple(opt(fc.tuple(W, opt(fc.constantFrom('30m', '1h')))).map((x) => x.replace(',,', ','))).map(([wh]) => `score({"A": 1, "B": 2.5}${wh})`),
      fc.constant('double(contact.score)'),
      // Infinity and NaN: comparisons must treat them as the closures do.
      fc.constantFrom('(1e308 * 10.0)', '(1e308 * 10.0 - 1e308 * 10.0)'),
      ...ref(refs.double),
      fc.tuple(tie('double'), tie('double')).map(([a, b]) => `(${a} + ${b})`),
      fc.tuple(tie('double'), tie('double')).map(([a, b]) => `(${a} - ${b})`),
      fc.tuple(tie('double'), tie('double')).map(([a, b]) => `(${a} * ${b})`),
      fc.tuple(tie('bool'), tie('double'), tie('double')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    ),
    str: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom('"x"', '""', '"\\u2028\\"quoted\\""', 'consent', 'email'),
      tie('int').map((a) => `string(${a})`),
      tie('double').map((a) => `string(${a})`),
      time.map((t) => `string(${t})`),
      dur.map((d) => `string(${d})`),
      fc.constant('string(contact.country)'),
      ...ref(refs.string),
      fc.tuple(tie('str'), tie('str')).map(([a, b]) => `(${a} + ${b})`),
      fc.tuple(tie('bool'), tie('str'), tie('str')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    ),
    bool: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom('true', 'false'),
      fc.tuple(E, opt(W), opt(F)).map(([e, w, f]) => `exists(${e}${w}${f})`),
      fc.tuple(fc.constantFrom('after', 'after_strict'), E, E).map(([fn, x, y]) => `${fn}(${x}, ${y})`),
      fc.tuple(fc.constantFrom('within', 'none_within', 'within_strict', 'none_within_strict'), E, W, E).map(([fn, x, w, y]) => `${fn}(${x}, ${w}, ${y})`),
      fc.tuple(tie('int'), OP, tie('int')).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(tie('double'), OP, tie('double')).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(dur, OP, dur).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(time, OP, time).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(tie('str'), OP, tie('str')).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(tie('int'), fc.constantFrom('[]', '[0, 2]', '[1, 3, 5]')).map(([a, l]) => `${a} in ${l}`),
      fc.constantFrom(
        'consent in ["unsubscribed", "cleaned"]',
        'consent == "subscribed"',
        '"vip" in tags',
        '!("newsletter" in tags)',
        'contact.country in ["DE", "AT", "CH"]',
        'contact.country == "DE"',
        'contact.plan == "pro"',
        'has(contact.country)',
        'contact.score > 1.5',
        'contact.score == 2',
        'contact["country"] == "DE"',
        'tags.exists(t, t == "vip")',
        'email.endsWith("@example.com")',
        'email.contains("example")',
        '"subscribed".startsWith(consent)',
        'email.matches("^p")',
        'email.lowerAscii() == email',
        'now.getHours() > 11',
        'dyn(contact.score) == "high"',
      ),
      ...ref(refs.bool),
      fc.tuple(tie('bool'), tie('bool')).map(([a, b]) => `(${a} && ${b})`),
      fc.tuple(tie('bool'), tie('bool')).map(([a, b]) => `(${a} || ${b})`),
      tie('bool').map((a) => `!(${a})`),
      fc.tuple(tie('bool'), tie('bool'), tie('bool')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    ),
  }));
  return { bool: tree.bool, int: tree.int, str: tree.str };
}

const base = grammar({ bool: [], int: [], double: [], string: [] });
const reading = grammar({ bool: ['b0', 'b1'], int: ['n0'], double: ['d0'], string: ['s0'] });

/** Rules that read others come first in the file: evaluation follows dependencies, not the file. */
export const ruleSetForSampling = fc
  .tuple(
    reading.bool,
    reading.str,
    base.bool,
    base.bool,
    base.int,
    reading.int.map((x) => `${x} + 0`),
    base.str,
    reading.bool,
  )
  .map(([b2, s1, b0, b1, n0, n1, s0, b3]) => ({
    b2,
    s1: { rule: s1, type: 'value' as const },
    b0,
    b1,
    n0: { rule: n0, type: 'value' as const },
    n1: { rule: n1, type: 'value' as const },
    d0: { rule: 'sum("A", "value", 2h)', type: 'value' as const },
    s0: { rule: s0, type: 'value' as const },
    b3,
    moving: { rule: 'now - created_at', type: 'value' as const },
  }));
const ruleSet = ruleSetForSampling;

const property = fc.constantFrom<unknown>(undefined, 10, 0.1, 19.99, '5.50', 'abc', true, 20, null);
const event: fc.Arbitrary<RefEvent> = fc
  .tuple(
    fc.constantFrom('A', 'B', 'C'),
    fc.integer({ min: -60, max: 6 }),
    fc.integer({ min: -2, max: 2 }),
    property,
    fc.constantFrom<unknown>(undefined, 'x', 'y', 1),
    fc.boolean(),
  )
  .map(([name, k, ms, value, category, flag]) => {
    const properties: RefEvent['properties'] = {};
    if (value !== undefined) properties.value = value as number;
    if (category !== undefined) properties.category = category as string;
    if (flag) properties.flag = true;
    return { name, time: NOW + k * HALF_HOUR + ms, properties };
  });

const contact: fc.Arbitrary<ContactView> = fc
  .tuple(
    fc.constantFrom<unknown>('DE', 'FR', 'CH', undefined, 1, null),
    fc.constantFrom<unknown>(undefined, 'pro', 'free'),
    fc.subarray(['vip', 'newsletter']),
    fc.constantFrom('subscribed', 'unsubscribed', 'cleaned', ''),
    fc.integer({ min: -10, max: 0 }),
    fc.constantFrom<unknown>(undefined, 2, 'high', 1.5, null),
    fc.constantFrom('p@example.com', 'q@other.org'),
  )
  .map(([country, plan, tags, consent, created, score, email]) => ({
    id: 1,
    email,
    properties: {
      ...(country !== undefined ? { country: country as string } : {}),
      ...(plan !== undefined ? { plan: plan as string } : {}),
      ...(score !== undefined ? { score: score as number } : {}),
    },
    tags,
    consent,
    createdAt: NOW + created * HALF_HOUR,
  }));

/** A value as a comparable string: failures by message, numbers exactly (-0, NaN, Infinity kept apart). */
function show(v: unknown): string {
  if (v instanceof FailedValue) return `failed: ${v.error.message}`;
  if (typeof v === 'number') return Object.is(v, -0) ? 'num:-0' : `num:${String(v)}`;
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${show(x)}`)
      .join(', ')}}`;
  return `${typeof v}:${String(v)}`;
}

/** One contact's answers, as comparable text. */
function answers(rs: RuleSet, c: ContactView, events: RefEvent[], now: number): string {
  const cols = columnsFromEvents(rs.plan, events);
  const ev = rs.evaluate(c, cols, 0, events.length, now, true);
  const lines = rs.segments.map((s, i) => `${s.name} = ${show(ev.values[i])}, next ${ev.segmentNext[i]! - NOW}`);
  return [...lines, `wake-up ${ev.nextChangeAt - NOW}`].join('\n');
}

test('the generated rule set and the closures give the same values, failures and next-change times', () => {
  let compiled = 0;
  fc.assert(
    fc.property(
      ruleSet,
      fc.array(fc.tuple(contact, fc.array(event, { maxLength: 10 }), fc.integer({ min: -2, max: 4 }), fc.integer({ min: -3, max: 3 })), {
        minLength: 1,
        maxLength: 3,
      }),
      (rules, cases) => {
        const sources = inlineSources(rules);
        const generated = RuleSet.compile(sources);
        const closures = RuleSet.compile(sources, undefined, { closuresOnly: true });
        compiled++;
        for (const [c, events, shift, ms] of cases) {
          const now = NOW + shift * HALF_HOUR + ms;
          const mine = answers(generated, c, events, now);
          const theirs = answers(closures, c, events, now);
          if (mine !== theirs) {
            throw new Error(
              `differs at now=${now - NOW}\nrules: ${JSON.stringify(rules)}\ncontact: ${JSON.stringify(c)}\nevents: ${JSON.stringify(events)}\ngenerated:\n${mine}\nclosures:\n${theirs}`,
            );
          }
        }
      },
    ),
    { numRuns: 500 },
  );
  expect(compiled).toBe(500);
});

function shippedSources(): ReturnType<typeof sourcesFromConfig> {
  const file = join(__dirname, '../../../templates/segsync.yaml');
  const loaded = parseConfig(readFileSync(file, 'utf8'), file, { env: {}, secrets: { connectors: false, daemon: false } });
  // The two rules the rules benchmark adds to the example's.
  const extra = {
    avg_order_100: 'exists("Placed Order", 365d) && avg("Placed Order", "value", 365d) > 100.0',
    recent_clicker: 'exists("Clicked Email") && since("Clicked Email") < 7d',
  };
  return [...sourcesFromConfig(loaded), ...inlineSources(extra, 'bench')];
}

const DAY = 86_400_000;
const shippedEvent: fc.Arbitrary<RefEvent> = fc
  .tuple(
    fc.constantFrom('Placed Order', 'Added to Cart', 'Viewed Product', 'Opened Email', 'Clicked Email'),
    fc.integer({ min: -400 * DAY, max: DAY }),
    fc.constantFrom<unknown>(undefined, 99.99, 500, 1000.0, 'n/a'),
    fc.constantFrom<unknown>(undefined, 'shoes', 'boots', 'hats'),
  )
  .map(([name, dt, value, category]) => ({
    name,
    time: NOW + dt,
    properties: { ...(value !== undefined ? { value: value as number } : {}), ...(category !== undefined ? { category: category as string } : {}) },
  }));

test('the shipped rules are generated whole, and agree with the closures on random contacts', () => {
  const sources = shippedSources();
  const generated = RuleSet.compile(sources);
  const closures = RuleSet.compile(sources, undefined, { closuresOnly: true });
  expect(generated.closureNodes).toEqual(generated.segments.map(() => 0));
  fc.assert(
    fc.property(contact, fc.array(shippedEvent, { maxLength: 25 }), fc.integer({ min: -2 * DAY, max: 2 * DAY }), (c, events, dt) => {
      expect(answers(generated, c, events, NOW + dt)).toBe(answers(closures, c, events, NOW + dt));
    }),
    { numRuns: 500 },
  );
});

test('a failing rule fails only its own segment, and a segment reading it; the others keep their answers', () => {
  const rs = RuleSet.compile(
    inlineSources({
      avg_a: { rule: 'avg("A", "value")', type: 'value' },
      reads_it: 'segments.avg_a > 1.0',
      absorbs_it: 'segments.avg_a > 1.0 || count("A") == 0',
      counts: { rule: 'count("B")', type: 'value' },
    }),
  );
  const c: ContactView = { id: 1, email: 'p@example.com', properties: {}, tags: [], consent: 'subscribed', createdAt: NOW - DAY };
  const events: RefEvent[] = [{ name: 'B', time: NOW - 1000, properties: {} }];
  const ev = rs.evaluate(c, columnsFromEvents(rs.plan, events), 0, events.length, NOW);
  expect(ev.values.map(show)).toEqual(['failed: no "A" event with "value"', 'failed: no "A" event with "value"', 'boolean:true', 'num:1']);
  expect(rs.closureNodes).toEqual([0, 0, 0, 0]);
});

test('constructs the generator leaves out run as closures inside the generated function', () => {
  const rs = RuleSet.compile(inlineSources({ r: 'count("A") / 1 >= 1 && tags.exists(t, t == "vip")', s: '"vip" in tags && count("A") * 2 >= 1' }));
  expect(rs.closureNodes).toEqual([2, 0]);
  const c: ContactView = { id: 1, email: 'p@example.com', properties: {}, tags: ['vip'], consent: 'subscribed', createdAt: NOW - DAY };
  const events: RefEvent[] = [{ name: 'A', time: NOW - HALF_HOUR, properties: {} }];
  expect(rs.evaluate(c, columnsFromEvents(rs.plan, events), 0, 1, NOW).values).toEqual([true, true]);
});

test('a large rule set is split into several functions, and segments read answers across them', () => {
  const rules: Record<string, string | { rule: string; type: 'value' }> = {};
  for (let i = 0; i < 40; i++) {
    const reads = i === 0 ? '' : ` && (segments.r${i - 1} || segments.v${Math.max(0, i - 15)} == "b")`;
    rules[`r${i}`] = `(count("A", ${i + 1}h) >= ${i % 3} || avg("B", "value") > ${i}.5 || now - created_at < ${i}h)${reads}`;
    rules[`v${i}`] = {
      rule: `exists("A", ${i + 1}h) ? "a" : exists("B", 24h) ? "b" : since("C") < ${i + 1}h ? "c" : tier(count("A"), [${i}, ${i + 1}]) == 2 ? "d" : string(count("C"))`,
      type: 'value',
    };
  }
  const sources = inlineSources(rules);
  const { rules: checked } = checkRules(sources);
  const { source } = generateRuleSet(checked, {
    plan: new AggregatePlan(),
    segmentIndex: new Map(checked.map((r, i) => [r.source.segment, i])),
    locate: (r, n) => r.source.locate(n.start),
  });
  expect(source).toContain('function chunk2(c)');
  const generated = RuleSet.compile(sources);
  const closures = RuleSet.compile(sources, undefined, { closuresOnly: true });
  fc.assert(
    fc.property(contact, fc.array(event, { maxLength: 10 }), fc.integer({ min: -4, max: 4 }), (c, events, shift) => {
      expect(answers(generated, c, events, NOW + shift * HALF_HOUR)).toBe(answers(closures, c, events, NOW + shift * HALF_HOUR));
    }),
    { numRuns: 200 },
  );
});

test('text from rules reaches the generated source only as string literals', () => {
  const hostile = '"); throw new Error("injected"); ("\u2028${x}*/\\';
  const rs = RuleSet.compile(
    inlineSources({
      prop: `contact.plan == ${JSON.stringify(hostile)} && !exists(${JSON.stringify(hostile)}, {"category": ${JSON.stringify(hostile)}})`,
      text: { rule: `${JSON.stringify(hostile)} + string(count(${JSON.stringify(hostile)}))`, type: 'value' },
    }),
  );
  const c: ContactView = { id: 1, email: 'p@example.com', properties: { plan: hostile }, tags: [], consent: 'subscribed', createdAt: NOW - DAY };
  const ev = rs.evaluate(c, columnsFromEvents(rs.plan, []), 0, 0, NOW);
  expect(ev.values).toEqual([true, `${hostile}0`]);
});
