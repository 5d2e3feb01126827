/**
 * Each contact's next change time as this process last computed it, by contact id in a Float64Array
 * (NaN: not computed here). As a JS array, a million times were a million boxed numbers to allocate
 * at every start and for every collection to walk.
 */
export class NextChanges {
  private at: Float64Array;
  private size: number;

  /** Ids below `size` start at `fill` (NaN: not computed). */
  constructor(size = 0, fill = NaN) {
    this.at = new Float64Array(size).fill(fill);
    this.size = size;
  }

  /** Times as a saved state holds them (the array becomes this table's own). */
  static adopt(times: Float64Array): NextChanges {
    const t = new NextChanges();
    t.at = times;
    t.size = times.length;
    return t;
  }

  /** The next change time, or undefined when not computed in this process. */
  get(id: number): number | undefined {
    const v = id < this.size ? this.at[id]! : NaN;
    return Number.isNaN(v) ? undefined : v;
  }

  /** Sets a contact's next change time (undefined: forget it). */
  set(id: number, time: number | undefined): void {
    if (id >= this.at.length) {
      const at = new Float64Array(Math.max(id + 1, Math.ceil(this.at.length * 1.5))).fill(NaN);
      at.set(this.at.subarray(0, this.size));
      this.at = at;
    }
    if (id >= this.size) this.size = id + 1;
    this.at[id] = time ?? NaN;
  }

  /** Every finite time with its contact id, by id (what the wake-up heap is built from). */
  finite(): { times: Float64Array; ids: Int32Array } {
    let n = 0;
    for (let id = 0; id < this.size; id++) if (Number.isFinite(this.at[id])) n++;
    const times = new Float64Array(n);
    const ids = new Int32Array(n);
    for (let id = 0, k = 0; id < this.size; id++) {
      if (!Number.isFinite(this.at[id])) continue;
      times[k] = this.at[id]!;
      ids[k++] = id;
    }
    return { times, ids };
  }

  /** A copy of the times of every id up to the largest set (for the rules' state snapshot). */
  snapshot(): Float64Array {
    return this.at.slice(0, this.size);
  }
}
