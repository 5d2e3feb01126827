/** The Klaviyo connector: the `Connector` interface over the official `klaviyo-api` SDK. */
import { rateStatsOf } from '../ratelimit';
import { memoryNotes } from '../notes';
import { UnfinishedJobs } from '../unfinished-jobs';
import type {
  ChangeResult,
  Connector,
  ConnectorDeps,
  ContactChange,
  ContactRef,
  Cursor,
  EventPage,
  FieldSpec,
  PlannedPush,
  PushEstimate,
  PullRequest,
  RawRequest,
  RemotePage,
  SchemaReport,
  WebhookResult,
} from '../connector';
import { KlaviyoClient } from './client';
import { resolveOptions, type KlaviyoConnectorOptions, type KlaviyoContext } from './context';
import { eraseContact } from './erase';
import { estimateKlaviyoPush } from './estimate';
import { pullEvents } from './events';
import { klaviyoLimits } from './limits';
import { pullProfiles } from './pull';
import { pushChanges } from './push';
import { ensureKlaviyoSchema } from './schema';
import { handleWebhook } from './webhooks';

export type { KlaviyoConnectorOptions } from './context';

/** Builds a Klaviyo connector for one account: one SDK session and one rate limiter shared by every call. */
export function createKlaviyoConnector(options: KlaviyoConnectorOptions, deps: ConnectorDeps): Connector & { readonly client: KlaviyoClient } {
  const resolved = resolveOptions(options);
  const limits = klaviyoLimits(resolved.maxConcurrency);
  const client = new KlaviyoClient(
    { apiKey: resolved.apiKey, baseUrl: resolved.baseUrl, timeoutMs: resolved.timeoutMs, maxRetries: resolved.maxRetries },
    limits,
    deps.clock,
    deps.logger,
  );
  const initialLists = typeof resolved.tagLists === 'object' ? Object.entries(resolved.tagLists) : [];
  const notes = deps.notes ?? memoryNotes(deps.clock);
  const ctx: KlaviyoContext = {
    client,
    options: resolved,
    clock: deps.clock,
    logger: deps.logger,
    tagLists: new Map(initialLists),
    unfinished: new UnfinishedJobs('klaviyo', deps.clock, notes),
    notes,
  };
  const webhookCheck = { secret: resolved.webhookSecret, toleranceMs: resolved.webhookToleranceMs };
  return {
    esp: 'klaviyo',
    limits,
    client,
    ensureSchema: (fields: FieldSpec[], tags: string[]): Promise<SchemaReport> => ensureKlaviyoSchema(ctx, fields, tags),
    pull: (request: PullRequest): AsyncIterable<RemotePage> => pullProfiles(ctx, request),
    push: (batch: ContactChange[]): Promise<ChangeResult[]> => pushChanges(ctx, batch),
    erase: (contact: ContactRef): Promise<ChangeResult> => eraseContact(ctx, contact),
    estimate: (plan: PlannedPush): PushEstimate => estimateKlaviyoPush(resolved, limits, plan),
    webhook: (request: RawRequest): WebhookResult => handleWebhook(request, webhookCheck),
    requestCount: (): number => client.stats().calls,
    pullEvents: (cursor: Cursor | undefined, until: Date): AsyncIterable<EventPage> => pullEvents(ctx, cursor, until),
    rateStats: () => rateStatsOf(client.limiter),
    // The SDK keeps no sockets or timers of its own beyond axios's per-request ones.
    close: async (): Promise<void> => undefined,
  };
}
