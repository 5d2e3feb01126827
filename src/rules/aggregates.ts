/**
 * Shared aggregates: every event function in every rule becomes an aggregate spec; equal specs are
 * merged, and one pass over a contact's events (sorted by time) computes all of them, together with
 * the earliest time any of them changes by the clock alone (an event leaving a window, a score
 * halving, a future-dated event arriving). Written by hand because the pass is the hot loop of a full
 * recompute: typed arrays, no allocation per event.
 */

export type AggKind = 'count' | 'sum' | 'max' | 'min' | 'first' | 'last' | 'firstAfter' | 'score';

/** A filter value: events match when the property equals it (a list: equals one of them). */
export type FilterScalar = string | number | boolean | null;

export interface AggSpec {
  kind: AggKind;
  /** Event names read: one, or [X, Y] for firstAfter, or the scored names. */
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

/** Slots per spec in the result array. */
export const SLOTS = 4;

/** Columns of a run of events (one contact's, or many contacts' back to back), sorted by time per contact. */
export interface EventColumns {
  names: Int32Array;
  times: Float64Array;
  /** Per numeric property: value in millionths (exact for decimals up to 6 places), NaN when absent. */
  numeric: Float64Array[];
  /** Per filtered property: dictionary code of the value, -1 when absent. */
  categorical: Int32Array[];
}

const KIND: Record<AggKind, number> = { count: 0, sum: 1, max: 2, min: 3, first: 4, last: 5, firstAfter: 6, score: 7 };

interface RuntimeSpec {
  kind: number;
  window: number;
  numIdx: number;
  filterCols: number[];
  filterCodes: Set<number>[];
  /** Name code → points (score) or role bits (firstAfter). */
  perName: Map<number, number>;
  halfLife: number;
}

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
  private runtime: RuntimeSpec[] = [];
  private byName: (Int32Array | undefined)[] = [];
  // The pass reads these flat arrays rather than the spec objects: it is the hot loop.
  private kinds = new Int8Array(0);
  private windows = new Float64Array(0);
  private numIdx = new Int32Array(0);
  private filtered = new Uint8Array(0);
  /** Specs whose value can change with the clock (windows, halving scores). */
  private timed = new Int32Array(0);
  /** Each spec's starting slot values, copied in at the start of every pass. */
  private initial = new Float64Array(0);
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
    this.runtime = this.specs.map((s) => ({
      kind: KIND[s.kind],
      window: s.window,
      numIdx: s.property === undefined ? -1 : this.numericProps.indexOf(s.property),
      filterCols: (s.filter ?? []).map(([p]) => this.categoricalProps.indexOf(p)),
      filterCodes: (s.filter ?? []).map(([p, values]) => new Set(values.map((v) => this.encode(this.categoricalProps.indexOf(p), v)))),
      perName: perName(s, (name) => this.nameCode(name)),
      halfLife: s.halfLife ?? Infinity,
    }));
    this.kinds = Int8Array.from(this.runtime, (r) => r.kind);
    this.windows = Float64Array.from(this.runtime, (r) => r.window);
    this.numIdx = Int32Array.from(this.runtime, (r) => r.numIdx);
    this.filtered = Uint8Array.from(this.runtime, (r) => (r.filterCols.length ? 1 : 0));
    this.timed = Int32Array.from(this.runtime.flatMap((r, i) => (r.window !== Infinity || r.halfLife !== Infinity ? [i] : [])));
    this.initial = new Float64Array(this.runtime.length * SLOTS);
    this.runtime.forEach((r, s) => {
      const o = s * SLOTS;
      this.initial[o] = r.kind === 2 ? -Infinity : r.kind === 3 ? Infinity : r.kind >= 4 && r.kind <= 6 ? NaN : 0;
      this.initial[o + 1] = r.kind === 6 ? NaN : 0;
      this.initial[o + 2] = NaN;
      this.initial[o + 3] = Infinity;
    });
    this.rebuildIndex();
  }

  /** The code of an event name (new names get new codes). */
  nameCode(name: string): number {
    let code = this.nameCodes.get(name);
    if (code === undefined) {
      code = this.names.length;
      this.names.push(name);
      this.nameCodes.set(name, code);
      if (this.frozen) this.byName.push(undefined);
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

  private rebuildIndex(): void {
    const lists: number[][] = this.names.map(() => []);
    this.runtime.forEach((r, i) => {
      for (const code of r.perName.keys()) lists[code]!.push(i);
    });
    this.byName = lists.map((l) => (l.length ? Int32Array.from(l) : undefined));
  }

  /**
   * Computes every aggregate over events [start, end) of `cols` as of `now` into `out` (SLOTS per
   * spec) and returns the earliest time after `now` at which any of them can change with no new data.
   */
  run(cols: EventColumns, start: number, end: number, now: number, out: Float64Array): number {
    const rt = this.runtime;
    out.set(this.initial);
    let next = Infinity;
    const { names, times, numeric, categorical } = cols;
    const byName = this.byName;
    const kinds = this.kinds;
    const windows = this.windows;
    const filtered = this.filtered;
    for (let i = start; i < end; i++) {
      const t = times[i]!;
      if (t > now) {
        next = t;
        break;
      }
      const list = byName[names[i]!];
      if (list === undefined) continue;
      for (let k = 0; k < list.length; k++) {
        const s = list[k]!;
        if (filtered[s] === 1 && !matches(rt[s]!, categorical, i)) continue;
        const kind = kinds[s]!;
        const o = s * SLOTS;
        const inWindow = t > now - windows[s]!;
        switch (kind) {
          case 0:
            if (inWindow) {
              if (out[o] === 0) out[o + 2] = t;
              out[o]!++;
            }
            break;
          case 1:
          case 2:
          case 3: {
            const v = numeric[this.numIdx[s]!]![i]!;
            if (!inWindow || v !== v) break;
            if (out[o + 1] === 0) out[o + 2] = t;
            out[o + 1]!++;
            if (kind === 1) out[o]! += v;
            else if (kind === 2 ? v > out[o]! : v < out[o]!) out[o] = v;
            break;
          }
          case 4:
            if (out[o] !== out[o]) out[o] = t;
            break;
          case 5:
            out[o] = t;
            break;
          case 6: {
            // Slots: first X at or after the last Y, the last Y, the last X. An X at the same
            // millisecond as a Y counts as after it, whichever was stored first.
            const role = rt[s]!.perName.get(names[i]!)!;
            if (role & 2) {
              out[o + 1] = t;
              out[o] = out[o + 2] === t ? t : NaN;
            }
            if (role & 1) {
              out[o + 2] = t;
              if (out[o] !== out[o] && out[o + 1] === out[o + 1]) out[o] = t;
            }
            break;
          }
          case 7:
            if (inWindow) {
              if (out[o + 2] !== out[o + 2]) out[o + 2] = t;
              const r = rt[s]!;
              const points = r.perName.get(names[i]!)!;
              if (r.halfLife === Infinity) out[o]! += points;
              else {
                const steps = Math.floor((now - t) / r.halfLife);
                out[o]! += points * Math.pow(0.5, steps);
                const step = t + (steps + 1) * r.halfLife;
                if (step < out[o + 3]!) out[o + 3] = step;
              }
            }
            break;
        }
      }
    }
    // Window exits (the oldest event in a window leaves first) and score halvings.
    const timed = this.timed;
    for (let k = 0; k < timed.length; k++) {
      const s = timed[k]!;
      const o = s * SLOTS;
      if (windows[s] !== Infinity && out[o + 2] === out[o + 2]) {
        const exit = out[o + 2]! + windows[s]!;
        if (exit < next) next = exit;
      }
      if (out[o + 3]! < next) next = out[o + 3]!;
    }
    return next;
  }
}

/** Name code → points (score) or role bits (firstAfter: 1 = X, 2 = Y, 3 = both). */
function perName(s: AggSpec, code: (name: string) => number): Map<number, number> {
  const m = new Map<number, number>();
  s.events.forEach((name, i) => {
    const c = code(name);
    if (s.kind === 'score') m.set(c, s.points![i]!);
    else if (s.kind === 'firstAfter') m.set(c, (m.get(c) ?? 0) | (i === 0 ? 1 : 2));
    else m.set(c, i);
  });
  return m;
}

function matches(r: RuntimeSpec, categorical: Int32Array[], i: number): boolean {
  for (let f = 0; f < r.filterCols.length; f++) {
    if (!r.filterCodes[f]!.has(categorical[r.filterCols[f]!]![i]!)) return false;
  }
  return true;
}
