/** Time as segsync sees it. Injected everywhere so a 24-hour rule or a 10-second rate window can be
 * tested in milliseconds. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
  /** Real milliseconds that `ms` of this clock's time last; absent for clocks real time does not drive. */
  realMs?(ms: number): number;
}

/** The wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
  realMs: (ms) => ms,
};

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** A clock that moves only when told to: `advance(ms)` wakes every sleeper whose time has come. */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.sleepers.push({ at: this.current + ms, resolve }));
  }

  /** Moves time forward, waking sleepers in time order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      this.sleepers.sort((a, b) => a.at - b.at);
      const next = this.sleepers[0];
      if (!next || next.at > target) break;
      this.sleepers.shift();
      this.current = next.at;
      next.resolve();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }

  /** Sets the time (forward only) and wakes due sleepers. */
  async set(time: number | Date): Promise<void> {
    const t = typeof time === 'number' ? time : time.getTime();
    await this.advance(Math.max(0, t - this.current));
  }

  /** How many sleepers are waiting (for tests that step until work is done). */
  get pending(): number {
    return this.sleepers.length;
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Wall time, shifted and optionally sped up: `jump(ms)` moves it forward at once (tests of 24-hour
 * rules against real servers), `speed` makes it run faster than real time (the demo). Sleeps last
 * the real time that corresponds, so timers keep working.
 */
export class ShiftedClock implements Clock {
  private offset = 0;
  private readonly realStart = Date.now();
  private readonly start: number;

  constructor(
    start: number = Date.now(),
    private readonly speed = 1,
  ) {
    this.start = start;
  }

  now(): number {
    return Math.floor(this.start + (Date.now() - this.realStart) * this.speed + this.offset);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.realMs(ms)));
  }

  realMs(ms: number): number {
    return Math.max(0, ms / this.speed);
  }

  /** Moves time forward by `ms` at once. */
  jump(ms: number): void {
    this.offset += Math.max(0, ms);
  }
}
