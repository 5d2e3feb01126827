/** The options of a Klaviyo connector and what every operation file shares. */
import type { Clock } from '../../src/model/clock';
import type { ConnectorLogger, ConnectorNotes } from '../connector';
import type { UnfinishedJobs } from '../unfinished-jobs';
import { DEFAULT_LIST_PREFIX, DEFAULT_TAG_PROPERTY } from '../definition';
import type { KlaviyoClient } from './client';
import { KLAVIYO_DEFAULTS } from './definition';

export interface KlaviyoConnectorOptions {
  /** Private API key (`pk_…`), from the environment. */
  apiKey: string;
  /** Another API origin, e.g. the sandbox's `http://127.0.0.1:4010`. */
  baseUrl?: string;
  /** The list-valued profile property that holds segsync's tags. Default `segsync_tags`. */
  tagProperty?: string;
  /**
   * Also mirror tags as static lists: `true` finds or creates one list per tag named
   * `<listPrefix><tag>`; a map names the list id per tag (unmapped tags stay property-only).
   */
  tagLists?: boolean | Record<string, string>;
  /** Name prefix of the lists created for tags. Default `segsync: `. */
  listPrefix?: string;
  /** The secret key of the system webhook (`secret_key`), from the environment. */
  webhookSecret?: string;
  /** Oldest acceptable `Klaviyo-Timestamp`, ms. Default 5 minutes. */
  webhookToleranceMs?: number;
  /** A batch with at least this many sendable changes goes through a bulk import job. Default 100. */
  bulkThreshold?: number;
  /** Profiles per bulk import job (at most 10,000). */
  bulkMaxProfiles?: number;
  /** Bytes per bulk import job body (at most 5 MB). */
  bulkMaxBytes?: number;
  /** How often a bulk import job is polled, ms. Default 1,000. */
  jobPollIntervalMs?: number;
  /** Give up waiting for a bulk job after this long (the contacts are retried later), ms. Default 10 minutes. */
  jobTimeoutMs?: number;
  /** Metric names pulled as engagement events. */
  eventMetrics?: string[];
  /** Subscribe new consenting profiles to this list (its opt-in setting applies) instead of account level. */
  subscribeListId?: string;
  /** Per-request timeout, ms. Default 30 s. */
  timeoutMs?: number;
  /** Retries inside one call after 429/5xx/network failures. Default 3. */
  maxRetries?: number;
  /** Calls in flight at once. Default 10. */
  maxConcurrency?: number;
}

/** The engagement metrics pulled by default (Klaviyo's own email metrics and the usual commerce ones). */
export const DEFAULT_EVENT_METRICS = [
  'Received Email',
  'Opened Email',
  'Clicked Email',
  'Bounced Email',
  'Marked Email as Spam',
  'Unsubscribed',
  'Placed Order',
  'Ordered Product',
  'Started Checkout',
  'Added to Cart',
  'Viewed Product',
  'Active on Site',
];

export type ResolvedOptions = Required<Omit<KlaviyoConnectorOptions, 'baseUrl' | 'webhookSecret' | 'subscribeListId'>> &
  Pick<KlaviyoConnectorOptions, 'baseUrl' | 'webhookSecret' | 'subscribeListId'>;

/** Fills defaults and clamps to Klaviyo's maxima. */
export function resolveOptions(options: KlaviyoConnectorOptions): ResolvedOptions {
  return {
    apiKey: options.apiKey,
    baseUrl: options.baseUrl,
    tagProperty: options.tagProperty ?? DEFAULT_TAG_PROPERTY,
    tagLists: options.tagLists ?? false,
    listPrefix: options.listPrefix ?? DEFAULT_LIST_PREFIX,
    webhookSecret: options.webhookSecret,
    webhookToleranceMs: options.webhookToleranceMs ?? 5 * 60_000,
    bulkThreshold: Math.max(1, options.bulkThreshold ?? KLAVIYO_DEFAULTS.bulkThreshold),
    bulkMaxProfiles: Math.min(10_000, Math.max(1, options.bulkMaxProfiles ?? 10_000)),
    bulkMaxBytes: Math.min(5 * 1024 * 1024, Math.max(1024, options.bulkMaxBytes ?? 5 * 1024 * 1024)),
    jobPollIntervalMs: options.jobPollIntervalMs ?? KLAVIYO_DEFAULTS.jobPollIntervalMs,
    jobTimeoutMs: options.jobTimeoutMs ?? KLAVIYO_DEFAULTS.jobTimeoutMs,
    eventMetrics: options.eventMetrics ?? DEFAULT_EVENT_METRICS,
    subscribeListId: options.subscribeListId,
    timeoutMs: options.timeoutMs ?? 30_000,
    maxRetries: options.maxRetries ?? 3,
    maxConcurrency: options.maxConcurrency ?? 10,
  };
}

/** What every operation file gets. */
export interface KlaviyoContext {
  client: KlaviyoClient;
  options: ResolvedOptions;
  clock: Clock;
  logger: ConnectorLogger;
  /** Tag → list id, for tags mirrored as lists (filled by `ensureSchema` or on first use). */
  tagLists: Map<string, string>;
  /** Bulk import jobs segsync stopped waiting for, by the emails they write: later writes to those wait for them. */
  unfinished: UnfinishedJobs;
  /** What must outlive this process: the emails segsync sent a subscribe job for (consent.ts), the unfinished jobs. */
  notes: ConnectorNotes;
}
