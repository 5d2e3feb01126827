/**
 * HubSpot's published limits as segsync's limiter declares them.
 * Burst and daily figures: developers.hubspot.com/changelog/increasing-our-api-limits (private apps).
 * Search is exempt from the ten-secondly window (`x-hubspot-rate-limit-exemptions: ["ten-secondly"]` on
 * `POST /crm/v3/objects/contacts/search` in the published spec) and has its own per-second limit.
 */
import type { EspLimits, RateWindow } from '../connector';

export type HubspotTier = 'free' | 'starter' | 'professional' | 'enterprise';

/** Window names the connector's limiter uses; 429 `policyName`s map onto them. */
export const WINDOW = { burst: 'burst', search: 'search', daily: 'daily' } as const;
export type HubspotWindow = (typeof WINDOW)[keyof typeof WINDOW];

/** Limiter buckets: every call draws from one. */
export const BUCKET = { default: 'default', search: 'search' } as const;
export type HubspotBucket = (typeof BUCKET)[keyof typeof BUCKET];

/** Inputs per contacts batch call (create/update/upsert/read/archive). */
export const MAX_BATCH = 100;
/** Largest `limit` the search endpoint accepts (spec: "up to 200 objects"). */
export const SEARCH_PAGE = 200;
/** Results one search query can page through before HubSpot refuses `after`. */
export const SEARCH_CAP = 10_000;

const TIER_BURST: Record<HubspotTier, number> = { free: 100, starter: 100, professional: 190, enterprise: 190 };
const TIER_DAILY: Record<HubspotTier, number> = { free: 250_000, starter: 250_000, professional: 650_000, enterprise: 1_000_000 };

export interface HubspotLimitOptions {
  tier?: HubspotTier;
  /** Overrides the tier's ten-second limit (an API capacity pack: 250). */
  requestsPer10s?: number;
  dailyLimit?: number;
  /** Search requests per second (HubSpot documents 4; peers use 5). */
  searchPerSecond?: number;
  /** Calls in flight at once. */
  maxConcurrency?: number;
  /** Replaces whole windows, e.g. a tightened-but-proportional burst window in tests and benchmarks. */
  windows?: Partial<Record<HubspotWindow, RateWindow>>;
}

/** The limits a HubSpot account of this tier declares to the shared limiter. */
export function hubspotLimits(options: HubspotLimitOptions = {}): EspLimits {
  const tier = options.tier ?? 'free';
  return {
    maxBatch: { upsert: MAX_BATCH },
    windows: {
      [WINDOW.burst]: options.windows?.burst ?? { limit: options.requestsPer10s ?? TIER_BURST[tier], windowMs: 10_000, kind: 'rolling' },
      [WINDOW.search]: options.windows?.search ?? { limit: options.searchPerSecond ?? 4, windowMs: 1_000, kind: 'rolling' },
      [WINDOW.daily]: options.windows?.daily ?? { limit: options.dailyLimit ?? TIER_DAILY[tier], windowMs: 86_400_000, kind: 'rolling' },
    },
    buckets: {
      [BUCKET.default]: [WINDOW.burst, WINDOW.daily],
      [BUCKET.search]: [WINDOW.search, WINDOW.daily],
    },
    maxConcurrency: options.maxConcurrency ?? 10,
  };
}
