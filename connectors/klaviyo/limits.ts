/**
 * Klaviyo's published limits, per endpoint, as `EspLimits` for the shared rate limiter.
 *
 * Klaviyo counts fixed windows per account and endpoint: a 1-second burst and a 1-minute steady
 * window (values from the spec's `x-klaviyo-ratelimit`, revision 2026-07-15). Each bucket below is
 * one endpoint group with its own counters, so a busy profile sync does not starve erasures.
 */
import type { EspLimits, RateWindow } from '../connector';

/** The limiter buckets the Klaviyo connector calls through. */
export type KlaviyoBucket = 'profiles' | 'bulkJobs' | 'listMembers' | 'lists' | 'listCreate' | 'subscriptions' | 'dataPrivacy' | 'events' | 'metrics';

function tier(limitPerSecond: number, limitPerMinute: number): [RateWindow, RateWindow] {
  return [
    { limit: limitPerSecond, windowMs: 1_000, kind: 'fixed' },
    { limit: limitPerMinute, windowMs: 60_000, kind: 'fixed' },
  ];
}

/** Burst and steady limit per bucket: [per second, per minute]. */
export const KLAVIYO_ENDPOINT_LIMITS: Record<KlaviyoBucket, [number, number]> = {
  profiles: [75, 750],
  bulkJobs: [10, 150],
  listMembers: [10, 150],
  lists: [75, 750],
  listCreate: [10, 150],
  subscriptions: [75, 750],
  dataPrivacy: [3, 60],
  events: [350, 3500],
  metrics: [10, 150],
};

/** Largest profile bulk import job (profiles) and body size (bytes), per the spec. */
export const BULK_IMPORT_MAX_PROFILES = 10_000;
export const BULK_IMPORT_MAX_BYTES = 5 * 1024 * 1024;
/** Largest single profile payload, bytes. */
export const PROFILE_MAX_BYTES = 100 * 1024;
/** List add/remove: profiles per call. */
export const LIST_MEMBERS_MAX = 1_000;
/** Subscribe job: profiles per job; unsubscribe job: profiles per job. */
export const SUBSCRIBE_MAX = 1_000;
export const UNSUBSCRIBE_MAX = 100;
/** `GET /api/profiles` page size maximum; also the number of values we put in one `any()` filter. */
export const PROFILES_PAGE_MAX = 100;
/** `GET /api/events`: the description caps pages at 200 even though the schema says 1000. */
export const EVENTS_PAGE_MAX = 200;

/** Builds the connector's declared limits. `maxConcurrency` bounds sockets per account. */
export function klaviyoLimits(maxConcurrency = 10): EspLimits {
  const windows: Record<string, RateWindow> = {};
  const buckets: Record<string, string[]> = {};
  for (const [bucket, [perSecond, perMinute]] of Object.entries(KLAVIYO_ENDPOINT_LIMITS)) {
    const [burst, steady] = tier(perSecond, perMinute);
    windows[`${bucket}.burst`] = burst;
    windows[`${bucket}.steady`] = steady;
    buckets[bucket] = [`${bucket}.burst`, `${bucket}.steady`];
  }
  // Klaviyo allows 150 list creations a day on top of the minute windows.
  windows['listCreate.daily'] = { limit: 150, windowMs: 86_400_000, kind: 'fixed' };
  buckets['listCreate'] = ['listCreate.burst', 'listCreate.steady', 'listCreate.daily'];
  return {
    maxBatch: { upsert: BULK_IMPORT_MAX_PROFILES },
    windows,
    buckets,
    maxConcurrency,
  };
}
