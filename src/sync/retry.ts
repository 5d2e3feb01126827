/** Backoff for outbox operations: exponential with full jitter, capped, past the vendor's window. */
export interface RetryPolicy {
  /** First delay, ms. */
  baseMs: number;
  /** Longest delay, ms. */
  capMs: number;
  /** Failed attempts (not counting rate-limit waits) before an operation is dead-lettered. */
  maxAttempts: number;
  /** How long an operation may keep meeting rate limits, since it was queued, before it is dead-lettered, ms. */
  maxRateLimitedMs: number;
}

/** Rate-limit waits end after two days: past any vendor's daily budget reset, so only a stuck ESP hits it. */
export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1_000, capMs: 15 * 60_000, maxAttempts: 8, maxRateLimitedMs: 48 * 3600_000 };

/** Delay before attempt `attempt + 1`, never shorter than what the ESP asked for. */
export function retryDelayMs(attempt: number, policy: RetryPolicy, retryAfterMs = 0, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(retryAfterMs, Math.round(jittered));
}
