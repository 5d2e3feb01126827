import { NextChanges } from '../../../src/rules/next-changes';

describe('NextChanges', () => {
  it('keeps times, Infinity and "not computed" per id, grows past its end, and snapshots up to the largest id set', () => {
    const t = new NextChanges(3, Infinity);
    expect([0, 1, 2, 3].map((id) => t.get(id))).toEqual([Infinity, Infinity, Infinity, undefined]);
    t.set(1, 1.7e12);
    t.set(10, 5);
    t.set(2, undefined);
    expect([1, 2, 5, 10, 11].map((id) => t.get(id))).toEqual([1.7e12, undefined, undefined, 5, undefined]);
    const { times, ids } = t.finite();
    expect([...ids]).toEqual([1, 10]);
    expect([...times]).toEqual([1.7e12, 5]);
    const saved = t.snapshot();
    expect(saved.length).toBe(11);
    const back = NextChanges.adopt(saved.slice());
    for (let id = 0; id < 12; id++) expect(back.get(id)).toBe(t.get(id));
    for (let id = 11; id < 5000; id++) t.set(id, id);
    expect(t.get(4999)).toBe(4999);
    expect(t.get(10)).toBe(5);
    expect(t.get(1)).toBe(1.7e12);
    expect(t.snapshot().length).toBe(5000);
  });
});
