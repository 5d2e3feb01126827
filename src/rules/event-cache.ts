/**
 * The compact in-memory event cache: typed-array columns sorted by contact, then time, holding only
 * what the rules read (name, time, the numeric and filtered properties). Built from the store in one
 * sequential scan; a contact whose events change afterwards is re-read from the store into a small
 * per-contact override, so the cache stays in step with every write without rebuilding the columns.
 */
import type { SegsyncEvent } from '../model/types';
import type { Store } from '../store/store';
import type { AggregatePlan, EventColumns } from './aggregates';
import { toMicros } from './aggregates';
import { prefault } from './prefault';
import { packParts, unpackParts } from './snapshot-parts';
import type { PartsReader } from './snapshot-parts';

/** Where one contact's events are. */
export interface EventSlice {
  cols: EventColumns;
  start: number;
  end: number;
}

const EMPTY_SLICE = (plan: AggregatePlan): EventSlice => ({ cols: columns(plan, 0), start: 0, end: 0 });

function columns(plan: AggregatePlan, n: number): EventColumns {
  return {
    names: new Int32Array(n),
    times: new Float64Array(n),
    numeric: plan.numericProps.map(() => new Float64Array(n)),
    categorical: plan.categoricalProps.map(() => new Int32Array(n)),
  };
}

/**
 * Columns for `n` events in SharedArrayBuffers: the base columns of a cache, which the sweep workers
 * read in place instead of each holding a copy.
 */
export function sharedColumns(numeric: number, categorical: number, n: number): EventColumns {
  const f64 = (): Float64Array => new Float64Array(new SharedArrayBuffer(n * 8));
  const i32 = (): Int32Array => new Int32Array(new SharedArrayBuffer(n * 4));
  return { names: i32(), times: f64(), numeric: Array.from({ length: numeric }, f64), categorical: Array.from({ length: categorical }, i32) };
}

/** True when every column lives in shared memory. */
function isShared(c: EventColumns): boolean {
  return [c.names, c.times, ...c.numeric, ...c.categorical].every((a) => a.buffer instanceof SharedArrayBuffer);
}

/** A shared copy of columns (or the columns themselves when already shared). */
function shared(c: EventColumns): EventColumns {
  if (isShared(c)) return c;
  const out = sharedColumns(c.numeric.length, c.categorical.length, c.times.length);
  out.names.set(c.names);
  out.times.set(c.times);
  c.numeric.forEach((a, k) => out.numeric[k]!.set(a));
  c.categorical.forEach((a, k) => out.categorical[k]!.set(a));
  return out;
}

/** Columns for one contact's events (any order in; sorted by time, then as given). */
export function columnsFromEvents(plan: AggregatePlan, events: readonly Pick<SegsyncEvent, 'name' | 'time' | 'properties'>[]): EventColumns {
  const sorted = events.map((e, i) => [e, i] as const).sort((a, b) => a[0].time - b[0].time || a[1] - b[1]);
  const cols = columns(plan, sorted.length);
  sorted.forEach(([e], i) => {
    cols.names[i] = plan.nameCode(e.name);
    cols.times[i] = e.time;
    plan.numericProps.forEach((p, k) => {
      cols.numeric[k]![i] = toMicros(Object.hasOwn(e.properties, p) ? e.properties[p] : undefined);
    });
    plan.categoricalProps.forEach((p, k) => {
      cols.categorical[k]![i] = Object.hasOwn(e.properties, p) ? plan.encode(k, e.properties[p]) : -1;
    });
  });
  return cols;
}

/** Bumped when the snapshot's bytes change meaning: an older snapshot is then rebuilt, never misread. */
const SNAPSHOT_VERSION = 2;

interface SnapshotHeader {
  v: number;
  names: string[];
  dictionaries: [string, number][][];
  events: number;
  offsets: number;
}

export interface CacheStats {
  events: number;
  contacts: number;
  overrides: number;
  bytes: number;
}

export class EventCache {
  private base: EventColumns;
  /** offsets[id] .. offsets[id + 1] is contact `id`'s run in `base`. */
  private offsets: Int32Array;
  private readonly overrides = new Map<number, EventColumns>();
  private readonly empty: EventSlice;

  private constructor(
    private readonly plan: AggregatePlan,
    base: EventColumns,
    offsets: Int32Array,
  ) {
    this.base = base;
    this.offsets = offsets;
    this.empty = EMPTY_SLICE(plan);
  }

  /** An empty cache (every contact's events come from overrides). */
  static empty(plan: AggregatePlan): EventCache {
    return new EventCache(plan, columns(plan, 0), new Int32Array(1));
  }

  /** Builds the cache from every event in the store: one sequential scan, then a counting sort by contact. */
  static load(store: Store, plan: AggregatePlan, onProgress?: (done: number, total: number) => void, throughRow?: number): EventCache {
    let capacity = Math.max(16, store.eventCountBound());
    let contact = new Int32Array(capacity);
    let raw = columns(plan, capacity);
    const jsonCodes = plan.categoricalProps.map(() => new Map<string, number>());
    let n = 0;
    let maxContact = 0;
    const nNum = plan.numericProps.length;
    const nCat = plan.categoricalProps.length;
    const nameCodes: number[] = [];
    for (const [id, name] of store.eventNamesById()) nameCodes[id] = plan.nameCode(name);
    for (const { width, values } of store.scanEventChunks(plan.numericProps, plan.categoricalProps, 0, throughRow)) {
      for (let r = 0; r < values.length; r += width) {
        if (n === capacity) {
          capacity = Math.ceil(capacity * 1.5);
          contact = grow(contact, capacity);
          raw = growColumns(raw, capacity);
        }
        const c = values[r] as number;
        contact[n] = c;
        if (c > maxContact) maxContact = c;
        raw.names[n] = nameCodes[values[r + 1] as number]!;
        raw.times[n] = values[r + 2] as number;
        for (let k = 0; k < nNum; k++) raw.numeric[k]![n] = toMicros(values[r + 3 + k]);
        for (let k = 0; k < nCat; k++) {
          const text = values[r + 3 + nNum + k] as string | null;
          if (text === null) raw.categorical[k]![n] = -1;
          else {
            let code = jsonCodes[k]!.get(text);
            if (code === undefined) {
              code = plan.encode(k, JSON.parse(text));
              jsonCodes[k]!.set(text, code);
            }
            raw.categorical[k]![n] = code;
          }
        }
        n++;
        if (onProgress && (n & 0xfffff) === 0) onProgress(n, capacity);
      }
    }
    const offsets = new Int32Array(maxContact + 2);
    for (let i = 0; i < n; i++) offsets[contact[i]! + 1]!++;
    for (let c = 1; c < offsets.length; c++) offsets[c]! += offsets[c - 1]!;
    const cursor = offsets.slice(0, maxContact + 1);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[cursor[contact[i]!]!++] = i;
    contact = new Int32Array(0);
    // Within a contact, storage order is mostly time order already: insertion sort is linear then.
    for (let c = 0; c <= maxContact; c++) {
      for (let i = offsets[c]! + 1; i < offsets[c + 1]!; i++) {
        const v = order[i]!;
        const t = raw.times[v]!;
        let j = i - 1;
        while (j >= offsets[c]! && raw.times[order[j]!]! > t) {
          order[j + 1] = order[j]!;
          j--;
        }
        order[j + 1] = v;
      }
    }
    const base = sharedColumns(nNum, nCat, n);
    for (let i = 0; i < n; i++) {
      const src = order[i]!;
      base.names[i] = raw.names[src]!;
      base.times[i] = raw.times[src]!;
    }
    for (let k = 0; k < nNum; k++) for (let i = 0; i < n; i++) base.numeric[k]![i] = raw.numeric[k]![order[i]!]!;
    for (let k = 0; k < nCat; k++) for (let i = 0; i < n; i++) base.categorical[k]![i] = raw.categorical[k]![order[i]!]!;
    onProgress?.(n, n);
    return new EventCache(plan, base, offsets);
  }

  /**
   * A cache over columns already sorted by contact then time (contact `id`'s events are
   * offsets[id] .. offsets[id + 1]); names and categorical values must be coded through `plan`.
   */
  static fromColumns(plan: AggregatePlan, cols: EventColumns, offsets: Int32Array): EventCache {
    return new EventCache(plan, shared(cols), offsets);
  }

  /** The base columns and offsets (shared memory; read-only for everyone: changes go to overrides). */
  get shared(): { cols: EventColumns; offsets: Int32Array } {
    return { cols: this.base, offsets: this.offsets };
  }

  /** A contact's own columns when its events changed since the base was built. */
  override(contactId: number): EventColumns | undefined {
    return this.overrides.get(contactId);
  }

  /** Gives a contact its own columns (a sweep worker following the main thread's cache). */
  setOverride(contactId: number, cols: EventColumns): void {
    this.overrides.set(contactId, cols);
  }

  /** The layout a snapshot is valid for: the properties the rules read. */
  static layoutOf(plan: AggregatePlan): string {
    return JSON.stringify({ v: SNAPSHOT_VERSION, numeric: plan.numericProps, categorical: plan.categoricalProps });
  }

  /**
   * The cache as binary parts for the store: a JSON header (dictionaries, column sizes), the
   * columns' bytes in chunks, then a check part (byte count and CRC-32 of everything before it).
   * Contacts re-read since the base was built are written from their overrides.
   */
  serialize(): Uint8Array[] {
    const { cols, offsets } = this.compacted();
    const header: SnapshotHeader = {
      v: SNAPSHOT_VERSION,
      names: this.plan.names,
      dictionaries: this.plan.categoricalProps.map((_, k) => this.plan.dictionary(k)),
      events: cols.times.length,
      offsets: offsets.length,
    };
    return packParts(header, [cols.times, ...cols.numeric, offsets, cols.names, ...cols.categorical]);
  }

  /** The base columns with every override in its contact's place (the base itself when there is none). */
  private compacted(): { cols: EventColumns; offsets: Int32Array } {
    if (!this.overrides.size) return { cols: this.base, offsets: this.offsets };
    let top = this.offsets.length - 2;
    for (const id of this.overrides.keys()) if (id > top) top = id;
    const offsets = new Int32Array(top + 2);
    for (let id = 0; id <= top; id++) {
      const o = this.overrides.get(id);
      const n = o ? o.times.length : id + 1 < this.offsets.length ? this.offsets[id + 1]! - this.offsets[id]! : 0;
      offsets[id + 1] = offsets[id]! + n;
    }
    const cols = columns(this.plan, offsets[top + 1]!);
    const place = (from: EventColumns, start: number, end: number, to: number): void => {
      cols.names.set(from.names.subarray(start, end), to);
      cols.times.set(from.times.subarray(start, end), to);
      from.numeric.forEach((a, k) => cols.numeric[k]!.set(a.subarray(start, end), to));
      from.categorical.forEach((a, k) => cols.categorical[k]!.set(a.subarray(start, end), to));
    };
    // Runs of unchanged contacts are contiguous in both: each run is copied in one step.
    let run = 0;
    for (let id = 0; id <= top + 1; id++) {
      const o = id <= top ? this.overrides.get(id) : undefined;
      if (!o && id <= top) continue;
      const baseEnd = Math.min(id, this.offsets.length - 1);
      if (run < baseEnd) place(this.base, this.offsets[run]!, this.offsets[baseEnd]!, offsets[run]!);
      if (o) place(o, 0, o.times.length, offsets[id]!);
      run = id + 1;
    }
    return { cols, offsets };
  }

  /**
   * A cache from a snapshot's parts, with names and filtered values re-coded through `plan`; undefined
   * when the parts are not a whole, intact snapshot (missing, cut or changed bytes fail the check).
   */
  static fromSnapshot(plan: AggregatePlan, parts: Iterable<Uint8Array>): EventCache | undefined {
    const reader = unpackParts(parts);
    if (!reader) return undefined;
    try {
      return EventCache.fromReader(plan, reader);
    } finally {
      reader.close();
    }
  }

  private static fromReader(plan: AggregatePlan, reader: PartsReader): EventCache | undefined {
    const header = reader.header as SnapshotHeader | undefined;
    if (header?.v !== SNAPSHOT_VERSION || !(header.events >= 0) || !(header.offsets >= 1)) return undefined;
    const n = header.events;
    let cols: { times: Float64Array; numeric: Float64Array[]; offsets: Int32Array; names: Int32Array; categorical: Int32Array[] };
    try {
      // Shared memory: the sweep workers read the base columns in place.
      const f64 = (): Float64Array => new Float64Array(new SharedArrayBuffer(n * 8));
      const i32 = (count: number): Int32Array => new Int32Array(new SharedArrayBuffer(count * 4));
      cols = {
        times: f64(),
        numeric: plan.numericProps.map(f64),
        offsets: i32(header.offsets),
        names: i32(n),
        categorical: plan.categoricalProps.map(() => i32(n)),
      };
      // In the order they were packed; a helper thread takes the page faults of the last ones.
      const order = [cols.times, ...cols.numeric, cols.offsets, cols.names, ...cols.categorical];
      const faults = prefault(order.map((a) => a.buffer as SharedArrayBuffer));
      order.forEach((a, b) => reader.fill(a, (from, to) => faults.claim(b, from, to)));
    } catch {
      // Parts that end early, or sizes no memory can hold: not a snapshot this layout wrote.
      return undefined;
    }
    if (!reader.verify()) return undefined;
    const { times, numeric, offsets, names, categorical } = cols;
    // The same rules code names and values as the snapshot did: the columns are then read as they are.
    const identity = (map: Int32Array): boolean => map.every((code, i) => code === i);
    const nameMap = Int32Array.from(header.names, (name) => plan.nameCode(name));
    if (!identity(nameMap)) for (let i = 0; i < n; i++) names[i] = nameMap[names[i]!]!;
    categorical.forEach((col, k) => {
      const map = new Int32Array((header.dictionaries[k] ?? []).length);
      for (const [key, code] of header.dictionaries[k] ?? []) map[code] = plan.encodeKey(k, key);
      if (!identity(map)) for (let i = 0; i < n; i++) if (col[i]! >= 0) col[i] = map[col[i]!]!;
    });
    return new EventCache(plan, { names, times, numeric, categorical }, offsets);
  }

  /** A slice to refill with `sliceInto` (a sweep reuses one for every contact). */
  blankSlice(): EventSlice {
    return { cols: this.empty.cols, start: 0, end: 0 };
  }

  /** Points `slice` at one contact's events (see `slice`). */
  sliceInto(slice: EventSlice, contactId: number): void {
    const o = this.overrides.size ? this.overrides.get(contactId) : undefined;
    if (o) {
      slice.cols = o;
      slice.start = 0;
      slice.end = o.times.length;
    } else if (contactId + 1 >= this.offsets.length) {
      slice.cols = this.empty.cols;
      slice.start = slice.end = 0;
    } else {
      slice.cols = this.base;
      slice.start = this.offsets[contactId]!;
      slice.end = this.offsets[contactId + 1]!;
    }
  }

  /** One contact's events. */
  slice(contactId: number): EventSlice {
    const o = this.overrides.get(contactId);
    if (o) return { cols: o, start: 0, end: o.times.length };
    if (contactId + 1 >= this.offsets.length) return this.empty;
    return { cols: this.base, start: this.offsets[contactId]!, end: this.offsets[contactId + 1]! };
  }

  /** Adds events to one contact's run (new events from the store), keeping it sorted by time. */
  append(contactId: number, events: readonly Pick<SegsyncEvent, 'name' | 'time' | 'properties'>[]): void {
    if (!events.length) return;
    const old = this.slice(contactId);
    const add = columnsFromEvents(this.plan, events);
    const n = old.end - old.start;
    const m = add.times.length;
    const out = columns(this.plan, n + m);
    const copy = (from: EventColumns, i: number, to: number): void => {
      out.names[to] = from.names[i]!;
      out.times[to] = from.times[i]!;
      for (let k = 0; k < out.numeric.length; k++) out.numeric[k]![to] = from.numeric[k]![i]!;
      for (let k = 0; k < out.categorical.length; k++) out.categorical[k]![to] = from.categorical[k]![i]!;
    };
    let i = old.start;
    let j = 0;
    for (let to = 0; to < n + m; to++) {
      // Ties keep stored events first, as the store orders them by time then row.
      if (j >= m || (i < old.end && old.cols.times[i]! <= add.times[j]!)) copy(old.cols, i++, to);
      else copy(add, j++, to);
    }
    this.overrides.set(contactId, out);
  }

  /** Replaces one contact's events (after a write); an erased contact gets none. */
  replace(contactId: number, events: readonly Pick<SegsyncEvent, 'name' | 'time' | 'properties'>[]): void {
    this.overrides.set(contactId, columnsFromEvents(this.plan, events));
  }

  /** Contact ids of lo .. hi - 1 with columns of their own (see `override`). */
  overridden(lo: number, hi: number): number[] {
    const out: number[] = [];
    for (const id of this.overrides.keys()) if (id >= lo && id < hi) out.push(id);
    return out;
  }

  /** Contact ids that have events in the base columns or an override, ascending. */
  *contactIds(): IterableIterator<number> {
    const extra = [...this.overrides.keys()].filter((id) => id + 1 >= this.offsets.length).sort((a, b) => a - b);
    for (let id = 0; id + 1 < this.offsets.length; id++) {
      if (this.offsets[id + 1]! > this.offsets[id]! || this.overrides.has(id)) yield id;
    }
    yield* extra;
  }

  stats(): CacheStats {
    const bytes = (c: EventColumns): number =>
      c.names.byteLength + c.times.byteLength + c.numeric.reduce((s, a) => s + a.byteLength, 0) + c.categorical.reduce((s, a) => s + a.byteLength, 0);
    let overrideBytes = 0;
    let overrideEvents = 0;
    // An override stands for its contact's base rows, which stay in the columns until a compaction.
    let replaced = 0;
    for (const [id, o] of this.overrides) {
      overrideBytes += bytes(o);
      overrideEvents += o.times.length;
      if (id + 1 < this.offsets.length) replaced += this.offsets[id + 1]! - this.offsets[id]!;
    }
    let contacts = 0;
    for (let id = 0; id + 1 < this.offsets.length; id++) if (this.offsets[id + 1]! > this.offsets[id]!) contacts++;
    return {
      events: this.base.times.length - replaced + overrideEvents,
      contacts,
      overrides: this.overrides.size,
      bytes: bytes(this.base) + this.offsets.byteLength + overrideBytes,
    };
  }
}

function grow<T extends Int32Array | Float64Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

function growColumns(c: EventColumns, size: number): EventColumns {
  return {
    names: grow(c.names, size),
    times: grow(c.times, size),
    numeric: c.numeric.map((a) => grow(a, size)),
    categorical: c.categorical.map((a) => grow(a, size)),
  };
}
