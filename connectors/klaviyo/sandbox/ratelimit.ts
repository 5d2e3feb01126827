/**
 * The sandbox's rate limits: Klaviyo's per-endpoint fixed windows (1 s burst, 1 min steady), counted
 * per route group with the connector's bucket names, answering 429 with `Retry-After` past the window
 * and `RateLimit-*` headers otherwise.
 */
import type { Clock } from '../../../src/model/clock';
import type { RateWindow, SandboxOptions } from '../../connector';
import { KLAVIYO_ENDPOINT_LIMITS, type KlaviyoBucket } from '../limits';

/** Which limiter bucket (with the connector's names) each route counts against. */
export const ROUTE_BUCKETS: Record<string, SandboxBucket> = {
  'GET /api/profiles': 'profiles',
  'POST /api/profiles': 'profiles',
  'GET /api/profiles/:id': 'profiles',
  'PATCH /api/profiles/:id': 'profiles',
  'POST /api/profile-import': 'profiles',
  'POST /api/profile-bulk-import-jobs': 'bulkJobs',
  'GET /api/profile-bulk-import-jobs/:id': 'bulkJobs',
  'GET /api/profile-bulk-import-jobs/:id/import-errors': 'bulkJobs',
  'GET /api/profile-bulk-import-jobs/:id/profiles': 'bulkJobs',
  'POST /api/profile-subscription-bulk-create-jobs': 'subscriptions',
  'POST /api/profile-subscription-bulk-delete-jobs': 'subscriptions',
  'GET /api/lists': 'lists',
  'POST /api/lists': 'listCreate',
  'POST /api/lists/:id/relationships/profiles': 'listMembers',
  'DELETE /api/lists/:id/relationships/profiles': 'listMembers',
  'GET /api/metrics': 'metrics',
  'GET /api/events': 'events',
  'POST /api/events': 'events',
  'POST /api/data-privacy-deletion-jobs': 'dataPrivacy',
  'GET /api/webhooks': 'webhooks',
  'POST /api/webhooks': 'webhooks',
  'DELETE /api/webhooks/:id': 'webhooks',
  'GET /api/webhook-topics': 'webhooks',
  'GET /api/lists/:id': 'lists',
  'GET /api/lists/:id/profiles': 'lists',
  'GET /api/profiles/:id/lists': 'profiles',
  'GET /api/segments': 'lists',
  'GET /api/tags': 'lists',
  'POST /api/profile-suppression-bulk-create-jobs': 'subscriptions',
  'POST /api/profile-suppression-bulk-delete-jobs': 'subscriptions',
  'GET /api/profile-suppression-bulk-create-jobs/:id': 'subscriptions',
  'GET /api/profile-suppression-bulk-delete-jobs/:id': 'subscriptions',
};

/** Endpoints the connector never calls but the sandbox serves (webhook management: 1/s · 15/m). */
const SANDBOX_ONLY_LIMITS = { webhooks: [1, 15] } as const;
export type SandboxBucket = KlaviyoBucket | keyof typeof SANDBOX_ONLY_LIMITS;

interface WindowCount {
  start: number;
  count: number;
}

/** Fixed-window counters per bucket, as Klaviyo counts: 1 s burst and 1 min steady. */
export class SandboxLimits {
  private readonly counts = new Map<string, WindowCount>();
  constructor(
    private readonly clock: Clock,
    private readonly windows: Record<string, RateWindow> | undefined,
  ) {}

  /** Counts a call; returns the 429 wait (s) or the headers to send. */
  take(bucket: SandboxBucket): { retryAfter: number } | { headers: Record<string, string> } {
    if (!this.windows) return { headers: {} };
    const now = this.clock.now();
    const names = [`${bucket}.burst`, `${bucket}.steady`];
    let tightest: { remaining: number; reset: number; limit: number } | undefined;
    for (const name of names) {
      const w = this.windows[name];
      if (!w) continue;
      const start = Math.floor(now / w.windowMs) * w.windowMs;
      const c = this.counts.get(name);
      const count = c && c.start === start ? c.count : 0;
      if (count >= w.limit) return { retryAfter: Math.max(1, Math.ceil((start + w.windowMs - now) / 1000)) };
      const remaining = w.limit - count - 1;
      const reset = Math.max(1, Math.ceil((start + w.windowMs - now) / 1000));
      if (!tightest || remaining < tightest.remaining) tightest = { remaining, reset, limit: w.limit };
    }
    for (const name of names) {
      const w = this.windows[name];
      if (!w) continue;
      const start = Math.floor(now / w.windowMs) * w.windowMs;
      const c = this.counts.get(name);
      this.counts.set(name, c && c.start === start ? { start, count: c.count + 1 } : { start, count: 1 });
    }
    return tightest
      ? { headers: { 'RateLimit-Limit': String(tightest.limit), 'RateLimit-Remaining': String(tightest.remaining), 'RateLimit-Reset': String(tightest.reset) } }
      : { headers: {} };
  }
}

/** The sandbox's rate windows: Klaviyo's by default, overridden per window name (`profiles.burst`). */
export function sandboxWindows(option: SandboxOptions['rateLimits']): Record<string, RateWindow> | undefined {
  if (option === false) return undefined;
  const windows: Record<string, RateWindow> = {};
  for (const [bucket, [perSecond, perMinute]] of Object.entries({ ...KLAVIYO_ENDPOINT_LIMITS, ...SANDBOX_ONLY_LIMITS })) {
    windows[`${bucket}.burst`] = { limit: perSecond, windowMs: 1_000, kind: 'fixed' };
    windows[`${bucket}.steady`] = { limit: perMinute, windowMs: 60_000, kind: 'fixed' };
  }
  return typeof option === 'object' ? { ...windows, ...option } : windows;
}
