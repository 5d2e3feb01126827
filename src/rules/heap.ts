/**
 * A binary min-heap of (time, contact id): the next contacts whose segment answers flip by the clock.
 * Typed arrays, not JS arrays: a start fills it with a million wake-ups, and growing JS arrays by
 * push cost more than the rest of that step.
 */
export class WakeupHeap {
  private times: Float64Array = new Float64Array(16);
  private ids: Int32Array = new Int32Array(16);
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Empties the heap (a reload fills it again). */
  clear(): void {
    this.times = new Float64Array(16);
    this.ids = new Int32Array(16);
    this.n = 0;
  }

  /**
   * Replaces the contents with these entries (the arrays become the heap's own), ordered bottom-up
   * in O(n), where pushing a start's million wake-ups one by one costs n log n steps.
   */
  assign(times: Float64Array, ids: Int32Array): void {
    this.times = times;
    this.ids = ids;
    this.n = times.length;
    for (let i = (this.n >> 1) - 1; i >= 0; i--) this.siftDown(i, times[i]!, ids[i]!);
  }

  push(time: number, id: number): void {
    if (this.n === this.times.length) {
      const times = new Float64Array(this.n * 2 + 16);
      times.set(this.times);
      this.times = times;
      const ids = new Int32Array(this.n * 2 + 16);
      ids.set(this.ids);
      this.ids = ids;
    }
    const times = this.times;
    const ids = this.ids;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (times[p]! <= time) break;
      times[i] = times[p]!;
      ids[i] = ids[p]!;
      i = p;
    }
    times[i] = time;
    ids[i] = id;
  }

  /** The earliest time, or undefined when empty. */
  peekTime(): number | undefined {
    return this.n ? this.times[0] : undefined;
  }

  /** Removes and returns the earliest entry. */
  pop(): { time: number; id: number } | undefined {
    if (!this.n) return undefined;
    const top = { time: this.times[0]!, id: this.ids[0]! };
    const last = --this.n;
    if (last) this.siftDown(0, this.times[last]!, this.ids[last]!);
    return top;
  }

  /** Puts (time, id) at slot i or below it, moving earlier children up. */
  private siftDown(i: number, time: number, id: number): void {
    const times = this.times;
    const ids = this.ids;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && times[r]! < times[l]! ? r : l;
      if (times[c]! >= time) break;
      times[i] = times[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    times[i] = time;
    ids[i] = id;
  }
}
