/** Counting the requests of a planned push per limiter bucket, and the least time the limits allow for them. */
import type { EspLimits, PushEstimate } from './connector';
import { minimumDurationMs } from './ratelimit';

/** Requests a connector's estimate expects, by the limiter bucket each one draws from. */
export class CallTally {
  private readonly perBucket = new Map<string, number>();
  private readonly assumed = new Set<string>();

  /** Counts `n` requests on `bucket`. */
  add(bucket: string, n = 1): void {
    if (n > 0) this.perBucket.set(bucket, (this.perBucket.get(bucket) ?? 0) + n);
  }

  /** Notes something the estimate could not know and assumed. */
  assume(what: string): void {
    this.assumed.add(what);
  }

  /** The estimate: total requests, and the least time the windows of `limits` allow for them. */
  result(limits: EspLimits): PushEstimate {
    const perWindow = new Map<string, number>();
    for (const [bucket, n] of this.perBucket) {
      for (const w of limits.buckets[bucket] ?? []) perWindow.set(w, (perWindow.get(w) ?? 0) + n);
    }
    let minDurationMs = 0;
    for (const [name, n] of perWindow) {
      const window = limits.windows[name];
      if (window) minDurationMs = Math.max(minDurationMs, minimumDurationMs(n, [window]));
    }
    return { calls: [...this.perBucket.values()].reduce((a, b) => a + b, 0), minDurationMs, assumptions: [...this.assumed] };
  }
}
