/**
 * Group commit for intake: records from requests that arrive in the same event-loop turn (and while
 * the previous write is running) go to the services in one call, so one store transaction and one
 * re-evaluation pass serve many concurrent track calls. Each caller learns that its records are
 * stored, and which of them conflicted with a stored record; per-group counts go to `onResult`
 * (metrics). When a group's write fails, each caller's records are written again alone, so one
 * caller's bad record fails that caller only, never the others that happened to share its commit.
 */
import type { IntakeResult } from './services';

/** What one caller's records came to: positions refused as conflicts, and positions stored with a warning. */
export type GroupAnswer = Pick<IntakeResult, 'conflicts'> & { warnings: NonNullable<IntakeResult['warnings']> };

interface Waiter<T> {
  items: T[];
  resolve: (answer: GroupAnswer) => void;
  reject: (err: unknown) => void;
}

/** Batches `add` calls into `write` calls, one at a time. */
export class GroupCommit<T> {
  private waiters: Waiter<T>[] = [];
  private scheduled = false;
  private writing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<IntakeResult>,
    private readonly onResult: (result: IntakeResult) => void,
    private readonly onGroupFailed: (err: unknown) => void = () => undefined,
  ) {}

  /**
   * Resolves once `items` are stored (with whatever else arrived meanwhile), with the positions in
   * `items` of those refused as conflicts and of those stored with a warning.
   */
  add(items: T[]): Promise<GroupAnswer> {
    return new Promise<GroupAnswer>((resolve, reject) => {
      this.waiters.push({ items, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    // setImmediate, not a microtask: requests whose bytes arrived in this I/O phase join the group.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const waiters = this.waiters;
    this.waiters = [];
    this.writing = true;
    try {
      await this.writeGroup(waiters);
    } finally {
      this.writing = false;
      if (this.waiters.length) this.schedule();
    }
  }

  private async writeGroup(waiters: Waiter<T>[]): Promise<void> {
    const items = waiters.flatMap((w) => w.items);
    let result: IntakeResult;
    try {
      result = await this.write(items);
    } catch (err) {
      if (waiters.length === 1) {
        waiters[0]!.reject(err);
        return;
      }
      this.onGroupFailed(err);
      for (const w of waiters) await this.writeGroup([w]);
      return;
    }
    this.onResult(result);
    const conflicts = [...result.conflicts].sort((a, b) => a - b);
    const warnings = [...(result.warnings ?? [])].sort((a, b) => a.index - b.index);
    let offset = 0;
    for (const w of waiters) {
      const end = offset + w.items.length;
      const mine = (i: number): boolean => i >= offset && i < end;
      w.resolve({
        conflicts: conflicts.filter(mine).map((c) => c - offset),
        warnings: warnings.filter((x) => mine(x.index)).map((x) => ({ ...x, index: x.index - offset })),
      });
      offset = end;
    }
  }
}
