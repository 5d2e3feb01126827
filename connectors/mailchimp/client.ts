/**
 * A thin typed wrapper over the official SDK (`@mailchimp/mailchimp_marketing`) for the calls segsync
 * makes. One SDK client per account (the package's main export is a process-wide singleton), every
 * call through the shared rate limiter, every answer checked against the spec's shape (wire.ts), and
 * every failure classified (errors.ts).
 */
import { gunzipSync } from 'node:zlib';
import type { z } from 'zod';
import type { ConnectorLogger } from '../connector';
import type { RateLimiter, Slot } from '../ratelimit';
import type { SegsyncError } from '../../src/errors';
import { EspPermanentError, EspRateLimitError } from '../../src/errors';
import { backoffMs, classifyFailure } from './errors';
import { readTarFiles } from './tar';
import type { BatchMember, BatchOperation, BatchOperationResult, MemberPatch, MemberUpsert, MergeFieldCreate, WebhookCreate } from './wire';
import {
  batchJobSchema,
  batchOperationResultSchema,
  batchResultSchema,
  memberListSchema,
  memberSchema,
  mergeFieldListSchema,
  mergeFieldSchema,
  segmentBatchResultSchema,
  segmentListSchema,
  segmentMembersSchema,
  segmentSchema,
  webhookListSchema,
  webhookSchema,
} from './wire';

/** The SDK's `lists` API group, as far as segsync uses it (the generated JS has no typings). */
interface SdkLists {
  getListMergeFields(listId: string, opts: object): Promise<unknown>;
  addListMergeField(listId: string, body: object): Promise<unknown>;
  batchListMembers(listId: string, body: object, opts: object): Promise<unknown>;
  setListMember(listId: string, hash: string, body: object, opts: object): Promise<unknown>;
  updateListMember(listId: string, hash: string, body: object, opts: object): Promise<unknown>;
  getListMembersInfo(listId: string, opts: object): Promise<unknown>;
  listSegments(listId: string, opts: object): Promise<unknown>;
  createSegment(listId: string, body: object): Promise<unknown>;
  batchSegmentMembers(body: object, listId: string, segmentId: string): Promise<unknown>;
  getSegmentMembersList(listId: string, segmentId: string, opts: object): Promise<unknown>;
  deleteListMemberPermanent(listId: string, hash: string): Promise<unknown>;
  getListWebhooks(listId: string): Promise<unknown>;
  createListWebhook(listId: string, body: object): Promise<unknown>;
  deleteListWebhook(listId: string, webhookId: string): Promise<unknown>;
}

interface SdkClient {
  basePath: string;
  timeout: number;
  setConfig(config: { apiKey: string }): void;
  lists: SdkLists;
  batches: { start(body: object): Promise<unknown>; status(batchId: string, opts: object): Promise<unknown> };
  ping: { get(): Promise<unknown> };
}

type SdkClientConstructor = new () => SdkClient;

/** The real Mailchimp host; `server` is replaced by the key's data centre (see `mailchimpBaseUrl`). */
const PRODUCTION_BASE = 'https://server.api.mailchimp.com';

/**
 * The API base URL (with `/3.0`) for a key: the data centre is the key's suffix after `-`. We build it
 * ourselves and never hand `server` to the SDK, whose `buildUrl` replaces the first "server" substring
 * anywhere in the URL, host included (a sandbox at http://mock-server:4010 would be rewritten).
 */
export function mailchimpBaseUrl(apiKey: string, baseUrl?: string): string {
  if (baseUrl) return `${baseUrl.replace(/\/+$/, '').replace(/\/3\.0$/, '')}/3.0`;
  const dc = apiKey.split('-').pop();
  if (!dc || dc === apiKey) {
    throw new EspPermanentError('mailchimp: the API key has no data-centre suffix (like "-us21")', {
      esp: 'mailchimp',
      hint: 'copy the whole key from Mailchimp (Account → Extras → API keys), or set connectors.mailchimp.baseUrl',
    });
  }
  return `${PRODUCTION_BASE.replace('server', dc)}/3.0`;
}

export interface ClientOptions {
  apiKey: string;
  listId: string;
  baseUrl?: string;
  /** Per-call timeout, ms (Mailchimp's own is 120 s). */
  timeoutMs: number;
  /** Extra tries after a 429 before giving the error to the caller. */
  rateLimitRetries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** Typed Mailchimp calls for one audience of one account. */
export class MailchimpClient {
  readonly listId: string;
  private readonly sdk: SdkClient;
  private consecutive429 = 0;
  /** Counts bursts of refusals: a refused call sent in an earlier round does not escalate the backoff. */
  private refusalRound = 0;
  /** HTTP requests sent, retries included. */
  requestCount = 0;

  constructor(
    private readonly options: ClientOptions,
    private readonly limiter: RateLimiter,
    private readonly logger: ConnectorLogger,
  ) {
    // The package's src/ApiClient exports the constructor; its index exports a shared instance.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ApiClient = require('@mailchimp/mailchimp_marketing/src/ApiClient') as SdkClientConstructor;
    this.sdk = new ApiClient();
    this.sdk.setConfig({ apiKey: options.apiKey });
    this.sdk.basePath = mailchimpBaseUrl(options.apiKey, options.baseUrl);
    this.sdk.timeout = options.timeoutMs;
    this.listId = options.listId;
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.sdk.ping.get());
  }

  async mergeFields(): Promise<z.infer<typeof mergeFieldListSchema>['merge_fields']> {
    const out: z.infer<typeof mergeFieldListSchema>['merge_fields'] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await this.read('list merge fields', mergeFieldListSchema, () => this.sdk.lists.getListMergeFields(this.listId, { count: 1000, offset }));
      out.push(...page.merge_fields);
      if (page.merge_fields.length < 1000 || out.length >= page.total_items) return out;
    }
  }

  addMergeField(body: MergeFieldCreate): Promise<z.infer<typeof mergeFieldSchema>> {
    return this.read(`create merge field ${body.tag}`, mergeFieldSchema, () => this.sdk.lists.addListMergeField(this.listId, body));
  }

  /**
   * Creates members only: `update_existing` would write each member's `status` over whatever it is
   * now (see push.ts), and `sync_tags` would replace every tag, including those segsync does not own.
   */
  batchMembers(members: BatchMember[]): Promise<z.infer<typeof batchResultSchema>> {
    return this.read(`batch write of ${members.length} members`, batchResultSchema, () =>
      this.sdk.lists.batchListMembers(this.listId, { members, update_existing: false, sync_tags: false }, { skipMergeValidation: true }),
    );
  }

  setMember(hash: string, body: MemberUpsert): Promise<z.infer<typeof memberSchema>> {
    return this.read('upsert member', memberSchema, () => this.sdk.lists.setListMember(this.listId, hash, body, { skipMergeValidation: true }));
  }

  patchMember(hash: string, body: MemberPatch): Promise<z.infer<typeof memberSchema>> {
    return this.read('update member', memberSchema, () => this.sdk.lists.updateListMember(this.listId, hash, body, { skipMergeValidation: true }));
  }

  /** Starts a batch job (POST /batches): Mailchimp runs the operations later, in the background. */
  startBatch(operations: BatchOperation[]): Promise<z.infer<typeof batchJobSchema>> {
    return this.read(`start a batch of ${operations.length} operations`, batchJobSchema, () => this.sdk.batches.start({ operations }));
  }

  batchStatus(id: string): Promise<z.infer<typeof batchJobSchema>> {
    return this.read('batch status', batchJobSchema, () =>
      this.sdk.batches.status(id, { fields: ['id', 'status', 'total_operations', 'finished_operations', 'errored_operations', 'response_body_url'] }),
    );
  }

  /** Downloads a finished batch's results (a gzipped tar of JSON files) and returns every operation's answer. */
  async batchResults(url: string): Promise<BatchOperationResult[]> {
    const archive = (await this.call('batch results', async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs) });
      const body = Buffer.from(await res.arrayBuffer());
      // Shaped like the SDK's failures, so classifyFailure reads it the same way.
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status, response: { status: res.status, text: body.toString('utf8') } });
      return body;
    })) as Buffer;
    const out: BatchOperationResult[] = [];
    for (const file of readTarFiles(gunzipSync(archive))) {
      if (!file.name.endsWith('.json')) continue;
      const parsed = batchOperationResultSchema.array().safeParse(JSON.parse(file.data.toString('utf8')));
      if (!parsed.success)
        throw new EspPermanentError(`mailchimp: batch results: unexpected answer in ${file.name}`, {
          esp: 'mailchimp',
          hint: 'the batch results archive has a shape segsync does not know; report it with this message',
        });
      out.push(...parsed.data);
    }
    return out;
  }

  listMembers(query: {
    fields: string[];
    count: number;
    offset: number;
    sinceLastChanged?: string;
    beforeLastChanged?: string;
    status?: 'archived';
  }): Promise<z.infer<typeof memberListSchema>> {
    return this.read('list members', memberListSchema, () =>
      this.sdk.lists.getListMembersInfo(this.listId, { ...query, sortField: 'last_changed', sortDir: 'ASC' }),
    );
  }

  /** All static segments (= tags) of the audience. */
  async staticSegments(): Promise<z.infer<typeof segmentSchema>[]> {
    const out: z.infer<typeof segmentSchema>[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await this.read('list tags', segmentListSchema, () =>
        this.sdk.lists.listSegments(this.listId, {
          type: 'static',
          count: 1000,
          offset,
          fields: ['segments.id', 'segments.name', 'segments.member_count', 'segments.updated_at', 'total_items'],
        }),
      );
      out.push(...page.segments);
      if (page.segments.length < 1000 || out.length >= page.total_items) return out;
    }
  }

  /** Creates a tag: a static segment with no members. */
  createTag(name: string): Promise<z.infer<typeof segmentSchema>> {
    return this.read('create tag', segmentSchema, () => this.sdk.lists.createSegment(this.listId, { name, static_segment: [] }));
  }

  segmentBatch(segmentId: number, add: string[], remove: string[]): Promise<z.infer<typeof segmentBatchResultSchema>> {
    return this.read(`tag ${add.length} / untag ${remove.length} members`, segmentBatchResultSchema, () =>
      this.sdk.lists.batchSegmentMembers({ members_to_add: add, members_to_remove: remove }, this.listId, String(segmentId)),
    );
  }

  segmentMembers(segmentId: number, count: number, offset: number): Promise<z.infer<typeof segmentMembersSchema>> {
    return this.read('list tag members', segmentMembersSchema, () =>
      this.sdk.lists.getSegmentMembersList(this.listId, String(segmentId), {
        count,
        offset,
        fields: ['members.id', 'members.email_address', 'total_items'],
        includeCleaned: true,
        includeTransactional: true,
        includeUnsubscribed: true,
      }),
    );
  }

  async deletePermanent(hash: string): Promise<void> {
    await this.call('permanent delete', () => this.sdk.lists.deleteListMemberPermanent(this.listId, hash));
  }

  async webhooks(): Promise<z.infer<typeof webhookSchema>[]> {
    return (await this.read('list webhooks', webhookListSchema, () => this.sdk.lists.getListWebhooks(this.listId))).webhooks;
  }

  createWebhook(body: WebhookCreate): Promise<z.infer<typeof webhookSchema>> {
    return this.read('register webhook', webhookSchema, () => this.sdk.lists.createListWebhook(this.listId, body));
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.call('remove webhook', () => this.sdk.lists.deleteListWebhook(this.listId, id));
  }

  /** Calls and checks the answer's shape: an answer that does not match is a permanent, named error. */
  private async read<S extends z.ZodType>(what: string, schema: S, fn: () => Promise<unknown>): Promise<z.infer<S>> {
    const raw = await this.call(what, fn);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      throw new EspPermanentError(
        `mailchimp: ${what}: unexpected answer: ${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
        {
          esp: 'mailchimp',
          hint: 'the Mailchimp API answered in a shape segsync does not know; report it with this message',
        },
      );
    }
    return parsed.data;
  }

  /**
   * One vendor call through the limiter. A 429 pauses the whole account (Mailchimp counts connections
   * per key) for our own backoff, then the call is tried again up to `rateLimitRetries` times.
   */
  private async call(what: string, fn: () => Promise<unknown>): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      let round = this.refusalRound;
      let failure: unknown;
      try {
        const result = await this.limiter.run(
          'default',
          () => {
            this.requestCount++;
            round = this.refusalRound;
            return fn();
          },
          { onFailure: (err, slot) => this.learn(err, what, round, slot) },
        );
        this.consecutive429 = 0;
        return result;
      } catch (err) {
        failure = err;
      }
      if (!(failure instanceof EspRateLimitError)) throw failure;
      this.logger.warn(
        { esp: 'mailchimp', what, attempt, backoffMs: failure.retryAfterMs, connections: this.limiter.stats().concurrency },
        'mailchimp rate limited; backing off',
      );
      if (attempt >= this.options.rateLimitRetries) throw failure;
    }
  }

  /**
   * Types a failed call's error, before its connection is handed on. A refusal means others hold the
   * rest of the key's connections: fewer of ours go at once, and the account pauses. Calls sent before
   * the last refusal was seen belong to the same burst, so their refusals do not lengthen the backoff
   * again (ten calls refused together would otherwise wait minutes).
   */
  private learn(err: unknown, what: string, round: number, slot: Slot): SegsyncError {
    const fresh = round === this.refusalRound;
    const wait = backoffMs(this.consecutive429 + (fresh ? 1 : 0), this.options.backoffBaseMs, this.options.backoffMaxMs);
    const failure = err instanceof EspRateLimitError ? err : classifyFailure(err, what, wait, this.sdk.basePath);
    if (failure instanceof EspRateLimitError) {
      if (fresh) {
        this.consecutive429++;
        this.refusalRound++;
      }
      this.limiter.narrowConcurrency(slot.inFlight);
      this.limiter.pause('default', failure.retryAfterMs);
    }
    return failure;
  }
}
