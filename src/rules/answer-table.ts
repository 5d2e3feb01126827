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

/** A whole table as plain parts (for the rules' state snapshot). */
export interface AnswerDump {
  valued: boolean[];
  size: number;
  base: number;
  kinds: Uint8Array;
  nums: Float64Array;
  /** Per segment: its dictionary and its rare values, as JSON. */
  json: string;
}

/** One segment's dictionary and rare values. */
class Segment {
  strings: string[] = [];
  codes = new Map<string, number>();
  other: Map<number, FieldValue> | undefined;

  constructor(
    /** Its slot in a row of numbers; -1: a flag, whose rare numbers and strings are kept as values. */
    readonly slot: number,
  ) {}
}

export class AnswerTable {
  private readonly segments: Segment[];
  private readonly width: number;
  private readonly numWidth: number;
  private size: number;
  /**
   * Row-major, a contact's kinds side by side (and its numbers): a sweep reads every segment of one
   * contact at once, which is one cache line here and would be twenty as a column per segment.
   */
  private kinds: Uint8Array;
  private nums: Float64Array;

  /**
   * A table for contact ids base .. base + size - 1, every answer "none"; `valued[i]`: segment i
   * holds numbers and strings (a value segment), else true / false (a flag).
   */
  constructor(
    valued: readonly boolean[],
    size: number,
    readonly base = 0,
  ) {
    let slots = 0;
    this.segments = valued.map((v) => new Segment(v ? slots++ : -1));
    this.width = valued.length;
    this.numWidth = slots;
    this.size = size;
    this.kinds = new Uint8Array(size * this.width);
    this.nums = new Float64Array(size * this.numWidth);
  }

  /** Contact ids the table holds, from `base`. */
  get length(): number {
    return this.size;
  }

  /** Makes room for contact ids up to base + size - 1. */
  grow(size: number): void {
    if (size <= this.size) return;
    const to = Math.max(size, Math.ceil(this.size * 1.5));
    const kinds = new Uint8Array(to * this.width);
    kinds.set(this.kinds);
    this.kinds = kinds;
    const nums = new Float64Array(to * this.numWidth);
    nums.set(this.nums);
    this.nums = nums;
    this.size = to;
  }

  /** The stored answer (undefined: not in it, whether false, null or never stored). */
  get(segment: number, id: number): FieldValue | undefined {
    const k = id - this.base;
    if (k >= this.size) return undefined;
    const s = this.segments[segment]!;
    switch (this.kinds[k * this.width + segment]) {
      case TRUE:
        return true;
      case NUMBER:
        return this.nums[k * this.numWidth + s.slot]!;
      case STRING:
        return s.strings[this.nums[k * this.numWidth + s.slot]!]!;
      case OTHER:
        return s.other!.get(id)!;
      default:
        return undefined;
    }
  }

  /** Every segment's stored answer of one contact. */
  row(id: number): (FieldValue | undefined)[] {
    return this.segments.map((_, i) => this.get(i, id));
  }

  /** Stores an answer. */
  set(segment: number, id: number, value: FieldValue | undefined): void {
    const k = id - this.base;
    if (k >= this.size) this.grow(k + 1);
    const s = this.segments[segment]!;
    const at = k * this.width + segment;
    if (this.kinds[at] === OTHER) s.other!.delete(id);
    let code: number;
    if (value === undefined || value === null || value === false) this.kinds[at] = NONE;
    else if (value === true) this.kinds[at] = TRUE;
    else if (typeof value === 'number' && s.slot >= 0) {
      this.kinds[at] = NUMBER;
      this.nums[k * this.numWidth + s.slot] = value;
    } else if (typeof value === 'string' && s.slot >= 0 && (code = this.code(s, value)) >= 0) {
      this.kinds[at] = STRING;
      this.nums[k * this.numWidth + s.slot] = code;
    } else {
      this.kinds[at] = OTHER;
      (s.other ??= new Map()).set(id, value);
    }
  }

  /** Whether `value` is the same answer as the stored one (as `sameAnswer` says), without building the stored one. */
  same(segment: number, id: number, value: FieldValue): boolean {
    const k = id - this.base;
    const kind = k < this.size ? this.kinds[k * this.width + segment] : NONE;
    if (value === true) return kind === TRUE;
    if (value === null || value === undefined || value === false) return kind === NONE;
    const s = this.segments[segment]!;
    if (typeof value === 'number' && kind === NUMBER) return this.nums[k * this.numWidth + s.slot] === value;
    if (typeof value === 'string' && kind === STRING) return s.strings[this.nums[k * this.numWidth + s.slot]!] === value;
    return kind === OTHER && sameAnswer(s.other!.get(id), value);
  }

  /** Whether the stored answer makes the contact a member (not false, null or none). */
  isMember(segment: number, id: number): boolean {
    const k = id - this.base;
    return k < this.size && this.kinds[k * this.width + segment] !== NONE;
  }

  /**
   * The answers of contacts lo .. hi - 1 as a `dump` of their own (copied, rows as they are: a sweep
   * worker's share, rebuilt there with `fromDump`).
   */
  dumpRange(lo: number, hi: number): AnswerDump {
    const from = Math.min(this.size, Math.max(0, lo - this.base));
    const to = Math.max(from, Math.min(this.size, hi - this.base));
    return {
      valued: this.segments.map((s) => s.slot >= 0),
      size: to - from,
      base: this.base + from,
      kinds: this.kinds.slice(from * this.width, to * this.width),
      nums: this.nums.slice(from * this.numWidth, to * this.numWidth),
      json: JSON.stringify(this.segments.map((s) => [s.strings, [...(s.other ?? [])].filter(([id]) => id >= lo && id < hi)])),
    };
  }

  /** The whole table as plain parts (the arrays are the table's own: write them out before the next change). */
  dump(): AnswerDump {
    return {
      valued: this.segments.map((s) => s.slot >= 0),
      size: this.size,
      base: this.base,
      kinds: this.kinds,
      nums: this.nums,
      json: JSON.stringify(this.segments.map((s) => [s.strings, [...(s.other ?? [])]])),
    };
  }

  /** The table a `dump` describes; undefined when the parts do not fit together. */
  static fromDump(d: AnswerDump): AnswerTable | undefined {
    const t = new AnswerTable(d.valued, 0, d.base);
    if (d.kinds.length !== d.size * t.width || d.nums.length !== d.size * t.numWidth) return undefined;
    const extra = JSON.parse(d.json) as [string[], [number, FieldValue][]][];
    if (!Array.isArray(extra) || extra.length !== t.segments.length) return undefined;
    t.size = d.size;
    t.kinds = d.kinds;
    t.nums = d.nums;
    extra.forEach(([strings, other], i) => {
      const s = t.segments[i]!;
      s.strings = strings;
      strings.forEach((str, code) => s.codes.set(str, code));
      if (other.length) s.other = new Map(other);
    });
    return t;
  }

  /** The dictionary code of a string, added when new; -1 when the dictionary is full. */
  private code(s: Segment, str: string): number {
    const code = s.codes.get(str);
    if (code !== undefined) return code;
    if (s.strings.length >= MAX_STRINGS) return -1;
    s.codes.set(str, s.strings.length);
    s.strings.push(str);
    return s.strings.length - 1;
  }
}
