import { WakeupHeap } from '../../../src/rules/heap';

/** Pops everything: the order a heap hands its entries out in. */
function drain(heap: WakeupHeap): [number, number][] {
  const out: [number, number][] = [];
  for (let e = heap.pop(); e; e = heap.pop()) out.push([e.time, e.id]);
  return out;
}

describe('WakeupHeap', () => {
  it('built at once from entries, hands them out earliest first, as pushing them one by one does', () => {
    let seed = 11;
    const rand = (): number => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    for (const n of [0, 1, 2, 3, 7, 64, 1000]) {
      const times = Array.from({ length: n }, () => Math.floor(rand() * 50));
      const ids = times.map((_, k) => k);
      const pushed = new WakeupHeap();
      times.forEach((t, k) => pushed.push(t, ids[k]!));
      const built = new WakeupHeap();
      built.push(999, 999);
      built.assign(Float64Array.from(times), Int32Array.from(ids));
      expect(built.size).toBe(n);
      const order = drain(built);
      expect(order.map(([t]) => t)).toEqual([...times].sort((a, b) => a - b));
      expect(order.map(([t, id]) => times[id] === t)).toEqual(order.map(() => true));
      expect(drain(pushed).map(([t]) => t)).toEqual(order.map(([t]) => t));
    }
  });

  it('takes pushes after a bulk build', () => {
    const heap = new WakeupHeap();
    heap.assign(Float64Array.of(5, 3, 9), Int32Array.of(1, 2, 3));
    heap.push(1, 4);
    heap.push(7, 5);
    expect(drain(heap)).toEqual([
      [1, 4],
      [3, 2],
      [5, 1],
      [7, 5],
      [9, 3],
    ]);
  });
});
