/**
 * The one rate limiter every vendor call goes through. Built from a connector's declared `EspLimits`.
 *
 * Written by hand because no maintained library combines what the three vendors need at once: several
 * named windows per call (HubSpot's rolling 10 s plus a daily budget; Klaviyo's fixed 1 s burst plus
 * 1 min steady, per endpoint), a concurrency cap (Mailchimp's 10 connections), pauses fed back from
 * 429 answers and rate headers, a concurrency cap that learns from refusals, and an injectable clock
 * so a 10-second window is tested in milliseconds. (Bottleneck has one reservoir per limiter and its
 * own timers.)
 */
import { EspRateLimitError } from '../src/errors';
import type { Clock } from '../src/model/clock';
import { systemClock } from '../src/model/clock';
import type { EspLimits, RateStats, RateWindow } from './connector';

interface WindowState {
  name: string;
  spec: RateWindow;
  /** Start times of calls inside the current rolling window (ring-free: trimmed from the front). */
  log: number[];
  head: number;
  /** Fixed windows: start of the current window and calls counted in it. */
  fixedStart: number;
  fixedCount: number;
  /** The vendor told us to hold off until then (429, remaining = 0). */
  pausedUntil: number;
}

export interface RunOptions {
  /** Throw `EspRateLimitError` instead of waiting longer than this (e.g. a spent daily budget). */
  maxWaitMs?: number;
  /**
   * Types fn's failure while its slot is still held, so a pause or a narrower cap it calls for holds
   * before the slot is handed to the next call. Returns what to throw.
   */
  onFailure?: (err: unknown, slot: Slot) => unknown;
}

/** The slot a call was given. */
export interface Slot {
  /** Calls of this limiter in flight when this one was let go, itself included. */
  inFlight: number;
}

export interface LimiterStats {
  calls: Record<string, number>;
  /** Calls allowed in flight now: the declared cap, or less after refusals for too many connections. */
  concurrency: number;
  /** Total time callers spent waiting for a slot, ms. */
  waitedMs: number;
  /** Pauses fed back from vendor answers. */
  pauses: number;
}

/**
 * How long a narrowed concurrency holds without a refusal before one more call may go at once. Another
 * tool's sync holds connections for minutes, and each probe that finds them still held costs a refusal
 * and a pause of the whole account, so probes are spaced in time rather than in calls.
 */
const WIDEN_AFTER_MS = 30_000;

/** Per-account limiter: `run(bucket, fn)` waits for a slot in every window of the bucket, then calls fn. */
export class RateLimiter {
  private readonly windows = new Map<string, WindowState>();
  private readonly buckets: Record<string, string[]>;
  private readonly maxConcurrency: number;
  /** The cap in force: lowered by `narrowConcurrency`, raised back one step per WIDEN_AFTER_MS without a refusal. */
  private concurrency: number;
  private narrowedAt = 0;
  private inFlight = 0;
  private readonly concurrencyWaiters: (() => void)[] = [];
  /** Acquisitions are serialised per bucket so callers are served in arrival order. */
  private readonly gates = new Map<string, Promise<unknown>>();
  private readonly statsData: Omit<LimiterStats, 'concurrency'> = { calls: {}, waitedMs: 0, pauses: 0 };

  constructor(
    limits: Pick<EspLimits, 'windows' | 'buckets' | 'maxConcurrency'>,
    private readonly clock: Clock = systemClock,
    private readonly esp = 'esp',
  ) {
    for (const [name, spec] of Object.entries(limits.windows)) {
      if (!(spec.limit > 0) || !(spec.windowMs > 0)) {
        throw new RangeError(`rate window "${name}" needs a positive limit and windowMs`);
      }
      this.windows.set(name, { name, spec, log: [], head: 0, fixedStart: 0, fixedCount: 0, pausedUntil: 0 });
    }
    for (const [bucket, names] of Object.entries(limits.buckets)) {
      for (const n of names) {
        if (!this.windows.has(n)) throw new RangeError(`bucket "${bucket}" names unknown window "${n}"`);
      }
    }
    this.buckets = limits.buckets;
    this.maxConcurrency = Math.max(1, limits.maxConcurrency);
    this.concurrency = this.maxConcurrency;
  }

  /** Runs `fn` once every window of `bucket` has room and a concurrency slot is free. */
  async run<T>(bucket: string, fn: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    const names = this.buckets[bucket];
    if (!names) throw new RangeError(`unknown rate-limit bucket "${bucket}"`);
    const previous = this.gates.get(bucket) ?? Promise.resolve();
    const acquired = previous.then(() => this.acquire(bucket, names, options));
    this.gates.set(
      bucket,
      acquired.catch(() => undefined),
    );
    const slot: Slot = { inFlight: await acquired };
    try {
      const result = await fn();
      this.passed();
      return result;
    } catch (err) {
      throw options.onFailure ? options.onFailure(err, slot) : err;
    } finally {
      this.release();
    }
  }

  /**
   * The vendor refused a call for too many connections while `sentWith` of ours were in flight (it
   * included): something else holds the rest of the account's connections, so ours stay below that.
   */
  narrowConcurrency(sentWith: number): void {
    if (sentWith < 1) return;
    this.concurrency = Math.max(1, Math.min(this.concurrency, sentWith - 1));
    this.narrowedAt = this.clock.now();
  }

  /** Holds every window of `bucket` (or one window, by name) until `retryAfterMs` from now. */
  pause(bucketOrWindow: string, retryAfterMs: number): void {
    const until = this.clock.now() + Math.max(0, retryAfterMs);
    const names = this.buckets[bucketOrWindow] ?? (this.windows.has(bucketOrWindow) ? [bucketOrWindow] : []);
    for (const n of names) {
      const w = this.windows.get(n);
      if (w && w.pausedUntil < until) w.pausedUntil = until;
    }
    this.statsData.pauses++;
  }

  /** Feeds a vendor's "remaining calls" header back: at zero, the window holds until its reset. */
  observeRemaining(windowName: string, remaining: number, resetInMs: number): void {
    const w = this.windows.get(windowName);
    if (!w || remaining > 0) return;
    const until = this.clock.now() + Math.max(0, resetInMs);
    if (w.pausedUntil < until) w.pausedUntil = until;
  }

  /** How long a call in `bucket` would wait right now, ms (0 when it could go at once). */
  waitFor(bucket: string): number {
    const names = this.buckets[bucket] ?? [];
    const now = this.clock.now();
    let at = now;
    for (const n of names) at = Math.max(at, this.earliestSlot(this.windows.get(n)!, now));
    return at - now;
  }

  stats(): LimiterStats {
    return { ...this.statsData, calls: { ...this.statsData.calls }, concurrency: this.concurrency };
  }

  /** Waits for a slot and takes it; returns the calls in flight with it. */
  private async acquire(bucket: string, names: string[], options: RunOptions): Promise<number> {
    const started = this.clock.now();
    for (;;) {
      const now = this.clock.now();
      let at = now;
      for (const n of names) at = Math.max(at, this.earliestSlot(this.windows.get(n)!, now));
      if (at <= now) {
        if (this.inFlight < this.concurrency) break;
        // The call that frees the slot may have been refused and paused the account: look again once it is free.
        await new Promise<void>((resolve) => this.concurrencyWaiters.push(resolve));
        continue;
      }
      if (options.maxWaitMs !== undefined && at - now > options.maxWaitMs) {
        const limited = names.filter((n) => this.earliestSlot(this.windows.get(n)!, now) > now);
        throw new EspRateLimitError(`${this.esp}: rate window ${limited.join(', ')} is spent`, {
          esp: this.esp,
          retryAfterMs: at - now,
          budgetExhausted: true,
          hint: `calls resume in ${Math.ceil((at - now) / 1000)} s; segsync keeps the work queued`,
        });
      }
      // A release may have woken this call for a free slot it cannot use yet: another bucket's call can.
      if (this.inFlight < this.concurrency) this.concurrencyWaiters.shift()?.();
      await this.clock.sleep(at - now);
    }
    const now = this.clock.now();
    for (const n of names) this.record(this.windows.get(n)!, now);
    this.inFlight++;
    this.statsData.calls[bucket] = (this.statsData.calls[bucket] ?? 0) + 1;
    this.statsData.waitedMs += now - started;
    return this.inFlight;
  }

  /** Whoever held the connections may have let go: a call went through long after the last refusal, so try one more. */
  private passed(): void {
    const now = this.clock.now();
    if (this.concurrency >= this.maxConcurrency || now - this.narrowedAt < WIDEN_AFTER_MS) return;
    this.concurrency++;
    this.narrowedAt = now;
    this.concurrencyWaiters.shift()?.();
  }

  private release(): void {
    this.inFlight--;
    this.concurrencyWaiters.shift()?.();
  }

  /** The earliest time (>= now) at which the window admits one more call. */
  private earliestSlot(w: WindowState, now: number): number {
    const paused = Math.max(now, w.pausedUntil);
    if (w.spec.kind === 'fixed') {
      const start = Math.floor(paused / w.spec.windowMs) * w.spec.windowMs;
      if (start !== w.fixedStart || w.fixedCount < w.spec.limit) return paused;
      return start + w.spec.windowMs;
    }
    while (w.head < w.log.length && w.log[w.head]! <= now - w.spec.windowMs) w.head++;
    if (w.head > 1024 && w.head * 2 > w.log.length) {
      w.log = w.log.slice(w.head);
      w.head = 0;
    }
    const count = w.log.length - w.head;
    if (count < w.spec.limit) return paused;
    // The call that frees a slot is the one `limit` places back from the end.
    const freeing = w.log[w.log.length - w.spec.limit]!;
    return Math.max(paused, freeing + w.spec.windowMs);
  }

  private record(w: WindowState, now: number): void {
    if (w.spec.kind === 'fixed') {
      const start = Math.floor(now / w.spec.windowMs) * w.spec.windowMs;
      if (start !== w.fixedStart) {
        w.fixedStart = start;
        w.fixedCount = 0;
      }
      w.fixedCount++;
      return;
    }
    w.log.push(now);
  }
}

/** The time a rate-limited run of `calls` calls must take at least, ms (for plans and benchmarks). */
export function minimumDurationMs(calls: number, windows: RateWindow[]): number {
  let bound = 0;
  for (const w of windows) {
    if (calls <= w.limit) continue;
    bound = Math.max(bound, Math.ceil(calls / w.limit - 1) * w.windowMs);
  }
  return bound;
}

/** A limiter's counters as a connector reports them (`Connector.rateStats`). */
export function rateStatsOf(limiter: RateLimiter): RateStats {
  const s = limiter.stats();
  return { rateLimited: s.pauses, waitedMs: s.waitedMs };
}
