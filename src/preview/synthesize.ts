/**
 * `--cover`: scenarios generated to reach every branch. Static analysis gives the variables each
 * condition reads and the literals they are compared with; each variable gets boundary values (equal,
 * different, just above/below, missing, '', 0, [], "false"); then a greedy search renders variations of
 * the scenarios found so far until every branch is reached or the render budget is spent.
 */
import type { FieldValue } from '../model/types';
import type { ConditionUse, TemplateAnalysis } from './dialects/dialect';
import type { Scenario } from './scenarios';
import { emptyScenario } from './scenarios';

const SAMPLE_ITEM: Record<string, FieldValue> = {
  name: 'Sample product',
  title: 'Sample product',
  product_name: 'Sample product',
  price: 24.5,
  quantity: 1,
  url: 'https://example.com/p/1',
  image_url: 'https://example.com/p/1.png',
};

/** Values worth trying for one variable, from the ways the template tests it. */
export function candidateValues(uses: ConditionUse[]): FieldValue[] {
  const out: FieldValue[] = [];
  const add = (v: FieldValue): void => {
    if (!out.some((x) => JSON.stringify(x) === JSON.stringify(v))) out.push(v);
  };
  for (const u of uses) {
    const v = u.value;
    switch (u.op) {
      case '==':
      case '!=':
        if (v !== undefined) add(v);
        if (typeof v === 'number') add(v + 1);
        else if (typeof v === 'string') add(v ? `not ${v}` : 'x');
        else if (typeof v === 'boolean') add(!v);
        break;
      case '>':
      case '<':
      case '>=':
      case '<=':
        if (typeof v === 'number') {
          add(v + 1);
          add(v);
          add(v - 1);
        } else if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) {
          add(String(Number(v) + 1));
          add(v);
          add(String(Number(v) - 1));
        }
        break;
      case 'contains':
      case 'in':
        if (v !== undefined) {
          add([v]);
          add(typeof v === 'string' ? `${v};other` : [v]);
          add([]);
        }
        break;
      default:
        break;
    }
  }
  for (const v of [
    true,
    [
      SAMPLE_ITEM,
      { ...SAMPLE_ITEM, name: 'Second product', title: 'Second product', price: 9.99 },
      { ...SAMPLE_ITEM, name: 'Third product', title: 'Third product', price: 120 },
    ],
    [SAMPLE_ITEM],
    'Sample',
    '',
    0,
    [],
    'false',
    false,
    null,
  ] as FieldValue[])
    add(v);
  return out;
}

/** Lists whose items carry every value the loop body tests: all variants together, each alone, none. */
function listCandidates(fields: Map<string, ConditionUse[]>): FieldValue[] {
  const perField = [...fields].map(([field, uses]) => ({ field, values: candidateValues(uses) }));
  const n = Math.max(2, ...perField.map((f) => f.values.length));
  const variants = Array.from(
    { length: n },
    (_, k) => perField.reduce<Record<string, unknown>>((item, f) => setPath(item, f.field, f.values[k % f.values.length]), { ...SAMPLE_ITEM }) as FieldValue,
  );
  return [variants, ...variants.map((v) => [v]), []];
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  const root: Record<string, unknown> = structuredClone(obj);
  let cur = root;
  keys.forEach((k, i) => {
    if (i === keys.length - 1) cur[k] = value;
    else {
      const next = cur[k];
      cur[k] = next !== null && typeof next === 'object' && !Array.isArray(next) ? next : {};
      cur = cur[k] as Record<string, unknown>;
    }
  });
  return root;
}

function describe(v: FieldValue): string {
  if (Array.isArray(v)) return v.length && typeof v[0] === 'object' ? `[${v.length} item${v.length === 1 ? '' : 's'}]` : JSON.stringify(v);
  return JSON.stringify(v);
}

export interface CoverOptions {
  /** Renders a scenario and returns `blockId#branch` keys it reached. */
  reach(s: Scenario): Set<string>;
  now?: string | number;
  /** Upper bound on trial renders. */
  budget?: number;
}

/** Scenarios that together reach as many branches as the search can find within the budget. */
export function synthesizeScenarios(analysis: TemplateAnalysis, opts: CoverOptions): Scenario[] {
  const all = new Set(analysis.blocks.flatMap((b) => b.branches.map((_, i) => `${b.id}#${i}`)));
  const byPath = new Map<string, ConditionUse[]>();
  const itemFields = new Map<string, Map<string, ConditionUse[]>>();
  for (const c of analysis.conditions) {
    if (/^(forloop|loop|@|this\b)/.test(c.path)) continue;
    const at = c.path.indexOf('[]');
    if (at >= 0) {
      const collection = c.path.slice(0, at);
      const field = c.path.slice(at + 3);
      if (!byPath.has(collection)) byPath.set(collection, []);
      if (!field || field.includes('[]')) continue;
      const fields = itemFields.get(collection) ?? new Map<string, ConditionUse[]>();
      fields.set(field, [...(fields.get(field) ?? []), c]);
      itemFields.set(collection, fields);
      continue;
    }
    byPath.set(c.path, [...(byPath.get(c.path) ?? []), c]);
  }
  const printed = new Set(analysis.outputs.map((o) => o.path));
  const candidates = [...byPath].map(([path, uses]) => {
    const values = itemFields.has(path) ? listCandidates(itemFields.get(path)!) : candidateValues(uses);
    // A variable only tested for being set, and printed too, reads better as text than as "true" ("Hi true").
    return { path, values: printed.has(path) && values[0] === true ? ['Sample', ...values.filter((v) => v !== 'Sample')] : values };
  });
  const covered = new Set<string>();
  const kept: Scenario[] = [];
  let budget = opts.budget ?? 3000;
  const tryScenario = (s: Scenario): boolean => {
    budget--;
    const got = opts.reach(s);
    const fresh = [...got].filter((k) => !covered.has(k));
    if (!fresh.length) return false;
    fresh.forEach((k) => covered.add(k));
    kept.push(s);
    return true;
  };
  const base = emptyScenario(opts.now);
  const baseline: Scenario = {
    ...base,
    origin: 'cover',
    name: 'cover: everything set',
    context: candidates.reduce<Record<string, unknown>>((ctx, c) => setPath(ctx, c.path, c.values[0]), {}),
  };
  tryScenario(baseline);
  let progress = true;
  while (progress && covered.size < all.size && budget > 0) {
    progress = false;
    const seeds = [...kept, { ...base, origin: 'cover' as const, name: 'cover:', context: {} }];
    outer: for (const seed of seeds) {
      for (const c of candidates) {
        for (const v of c.values) {
          if (budget <= 0) break outer;
          const name = `${seed.name === 'cover: everything set' || seed.name === 'cover:' ? 'cover:' : `${seed.name},`} ${c.path}=${describe(v)}`;
          if (tryScenario({ ...seed, name: name.length > 120 ? `${name.slice(0, 117)}…` : name, context: setPath(seed.context, c.path, v) })) {
            progress = true;
            if (covered.size >= all.size) break outer;
          }
        }
      }
    }
  }
  return kept.map((s, i) => ({ ...s, name: kept.findIndex((k) => k.name === s.name) === i ? s.name : `${s.name} (${i + 1})` }));
}
