/** The HubSpot connector: implements `Connector` by delegating to one file per operation. */
import { rateStatsOf } from '../ratelimit';
import type { ConnectorDeps, Connector, ContactChange, ContactRef, FieldSpec, PlannedPush, PullRequest, RawRequest, RateWindow } from '../connector';
import { RateLimiter } from '../ratelimit';
import { DEFAULT_LIST_PREFIX, DEFAULT_TAG_PROPERTY } from '../definition';
import { HubspotClient } from './client';
import { DEFAULT_PROPERTY_GROUP } from './definition';
import type { HubspotContext } from './context';
import { PropertyCache, serialQueue } from './context';
import { eraseContact } from './erase';
import { estimateHubspotPush } from './estimate';
import type { HubspotTier, HubspotWindow } from './limits';
import { hubspotLimits } from './limits';
import { pullContacts } from './pull';
import { pushBatch } from './push';
import { ensureSchema } from './schema';
import { EchoGuard, parseWebhook } from './webhooks';

export interface HubspotConnectorOptions {
  /** Private app access token (from the environment). */
  accessToken: string;
  /** API base URL; default https://api.hubapi.com (a sandbox's URL in tests and the demo). */
  baseUrl?: string;
  /** Plan tier: free/starter 100 requests per 10 s, professional/enterprise 190. */
  tier?: HubspotTier;
  /** Explicit limits (an API capacity pack, or a tightened window for tests and benchmarks). */
  limits?: {
    requestsPer10s?: number;
    dailyLimit?: number;
    searchPerSecond?: number;
    maxConcurrency?: number;
    windows?: Partial<Record<HubspotWindow, RateWindow>>;
  };
  /** Multi-checkbox property holding tags (default `segsync_tags`). */
  tagProperty?: string;
  /** Also mirror tags as MANUAL lists: all tags (`true`) or these tags. Default: no lists. */
  tagLists?: boolean | string[];
  /** Name prefix of tag lists (default `segsync: `). */
  listPrefix?: string;
  /** Property group segsync creates its properties in (default `segsync`). */
  propertyGroup?: string;
  /** The app's client secret, for `X-HubSpot-Signature-v3`. */
  clientSecret?: string;
  /** The public URL HubSpot delivers webhooks to, exactly as configured in the app (signatures cover it). */
  webhookUrl?: string;
  /** segsync's HubSpot app id: propertyChanges with this `sourceId` are echoes of its own writes. */
  appId?: string;
  /** Email subscription types an unsubscribe covers (default: every active one on the account). */
  subscriptionIds?: string[];
  /** No byte from HubSpot for this long fails a call as a timeout (default 30 s). */
  timeoutMs?: number;
  /** Attempts per call for 5xx, timeouts and ten-secondly 429s (default 5). */
  maxAttempts?: number;
  /** First backoff step for 5xx and timeouts (default 500 ms). */
  backoffMs?: number;
}

/** Builds the HubSpot connector. */
export function createHubspotConnector(
  options: HubspotConnectorOptions,
  deps: ConnectorDeps,
): Connector & { readonly client: HubspotClient; readonly limiter: RateLimiter } {
  const limits = hubspotLimits({ ...(options.tier ? { tier: options.tier } : {}), ...options.limits });
  const limiter = new RateLimiter(limits, deps.clock, 'hubspot');
  const client = new HubspotClient(
    {
      accessToken: options.accessToken,
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
      ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
    },
    limiter,
    deps.clock,
    deps.logger,
    limits.windows.burst!,
  );
  const ctx: HubspotContext = {
    client,
    clock: deps.clock,
    logger: deps.logger,
    settings: {
      tagProperty: options.tagProperty ?? DEFAULT_TAG_PROPERTY,
      propertyGroup: options.propertyGroup ?? DEFAULT_PROPERTY_GROUP,
      tagLists: options.tagLists ?? false,
      listPrefix: options.listPrefix ?? DEFAULT_LIST_PREFIX,
    },
    properties: new PropertyCache(client),
    listIds: new Map(),
    echo: new EchoGuard(),
    subscriptionIds: options.subscriptionIds ? Promise.resolve(options.subscriptionIds) : undefined,
    subscriptionTypes: options.subscriptionIds?.length,
    serial: serialQueue(),
  };

  return {
    esp: 'hubspot',
    limits,
    client,
    limiter,
    ensureSchema: (fields: FieldSpec[], tags: string[]) => ensureSchema(ctx, fields, tags),
    pull: (request: PullRequest) => pullContacts(ctx, request),
    push: (batch: ContactChange[]) => pushBatch(ctx, batch),
    erase: (contact: ContactRef) => eraseContact(ctx, contact),
    estimate: (plan: PlannedPush) => estimateHubspotPush({ settings: ctx.settings, limits, subscriptionTypes: ctx.subscriptionTypes }, plan),
    webhook: (request: RawRequest) =>
      parseWebhook(
        request,
        {
          clientSecret: options.clientSecret,
          tagProperty: ctx.settings.tagProperty,
          ...(options.webhookUrl ? { publicUrl: options.webhookUrl } : {}),
          ...(options.appId ? { appId: options.appId } : {}),
        },
        ctx.properties.peek(),
        ctx.echo,
        deps.clock.now(),
      ),
    requestCount: () => Object.values(client.stats().requests).reduce((n, k) => n + k, 0),
    rateStats: () => rateStatsOf(limiter),
    close: async () => client.close(),
  };
}
