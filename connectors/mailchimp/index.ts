/**
 * The Mailchimp connector: one audience of one account, on the official SDK. This file wires the
 * `Connector` interface to the operation modules beside it and holds nothing else.
 */
import { rateStatsOf } from '../ratelimit';
import type {
  ChangeResult,
  Connector,
  ConnectorDeps,
  ContactChange,
  ContactRef,
  EspLimits,
  FieldSpec,
  PlannedPush,
  PullRequest,
  PushEstimate,
  RawRequest,
  RemotePage,
  SchemaReport,
  WebhookResult,
} from '../connector';
import { RateLimiter } from '../ratelimit';
import { ConfigError } from '../../src/errors';
import { MailchimpClient } from './client';
import { DEFAULT_MAX_CONNECTIONS, MAX_CONNECTIONS } from './definition';
import { eraseMember } from './erase';
import { estimateMailchimpPush } from './estimate';
import { pullPages } from './pull';
import { defaultPatchOptions, MEMBER_BATCH, pushBatch } from './push';
import type { DateFormat } from './schema';
import { MergeSchema } from './schema';
import { TagIndex } from './tags';
import { ensureWebhook, parseWebhook } from './webhooks';

export interface MailchimpConnectorOptions {
  apiKey: string;
  /** The audience (list) id. */
  listId: string;
  /** Where the API lives, without or with `/3.0` (a sandbox); default: from the key's data centre. */
  baseUrl?: string;
  /** Simultaneous connections, at most 10 (default 8, leaving room for other tools on the key). */
  maxConnections?: number;
  /** The secret token expected in webhook URLs. */
  webhookSecret?: string;
  /** segsync's public webhook endpoint: `ensureSchema` registers it (with the secret) when set. */
  webhookUrl?: string;
  /** Owned tags whose membership `pull` reconciles (tags passed to `ensureSchema` are added). */
  ownedTags?: string[];
  /** Tags starting with this are owned too: pulls reconcile their membership (`tags.owned.prefix`). */
  ownedTagPrefix?: string;
  /** `date_format` of date merge fields segsync creates (default Mailchimp's MM/DD/YYYY). */
  dateFormat?: DateFormat;
  /** Calls per second at most; Mailchimp publishes none, so this only smooths bursts (default 100). */
  requestsPerSecond?: number;
  /** Per-call timeout, ms (default 120 000, Mailchimp's own). */
  timeoutMs?: number;
  /** Tries again after a 429 before reporting it (default 3). */
  rateLimitRetries?: number;
  /** Backoff after a 429: first wait and cap, ms (default 1 000 and 60 000). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Members per pull page (default and maximum 1000). */
  pageSize?: number;
  /** Rescan an owned tag's members at least this often, ms (default 24 h). */
  tagRescanMs?: number;
  /** Known members PATCHed as one `/3.0/batches` job from this many on (default 10; see push.ts). */
  batchOperationsFrom?: number;
  /** First wait before polling a batch job, ms (default 1 000, doubled up to 30 000). */
  batchPollMs?: number;
  /** How long to wait for a batch job before its members count as a passing failure, ms (default 600 000). */
  batchTimeoutMs?: number;
  /** Share one limiter between connectors on the same API key (the connection limit is per key). */
  limiter?: RateLimiter;
}

/** The limits this connector declares to the sync engine and the shared limiter. */
export function mailchimpLimits(maxConnections: number, requestsPerSecond: number): EspLimits {
  return {
    maxBatch: { upsert: MEMBER_BATCH },
    windows: { second: { limit: requestsPerSecond, windowMs: 1000 } },
    buckets: { default: ['second'] },
    maxConcurrency: maxConnections,
  };
}

/** Builds a Mailchimp connector for one audience. */
export function createMailchimpConnector(options: MailchimpConnectorOptions, deps: ConnectorDeps): Connector {
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > MAX_CONNECTIONS) {
    throw new ConfigError(`mailchimp: maxConnections must be 1–${MAX_CONNECTIONS}, got ${maxConnections}`, {
      hint: 'Mailchimp refuses more than 10 simultaneous connections per API key',
    });
  }
  if (!options.apiKey) throw new ConfigError('mailchimp: apiKey is empty', { hint: 'set connectors.mailchimp.apiKey to ${MAILCHIMP_API_KEY}' });
  if (!options.listId)
    throw new ConfigError('mailchimp: listId is empty', { hint: 'set connectors.mailchimp.listId to the audience id (Audience → Settings)' });
  const limits = mailchimpLimits(maxConnections, options.requestsPerSecond ?? 100);
  const limiter = options.limiter ?? new RateLimiter(limits, deps.clock, 'mailchimp');
  const client = new MailchimpClient(
    {
      apiKey: options.apiKey,
      listId: options.listId,
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      timeoutMs: options.timeoutMs ?? 120_000,
      rateLimitRetries: options.rateLimitRetries ?? 3,
      backoffBaseMs: options.backoffBaseMs ?? 1000,
      backoffMaxMs: options.backoffMaxMs ?? 60_000,
    },
    limiter,
    deps.logger,
  );
  const patching = {
    ...defaultPatchOptions(deps.clock, deps.notes),
    ...(options.batchOperationsFrom !== undefined ? { batchOperationsFrom: options.batchOperationsFrom } : {}),
    ...(options.batchPollMs !== undefined ? { pollMs: options.batchPollMs } : {}),
    ...(options.batchTimeoutMs !== undefined ? { timeoutMs: options.batchTimeoutMs } : {}),
  };
  const schema = new MergeSchema(client, options.dateFormat ?? 'MM/DD/YYYY');
  const tags = new TagIndex(client);
  const ownedTags = new Set(options.ownedTags ?? []);

  return {
    esp: 'mailchimp',
    limits,

    async ensureSchema(fields: FieldSpec[], tagNames: string[]): Promise<SchemaReport> {
      const report = await schema.ensure(fields);
      for (const tag of tagNames) {
        ownedTags.add(tag);
        try {
          const { created } = await tags.ensure(tag);
          (created ? report.created : report.existing).push(`tag:${tag}`);
        } catch (err) {
          report.problems.push({
            field: `tag:${tag}`,
            message: (err as Error).message,
            ...(err instanceof Error && 'hint' in err ? { hint: String(err.hint) } : {}),
          });
        }
      }
      if (options.webhookUrl && options.webhookSecret) {
        const state = await ensureWebhook(client, options.webhookUrl, options.webhookSecret);
        (state === 'created' ? report.created : report.existing).push('webhook');
      }
      return report;
    },

    pull(request: PullRequest): AsyncIterable<RemotePage> {
      return pullPages(client, schema, tags, deps.clock, request, {
        pageSize: Math.min(options.pageSize ?? 1000, 1000),
        ownedTags: [...ownedTags],
        ...(options.ownedTagPrefix ? { ownedTagPrefix: options.ownedTagPrefix } : {}),
        tagRescanMs: options.tagRescanMs ?? 24 * 3600_000,
      });
    },

    push(batch: ContactChange[]): Promise<ChangeResult[]> {
      return pushBatch(client, schema, tags, batch, patching);
    },

    requestCount(): number {
      return client.requestCount;
    },

    erase(contact: ContactRef): Promise<ChangeResult> {
      return eraseMember(client, contact);
    },

    estimate(plan: PlannedPush): PushEstimate {
      return estimateMailchimpPush(limits, plan, patching.batchOperationsFrom);
    },

    webhook(request: RawRequest): WebhookResult {
      return parseWebhook(request, options.webhookSecret, (merges) => schema.namedFields(merges));
    },

    rateStats: () => rateStatsOf(limiter),

    async close(): Promise<void> {
      // The SDK (superagent) keeps no pool of its own beyond Node's global agent, and no timers.
    },
  };
}
