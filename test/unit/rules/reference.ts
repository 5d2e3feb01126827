/**
 * The reference interpreter: cel-js's own evaluator with segsync's event functions written the
 * plainest way (filter the contact's whole history on every call, add money with BigInt). Slow and
 * obviously correct; the compiled evaluator must agree with it.
 */
import { Duration } from '@marcbachmann/cel-js/evaluator';
import { checkRules, createEnvironment } from '../../../src/rules/check';
import type { RuleSource } from '../../../src/rules/check';
import type { ContactView } from '../../../src/rules/context';
import type { EventProperties } from '../../../src/model/types';

export interface RefEvent {
  name: string;
  time: number;
  properties: EventProperties;
}

/** A reference result: a value (numbers for int/double/timestamp/duration) or an error. */
export type RefValue = { ok: true; value: unknown } | { ok: false; error: string };

let current: { events: RefEvent[]; now: number } = { events: [], now: 0 };

const ms = (d: unknown): number => (d instanceof Duration ? d.valueOf() : Number(d));

function micros(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.round(v * 1e6));
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return BigInt(Math.round(Number(v) * 1e6));
  return undefined;
}

function matches(e: RefEvent, filter: Record<string, unknown> | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([k, allowed]) => {
    if (!Object.hasOwn(e.properties, k)) return false;
    const v = e.properties[k];
    const list = Array.isArray(allowed) ? allowed : [allowed];
    return list.some((a) => (typeof a === 'bigint' ? typeof v === 'number' && v === Number(a) : a === v));
  });
}

/** Splits event-function arguments by role (durations are windows, maps are filters). */
function parts(args: unknown[]): {
  strings: string[];
  window: number;
  filter: Record<string, unknown> | undefined;
  durations: number[];
  map: Record<string, unknown> | undefined;
} {
  const strings = args.filter((a): a is string => typeof a === 'string');
  const durations = args.filter((a) => a instanceof Duration).map(ms);
  const map = args.find((a) => a !== null && typeof a === 'object' && !(a instanceof Duration) && !(a instanceof Date)) as Record<string, unknown> | undefined;
  return { strings, window: durations[0] ?? Infinity, filter: map, durations, map };
}

function impl(fn: string, args: unknown[]): unknown {
  const { events, now } = current;
  const past = events.filter((e) => e.time <= now);
  const p = parts(args);
  const inWindow = (e: RefEvent): boolean => e.time > now - p.window;
  const named = (name: string): RefEvent[] => past.filter((e) => e.name === name);
  const selected = (): RefEvent[] =>
    named(p.strings[0]!)
      .filter(inWindow)
      .filter((e) => matches(e, p.filter));
  const values = (): bigint[] =>
    selected()
      .map((e) => micros(e.properties[p.strings[1]!]))
      .filter((v): v is bigint => v !== undefined);
  const none = (): never => {
    throw new Error(`no "${p.strings[0]}" event`);
  };
  switch (fn) {
    case 'count':
      return BigInt(selected().length);
    case 'exists':
      return selected().length > 0;
    case 'sum':
      return Number(values().reduce((a, b) => a + b, 0n)) / 1e6;
    case 'avg': {
      const v = values();
      return v.length ? Number(v.reduce((a, b) => a + b, 0n)) / 1e6 / v.length : none();
    }
    case 'max':
    case 'min': {
      const v = values();
      if (!v.length) return none();
      return Number(v.reduce((a, b) => ((fn === 'max' ? b > a : b < a) ? b : a))) / 1e6;
    }
    case 'first':
    case 'last':
    case 'since': {
      const times = named(p.strings[0]!)
        .filter((e) => matches(e, p.filter))
        .filter(inWindow)
        .map((e) => e.time);
      if (!times.length) return none();
      const t = fn === 'first' ? Math.min(...times) : Math.max(...times);
      return fn === 'since' ? Duration.fromMilliseconds(now - t) : new Date(t);
    }
    case 'count_since':
    case 'count_since_strict': {
      const from = (args[1] as Date).getTime();
      return BigInt(
        named(p.strings[0]!)
          .filter((e) => matches(e, p.filter))
          .filter((e) => (fn === 'count_since' ? e.time >= from : e.time > from)).length,
      );
    }
    case 'after':
    case 'within':
    case 'none_within':
    case 'after_strict':
    case 'within_strict':
    case 'none_within_strict': {
      const [x, y] = p.strings as [string, string];
      const ys = named(y).map((e) => e.time);
      if (!ys.length) return false;
      const lastY = Math.max(...ys);
      const strict = fn.endsWith('_strict');
      const xs = named(x)
        .map((e) => e.time)
        .filter((t) => (strict ? t > lastY : t >= lastY));
      if (fn.startsWith('after')) return xs.length > 0;
      const hit = xs.some((t) => t <= lastY + p.window);
      if (fn.startsWith('within')) return hit;
      return now >= lastY + p.window && !hit;
    }
    case 'score': {
      const points = p.map!;
      const half = p.durations[1] ?? Infinity;
      let total = 0;
      for (const e of past) {
        if (!Object.hasOwn(points, e.name) || !inWindow(e)) continue;
        const steps = half === Infinity ? 0 : Math.floor((now - e.time) / half);
        total += Number(points[e.name]) * Math.pow(0.5, steps);
      }
      return total;
    }
    case 'tier':
    case 'tier_strict': {
      const x = args[0];
      const list = args[1] as unknown[];
      const num = (v: unknown): number | string => (v instanceof Duration ? v.valueOf() : typeof v === 'bigint' ? Number(v) : (v as number | string));
      let t = 1;
      for (const th of list) if (fn === 'tier' ? num(x) >= num(th) : num(x) > num(th)) t++;
      return BigInt(t);
    }
    case 'string':
      // CEL's forms: RFC 3339 in UTC without zero milliseconds, durations in seconds.
      return args[0] instanceof Duration ? `${args[0].valueOf() / 1000}s` : (args[0] as Date).toISOString().replace('.000Z', 'Z');
    default:
      throw new Error(`reference: unknown function ${fn}`);
  }
}

const env = createEnvironment(impl);

/** A cel-js value in the compiled evaluator's representation. */
export function normalise(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime();
  if (v instanceof Duration) return v.valueOf();
  if (Array.isArray(v)) return v.map(normalise);
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [k, normalise(x)]));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}

/** Evaluates rule sources for one contact at `now`, segment by segment in dependency order. */
export function referenceEvaluate(sources: RuleSource[], contact: ContactView, events: RefEvent[], now: number): Map<string, RefValue> {
  const { rules } = checkRules(sources);
  const out = new Map<string, RefValue>();
  const raw: Record<string, unknown> = {};
  const types: Record<string, string> = {};
  current = { events, now };
  for (const rule of rules) {
    // A segment read from another rule: a function that returns its value or fails with its error,
    // so CEL's error absorption (true || error) applies as it does to any other sub-expression.
    const e = env.clone({ homogeneousAggregateLiterals: false });
    for (const r of rule.references) {
      const v = out.get(r)!;
      e.registerFunction(`seg_${r}(): ${types[r]!}`, () => {
        if (!v.ok) throw new Error(v.error);
        return raw[r];
      });
    }
    try {
      // Missing properties read as null, and has(contact.p) means "p is set and not null".
      const text = rule.rewritten.text
        .replace(/segments\.([A-Za-z_][A-Za-z0-9_]*)/g, 'seg_$1()')
        .replace(/has\(contact\.([A-Za-z_][A-Za-z0-9_]*)\)/g, '(contact.$1 != null)');
      const value = e.evaluate(text, {
        contact: nullFilled(contact.properties, rule.properties),
        email: contact.email,
        tags: contact.tags,
        consent: contact.consent,
        created_at: new Date(contact.createdAt),
        now: new Date(now),
      });
      raw[rule.source.segment] = value;
      out.set(rule.source.segment, { ok: true, value: normalise(value) });
    } catch (err) {
      out.set(rule.source.segment, { ok: false, error: (err as Error).message });
    }
    types[rule.source.segment] = rule.type;
  }
  return out;
}

/** Known properties a contact lacks read as null (segsync's documented choice). */
function nullFilled(props: Record<string, unknown>, read: Set<string> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { ...props };
  for (const k of read ?? []) if (!Object.hasOwn(out, k)) out[k] = null;
  return out;
}
