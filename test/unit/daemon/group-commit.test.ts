import { GroupCommit } from '../../../src/daemon/group-commit';
import type { IntakeResult } from '../../../src/daemon/services';

const result = (n: number): IntakeResult => ({ inserted: n, duplicates: 0, reevaluated: 0, flips: 0, conflicts: [] });

describe('GroupCommit', () => {
  it('stores records added in the same event-loop turn with one write', async () => {
    const writes: number[][] = [];
    const results: IntakeResult[] = [];
    const group = new GroupCommit<number>(
      async (items) => {
        writes.push(items);
        return result(items.length);
      },
      (r) => results.push(r),
    );
    await Promise.all([group.add([1]), group.add([2, 3]), group.add([4])]);
    expect(writes).toEqual([[1, 2, 3, 4]]);
    expect(results).toEqual([result(4)]);
  });

  it('runs one write at a time and groups what arrives meanwhile into the next', async () => {
    const writes: number[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let release!: () => void;
    let gate: Promise<void> | undefined = new Promise<void>((r) => (release = r));
    const group = new GroupCommit<number>(
      async (items) => {
        writes.push(items);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (gate) await gate;
        inFlight--;
        return result(items.length);
      },
      () => undefined,
    );
    const first = group.add([1]);
    await new Promise((r) => setImmediate(r));
    const later = [group.add([2]), group.add([3])];
    await new Promise((r) => setImmediate(r));
    gate = undefined;
    release();
    await Promise.all([first, ...later]);
    expect(writes).toEqual([[1], [2, 3]]);
    expect(maxInFlight).toBe(1);
  });

  it('rejects every caller of a failed group, and the next group still writes', async () => {
    let fail = true;
    const group = new GroupCommit<number>(
      async (items) => {
        if (fail) throw new Error('disk full');
        return result(items.length);
      },
      () => undefined,
    );
    const outcomes = await Promise.allSettled([group.add([1]), group.add([2])]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(group.add([3])).resolves.toEqual({ conflicts: [], warnings: [] });
  });

  it('fails only the caller whose records fail: the others of its group are written again alone and succeed', async () => {
    const writes: number[][] = [];
    const group = new GroupCommit<number>(
      async (items) => {
        writes.push(items);
        if (items.includes(666)) throw new Error('poison');
        return result(items.length);
      },
      () => undefined,
    );
    const outcomes = await Promise.allSettled([group.add([1]), group.add([2, 666]), group.add([3])]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(writes).toEqual([[1, 2, 666, 3], [1], [2, 666], [3]]);
  });

  it('tells each caller which of its own records conflicted, and which were stored with a warning', async () => {
    const group = new GroupCommit<number>(
      async (items) => ({
        ...result(items.length),
        conflicts: items.flatMap((v, i) => (v < 0 ? [i] : [])),
        warnings: items.flatMap((v, i) => (v === 7 ? [{ index: i, field: 'consent', message: `seven at ${i}` }] : [])),
      }),
      () => undefined,
    );
    const [a, b, c] = await Promise.all([group.add([1, -1]), group.add([2, 7]), group.add([-3, 7, -3])]);
    expect([a.conflicts, b.conflicts, c.conflicts]).toEqual([[1], [], [0, 2]]);
    expect([a.warnings, b.warnings, c.warnings]).toEqual([
      [],
      [{ index: 1, field: 'consent', message: 'seven at 3' }],
      [{ index: 1, field: 'consent', message: 'seven at 5' }],
    ]);
  });
});
