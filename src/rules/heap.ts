/** A binary min-heap of (time, contact id): the next contacts whose segment answers flip by the clock. */
export class WakeupHeap {
  private times: number[] = [];
  private ids: number[] = [];

  get size(): number {
    return this.times.length;
  }

  /** Empties the heap (a reload fills it again). */
  clear(): void {
    this.times = [];
    this.ids = [];
  }

  push(time: number, id: number): void {
    const times = this.times;
    const ids = this.ids;
    let i = times.length;
    times.push(time);
    ids.push(id);
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
    return this.times[0];
  }

  /** Removes and returns the earliest entry. */
  pop(): { time: number; id: number } | undefined {
    const times = this.times;
    const ids = this.ids;
    if (!times.length) return undefined;
    const top = { time: times[0]!, id: ids[0]! };
    const lastT = times.pop()!;
    const lastId = ids.pop()!;
    const n = times.length;
    if (n) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && times[r]! < times[l]! ? r : l;
        if (times[c]! >= lastT) break;
        times[i] = times[c]!;
        ids[i] = ids[c]!;
        i = c;
      }
      times[i] = lastT;
      ids[i] = lastId;
    }
    return top;
  }
}
