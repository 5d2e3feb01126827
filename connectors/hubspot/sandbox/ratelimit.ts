/**
 * The sandbox's enforcement of HubSpot's limits: a rolling ten-second window and a daily budget for
 * ordinary calls (with `X-HubSpot-RateLimit-*` headers), a per-second window for search (which is
 * exempt from the ten-second window and answers without rate headers), and HubSpot's 429 body.
 */
import type { Clock } from '../../../src/model/clock';
import type { RateWindow } from '../../connector';
import type { ErrorBody } from './errors';
import { errorBody } from './errors';

export interface SandboxLimits {
  tenSecondly: RateWindow;
  daily: RateWindow;
  search: RateWindow;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  tenSecondly: { limit: 100, windowMs: 10_000 },
  daily: { limit: 250_000, windowMs: 86_400_000 },
  search: { limit: 5, windowMs: 1_000 },
};

class RollingCounter {
  private readonly log: number[] = [];
  constructor(readonly spec: RateWindow) {}
  count(now: number): number {
    while (this.log.length > 0 && this.log[0]! <= now - this.spec.windowMs) this.log.shift();
    return this.log.length;
  }
  /** Ms until the oldest call leaves the window. */
  freesIn(now: number): number {
    return this.log.length === 0 ? 0 : Math.max(0, this.log[0]! + this.spec.windowMs - now);
  }
  add(now: number): void {
    this.log.push(now);
  }
}

export type Verdict = { ok: true; headers: Record<string, string> } | { ok: false; headers: Record<string, string>; body: ErrorBody };

export class SandboxRateLimiter {
  private readonly burst: RollingCounter;
  private readonly daily: RollingCounter;
  private readonly search: RollingCounter;
  /** 429s answered, by policy. */
  readonly rejected: Record<string, number> = {};

  constructor(
    readonly limits: SandboxLimits,
    private readonly clock: Clock,
    private readonly enabled: boolean,
    private readonly sendRetryAfter: boolean,
  ) {
    this.burst = new RollingCounter(limits.tenSecondly);
    this.daily = new RollingCounter(limits.daily);
    this.search = new RollingCounter(limits.search);
  }

  /** Counts one call, or refuses it with HubSpot's 429 body. */
  admit(isSearch: boolean): Verdict {
    const now = this.clock.now();
    const dailyUsed = this.daily.count(now);
    // A sandbox without limits claims none: headers announcing a limit it does not enforce would slow
    // the connector down to it for nothing.
    if (!this.enabled) return { ok: true, headers: {} };
    if (dailyUsed >= this.limits.daily.limit) return this.reject('DAILY', 'You have reached your daily limit.', now, this.daily.freesIn(now));
    if (isSearch) {
      if (this.search.count(now) >= this.limits.search.limit)
        return this.reject('SECONDLY', 'You have reached your secondly limit.', now, this.search.freesIn(now), true);
      this.search.add(now);
      this.daily.add(now);
      return { ok: true, headers: {} };
    }
    if (this.burst.count(now) >= this.limits.tenSecondly.limit)
      return this.reject('TEN_SECONDLY_ROLLING', 'You have reached your ten_secondly_rolling limit.', now, this.burst.freesIn(now));
    this.burst.add(now);
    this.daily.add(now);
    return { ok: true, headers: this.headers(now, dailyUsed + 1) };
  }

  private headers(now: number, dailyUsed: number): Record<string, string> {
    return {
      'x-hubspot-ratelimit-daily': String(this.limits.daily.limit),
      'x-hubspot-ratelimit-daily-remaining': String(Math.max(0, this.limits.daily.limit - dailyUsed)),
      'x-hubspot-ratelimit-interval-milliseconds': String(this.limits.tenSecondly.windowMs),
      'x-hubspot-ratelimit-max': String(this.limits.tenSecondly.limit),
      'x-hubspot-ratelimit-remaining': String(Math.max(0, this.limits.tenSecondly.limit - this.burst.count(now))),
    };
  }

  private reject(policyName: string, message: string, now: number, freesInMs: number, isSearch = false): Verdict {
    this.rejected[policyName] = (this.rejected[policyName] ?? 0) + 1;
    const headers = isSearch ? {} : this.headers(now, this.daily.count(now));
    if (this.sendRetryAfter) headers['retry-after'] = String(Math.max(1, Math.ceil(freesInMs / 1000)));
    return { ok: false, headers, body: errorBody('RATE_LIMITS', message, { errorType: 'RATE_LIMIT', policyName }) };
  }
}
