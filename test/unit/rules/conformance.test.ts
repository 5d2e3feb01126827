/**
 * The part of CEL's official conformance suite (from @bufbuild/cel-spec) that segment rules support:
 * expressions without bindings, custom types or containers whose expected result is a scalar or an
 * error. Each one runs through segsync's checker and compiler; expressions the subset does not
 * support are rejected at compile time (never silently mis-evaluated). Known, documented divergences
 * are listed with their reason.
 */
import { getConformanceSuite } from '@bufbuild/cel-spec/testdata/tests.js';
import type { IncrementalTest, IncrementalTestSuite } from '@bufbuild/cel-spec/testdata/tests.js';
import { FailedValue } from '../../../src/rules/context';
import { RuleSet, inlineSources } from '../../../src/rules/ruleset';
import { columnsFromEvents } from '../../../src/rules/event-cache';

const SUITES = ['basic', 'comparisons', 'conversions', 'fp_math', 'integer_math', 'lists', 'logic', 'macros', 'string', 'parse', 'plumbing'];

/** Conformance cases segsync answers differently on purpose, with why. */
const DIVERGENCES: Record<string, string> = {};

type Expected = { kind: 'value'; value: unknown } | { kind: 'error' };

function expected(t: IncrementalTest): Expected | undefined {
  const m = t.original.resultMatcher;
  if (m.case === 'evalError') return { kind: 'error' };
  if (m.case !== 'value' || !m.value.kind) return undefined;
  const k = m.value.kind;
  switch (k.case) {
    case 'int64Value':
    case 'uint64Value':
      return Number.isSafeInteger(Number(k.value)) ? { kind: 'value', value: Number(k.value) } : undefined;
    case 'doubleValue':
    case 'stringValue':
    case 'boolValue':
      return { kind: 'value', value: k.value };
    case 'nullValue':
      return { kind: 'value', value: null };
    default:
      return undefined;
  }
}

function* cases(suite: IncrementalTestSuite, path: string): IterableIterator<[string, IncrementalTest]> {
  for (const t of suite.tests) yield [`${path}/${t.name}`, t];
  for (const s of suite.suites) yield* cases(s, `${path}/${s.name}`);
}

function selected(): [string, IncrementalTest, Expected][] {
  const out: [string, IncrementalTest, Expected][] = [];
  for (const s of getConformanceSuite().suites) {
    if (!SUITES.includes(s.name)) continue;
    for (const [name, t] of cases(s, s.name)) {
      const o = t.original;
      if (o.typeEnv.length || Object.keys(o.bindings).length || o.container || o.disableMacros || o.checkOnly || o.disableCheck) continue;
      const e = expected(t);
      if (e) out.push([name, t, e]);
    }
  }
  return out;
}

function run(expr: string): { compiled: false } | { compiled: true; ok: boolean; value?: unknown } {
  let rs: RuleSet;
  try {
    rs = RuleSet.compile(inlineSources({ t: { rule: expr, type: 'value' } }));
  } catch {
    return { compiled: false };
  }
  const contact = { id: 1, email: 'c@example.com', properties: {}, tags: [], consent: '', createdAt: 0 };
  const ev = rs.evaluate(contact, columnsFromEvents(rs.plan, []), 0, 0, Date.UTC(2026, 0, 1));
  const v = ev.values[0];
  return v instanceof FailedValue ? { compiled: true, ok: false } : { compiled: true, ok: true, value: v };
}

const same = (a: unknown, b: unknown): boolean =>
  (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)) || JSON.stringify(a) === JSON.stringify(b);

test('segsync agrees with the CEL conformance suite on every case of its subset it compiles', () => {
  const mismatches: string[] = [];
  let passed = 0;
  let unsupported = 0;
  for (const [name, t, exp] of selected()) {
    const r = run(t.original.expr);
    if (!r.compiled) {
      unsupported++;
      continue;
    }
    const good = exp.kind === 'error' ? !r.ok : r.ok && same(r.value, exp.value);
    if (good) passed++;
    else if (!DIVERGENCES[name])
      mismatches.push(
        `${name}: ${t.original.expr} → ${r.ok ? JSON.stringify(r.value) : 'error'}, expected ${exp.kind === 'error' ? 'error' : JSON.stringify(exp.value)}`,
      );
  }
  expect(mismatches).toEqual([]);
  expect(passed).toBeGreaterThan(300);
  expect(unsupported).toBeLessThan(passed);
});
