/**
 * Shared aggregates: every event function in every rule becomes an aggregate spec; equal specs are
 * merged, and one pass over a contact's events (sorted by time) computes all of them, each with
 * what it needs to say when it changes by the clock alone (an event leaving a window, a score
 * halving, a future-dated event arriving). The pass is generated per plan (pass.ts): it is the hot
 * loop of a full recompute.
 */
import { compilePass } from './pass';
import type { Pass } from './pass';

export type AggKind = 'count' | 'sum' | 'max' | 'min' | 'first' | 'last' | 'firstAfter' | 'firstAfterStrict' | 'score';

/** A filter value: events match when the property equals it (a list: equals one of them). */
export type FilterScalar = string | number | boolean | null;

export interface AggSpec {
  kind: AggKind;
  /** Event names read: one, or [X, Y] for firstAfter(Strict), or the scored names. */
  events: string[];
  /** Window length in ms; Infinity when the whole history counts. */
  window: number;
  /** Numeric event property (sum, max, min). */
  property?: string;
  /** Property equality filters (AND across properties, OR within a list). */
  filter?: [string, FilterScalar[]][];
  /** Points per name, parallel to `events` (score). */
  points?: number[];
  /** Half-life in ms (score); Infinity when points do not decay. */
  halfLife?: number;
}

export { SLOTS } from './pass';

/** Columns of a run of events (one contact's, or many contacts' back to back), sorted by time per contact. */
export interface EventColumns {
  names: Int32Array;
  times: Float64Array;
  /** Per numeric property: value in millionths (exact for decimals up to 6 places), NaN when absent. */
  numeric: Float64Array[];
  /** Per filtered property: dictionary code of the value, -1 when absent. */
  categorical: Int32Array[];
}

const KIND: Record<AggKind, number> = { count: 0, sum: 1, max: 2, min: 3, first: 4, last: 5, firstAfter: 6, score: 7, firstAfterStrict: 8 };

/** Value of a property as millionths, exactly for decimal amounts with up to 6 places; NaN when not numeric. */
export function toMicros(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v * 1e6) : NaN;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1e6);
  return NaN;
}

/** The dictionary key of a scalar event-property value. */
export function scalarKey(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return `s${v}`;
    case 'number':
      return `n${v}`;
    case 'boolean':
      return `b${v}`;
    default:
      return v === null ? 'z' : undefined;
  }
}

/**
 * The aggregates of a rule set and the dictionaries (event names, filtered values) that turn events
 * into columns. One plan serves every rule; the event cache encodes events through it.
 */
export class AggregatePlan {
  readonly specs: AggSpec[] = [];
  readonly numericProps: string[] = [];
  readonly categoricalProps: string[] = [];
  private readonly keys = new Map<string, number>();
  private readonly nameCodes = new Map<string, number>();
  readonly names: string[] = [];
  private readonly dictionaries: Map<string, number>[] = [];
  private pass: Pass | undefined;
  private frozen = false;

  /** Adds a spec (or finds an equal one) and returns its index. */
  add(spec: AggSpec): number {
    const key = JSON.stringify(spec);
    const existing = this.keys.get(key);
    if (existing !== undefined) return existing;
    if (this.frozen) throw new Error('aggregate plan is frozen');
    const index = this.specs.length;
    this.specs.push(spec);
    this.keys.set(key, index);
    if (spec.property !== undefined && !this.numericProps.includes(spec.property)) this.numericProps.push(spec.property);
    for (const [prop] of spec.filter ?? []) {
      if (!this.categoricalProps.includes(prop)) {
        this.categoricalProps.push(prop);
        this.dictionaries.push(new Map());
      }
    }
    return index;
  }

  /** Stops accepting specs and prepares the pass. */
  freeze(): void {
    this.frozen = true;
    this.pass = compilePass(
      this.specs.map((s) => ({
        kind: KIND[s.kind],
        window: s.window,
        numIdx: s.property === undefined ? -1 : this.numericProps.indexOf(s.property),
        filters: (s.filter ?? []).map(([p, values]): [number, number[]] => {
          const col = this.categoricalProps.indexOf(p);
          return [col, [...new Set(values.map((v) => this.encode(col, v)))]];
        }),
        perName: perName(s, (name) => this.nameCode(name)),
        halfLife: s.halfLife ?? Infinity,
      })),
    );
  }

  /** The code of an event name (new names get new codes). */
  nameCode(name: string): number {
    let code = this.nameCodes.get(name);
    if (code === undefined) {
      code = this.names.length;
      this.names.push(name);
      this.nameCodes.set(name, code);
    }
    return code;
  }

  /** The code of a filtered property's value (new values get new codes); -1 for non-scalars. */
  encode(categoricalIndex: number, value: unknown): number {
    const key = scalarKey(value);
    return key === undefined ? -1 : this.encodeKey(categoricalIndex, key);
  }

  /** The dictionary of a filtered property: [value key, code] pairs (for cache snapshots). */
  dictionary(categoricalIndex: number): [string, number][] {
    return [...this.dictionaries[categoricalIndex]!.entries()];
  }

  /** The code of a dictionary key (as `scalarKey` makes them); new keys get new codes. */
  encodeKey(categoricalIndex: number, key: string): number {
    const dict = this.dictionaries[categoricalIndex]!;
    let code = dict.get(key);
    if (code === undefined) {
      code = dict.size;
      dict.set(key, code);
    }
    return code;
  }

  /**
   * Computes every aggregate over events [start, end) of `cols` as of `now` into `out` (SLOTS per
   * spec). Slots per kind: count [n, last counted time, first counted time, next]; sum, max, min
   * [value, n, first counted time, next]; first and last [time, –, –, next]; firstAfter(Strict)
   * [first X after the last Y, last Y, last X, next]; score [points, –, first counted time, next].
   * `next` is when the spec changes with no new data other than by a counted event leaving its
   * window (a future-dated event arriving, a score halving); the readers add the window exits.
   */
  run(cols: EventColumns, start: number, end: number, now: number, out: Float64Array): void {
    if (!this.pass) throw new Error('aggregate plan is not frozen');
    this.pass(cols, start, end, now, out);
  }
}

/** Name code → points (score) or role bits (firstAfter: 1 = X, 2 = Y, 3 = both). */
function perName(s: AggSpec, code: (name: string) => number): Map<number, number> {
  const m = new Map<number, number>();
  s.events.forEach((name, i) => {
    const c = code(name);
    if (s.kind === 'score') m.set(c, s.points![i]!);
    else if (s.kind === 'firstAfter' || s.kind === 'firstAfterStrict') m.set(c, (m.get(c) ?? 0) | (i === 0 ? 1 : 2));
    else m.set(c, i);
  });
  return m;
}
