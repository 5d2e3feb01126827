/**
 * Group commit for intake: records from requests that arrive in the same event-loop turn (and while
 * the previous write is running) go to the services in one call, so one store transaction and one
 * re-evaluation pass serve many concurrent track calls. Each caller learns only that its records are
 * stored (or the error that stopped the group); per-group counts go to `onResult` (metrics).
 */
import type { IntakeResult } from './services';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Batches `add` calls into `write` calls, one at a time. */
export class GroupCommit<T> {
  private items: T[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  private writing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<IntakeResult>,
    private readonly onResult: (result: IntakeResult) => void,
  ) {}

  /** Resolves once `items` are stored (with whatever else arrived meanwhile). */
  add(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      for (const item of items) this.items.push(item);
      this.waiters.push({ resolve, reject });
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
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    this.writing = true;
    try {
      const result = await this.write(items);
      this.onResult(result);
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    } finally {
      this.writing = false;
      if (this.waiters.length) this.schedule();
    }
  }
}
