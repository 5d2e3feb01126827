/**
 * The stored answer of every contact for every segment, held in typed arrays: a kind byte per
 * answer, numbers and string codes in a Float64Array, repeated strings (stages, codes) once in a
 * dictionary per segment, and only the rare rest (objects, lists, strings past the dictionary's
 * cap) as JS values. A million contacts by twenty segments as JS arrays are twenty million tagged
 * slots and a boxed double per decimal answer, all of which every garbage collection walks; here
 * they are a few flat buffers no collection looks into, and comparing a fresh answer with the
 * stored one is a byte and a number compared.
 */
import type { FieldValue } from '../model/types';
import { sameAnswer } from './answers';

/** Kind bytes: 0 is "not in it" (false, null or none stored: all the same answer). */
const NONE = 0;
const TRUE = 1;
const NUMBER = 2;
const STRING = 3;
const OTHER = 4;

/** Distinct strings kept in a segment's dictionary; past it, strings are kept as JS values. */
const MAX_STRINGS = 65_536;

/** One segment's answers for a range of contacts, as they cross to a sweep worker. */
export interface AnswerColumn {
  kinds: Uint8Array;
  nums: Float64Array | undefined;
  strings: string[];
  other: [number, FieldValue][];
}

class Column {
  kinds: Uint8Array;
  nums: Float64Array | undefined;
  strings: string[] = [];
  codes = new Map<string, number>();
  other: Map<number, FieldValue> | undefined;

  constructor(size: number) {
    this.kinds = new Uint8Array(size);
  }
}

export class AnswerTable {
  private readonly columns: Column[];
  private size: number;

  /** A table of `segments` segments for contact ids base .. base + size - 1, every answer "none". */
  constructor(
    segments: number,
    size: number,
    readonly base = 0,
  ) {
    this.size = size;
    this.columns = Array.from({ length: segments }, () => new Column(size));
  }

  /** Contact ids the table holds, from `base`. */
  get length(): number {
    return this.size;
  }

  /** Makes room for contact ids up to base + size - 1. */
  grow(size: number): void {
    if (size <= this.size) return;
    const to = Math.max(size, Math.ceil(this.size * 1.5));
    for (const c of this.columns) {
      const kinds = new Uint8Array(to);
      kinds.set(c.kinds);
      c.kinds = kinds;
      if (c.nums) {
        const nums = new Float64Array(to);
        nums.set(c.nums);
        c.nums = nums;
      }
    }
    this.size = to;
  }

  /** The stored answer (undefined: not in it, whether false, null or never stored). */
  get(segment: number, id: number): FieldValue | undefined {
    const c = this.columns[segment]!;
    const k = id - this.base;
    if (k >= this.size) return undefined;
    switch (c.kinds[k]) {
      case TRUE:
        return true;
      case NUMBER:
        return c.nums![k]!;
      case STRING:
        return c.strings[c.nums![k]!]!;
      case OTHER:
        return c.other!.get(id)!;
      default:
        return undefined;
    }
  }

  /** Every segment's stored answer of one contact. */
  row(id: number): (FieldValue | undefined)[] {
    return this.columns.map((_, i) => this.get(i, id));
  }

  /** Stores an answer. */
  set(segment: number, id: number, value: FieldValue | undefined): void {
    const c = this.columns[segment]!;
    const k = id - this.base;
    if (k >= this.size) this.grow(k + 1);
    if (c.kinds[k] === OTHER) c.other!.delete(id);
    let code: number;
    if (value === undefined || value === null || value === false) c.kinds[k] = NONE;
    else if (value === true) c.kinds[k] = TRUE;
    else if (typeof value === 'number') {
      c.kinds[k] = NUMBER;
      this.nums(c)[k] = value;
    } else if (typeof value === 'string' && (code = this.code(c, value)) >= 0) {
      c.kinds[k] = STRING;
      this.nums(c)[k] = code;
    } else {
      c.kinds[k] = OTHER;
      (c.other ??= new Map()).set(id, value);
    }
  }

  /** Whether `value` is the same answer as the stored one (as `sameAnswer` says), without building the stored one. */
  same(segment: number, id: number, value: FieldValue): boolean {
    const c = this.columns[segment]!;
    const k = id - this.base;
    const kind = k < this.size ? c.kinds[k] : NONE;
    if (value === true) return kind === TRUE;
    if (value === null || value === undefined || value === false) return kind === NONE;
    if (typeof value === 'number') return kind === NUMBER && c.nums![k] === value;
    if (typeof value === 'string' && kind === STRING) return c.strings[c.nums![k]!] === value;
    return kind === OTHER && sameAnswer(c.other!.get(id), value);
  }

  /** Whether the stored answer makes the contact a member (not false, null or none). */
  isMember(segment: number, id: number): boolean {
    const k = id - this.base;
    return k < this.size && this.columns[segment]!.kinds[k] !== NONE;
  }

  /** The answers of contacts base .. base + size - 1 of segment `segment`, to rebuild in a worker. */
  exportRange(segment: number, lo: number, hi: number): AnswerColumn {
    const c = this.columns[segment]!;
    const from = Math.max(0, lo - this.base);
    const to = Math.min(this.size, hi - this.base);
    const other: [number, FieldValue][] = [];
    for (const [id, v] of c.other ?? []) if (id >= lo && id < hi) other.push([id, v]);
    return { kinds: c.kinds.slice(from, to), nums: c.nums?.slice(from, to), strings: c.strings, other };
  }

  /** A table over ids lo .. lo + n - 1 from exported columns (a sweep worker's share). */
  static fromColumns(lo: number, size: number, columns: AnswerColumn[]): AnswerTable {
    const t = new AnswerTable(columns.length, size, lo);
    columns.forEach((x, i) => {
      const c = t.columns[i]!;
      c.kinds.set(x.kinds.subarray(0, size));
      if (x.nums) {
        c.nums = new Float64Array(size);
        c.nums.set(x.nums.subarray(0, size));
      }
      c.strings = x.strings.slice();
      x.strings.forEach((s, code) => c.codes.set(s, code));
      if (x.other.length) c.other = new Map(x.other);
    });
    return t;
  }

  private nums(c: Column): Float64Array {
    return (c.nums ??= new Float64Array(this.size));
  }

  /** The dictionary code of a string, added when new; -1 when the dictionary is full. */
  private code(c: Column, s: string): number {
    const code = c.codes.get(s);
    if (code !== undefined) return code;
    if (c.strings.length >= MAX_STRINGS) return -1;
    c.codes.set(s, c.strings.length);
    c.strings.push(s);
    return c.strings.length - 1;
  }
}
