/**
 * A thin, typed wrapper over `@hubspot/api-client` 13.5: every call goes through segsync's rate
 * limiter, answers are classified by `errors.ts`, 5xx and timeouts are retried with jittered backoff,
 * and 429s pause the limiter window their `policyName` names. The SDK's own retries and limiter stay
 * off: its retry decorator keys on a `policyName` its own deserialiser drops, and ignores rate headers.
 */
import http from 'node:http';
import https from 'node:https';
import { Client } from '@hubspot/api-client';
import type * as Contacts from '@hubspot/api-client/lib/codegen/crm/contacts';
import type * as Lists from '@hubspot/api-client/lib/codegen/crm/lists';
import type * as Properties from '@hubspot/api-client/lib/codegen/crm/properties';
import { EspRateLimitError, SegsyncError } from '../../src/errors';
import type { Clock } from '../../src/model/clock';
import type { ConnectorLogger, RateWindow } from '../connector';
import type { RateLimiter } from '../ratelimit';
import type { HubspotErrorBody, Verdict } from './errors';
import { classify, msUntilDailyReset, toSegsyncError } from './errors';
import { ArrivalWindow } from './arrival';
import { isRefused, unreachableError } from '../unreachable';
import type { HubspotBucket } from './limits';
import { BUCKET, WINDOW } from './limits';

export interface HubspotClientOptions {
  accessToken: string;
  /** Default https://api.hubapi.com; a sandbox's URL in tests and the demo. */
  baseUrl?: string;
  /** A call with no byte from HubSpot for this long fails as a timeout (default 30 s). */
  timeoutMs?: number;
  /** Attempts per call for 5xx, timeouts and ten-secondly 429s (default 5). */
  maxAttempts?: number;
  /** First backoff step for 5xx and timeouts, doubled per attempt, ±50 % jitter (default 500 ms). */
  backoffMs?: number;
  /** Longest a call waits for the limiter before failing as rate-limited (default 5 min). */
  maxWaitMs?: number;
}

export interface ClientStats {
  /** HTTP requests sent, by operation. */
  requests: Record<string, number>;
  retries: number;
  rateLimited: number;
}

/**
 * Call-time options for every SDK call. SDK 13.5 only runs the configured middleware (User-agent
 * header, `httpAgent`, custom pre/post hooks) when a call passes `middleware` itself: with none it runs
 * none. An empty list appended to the configured ones makes them run.
 */
const WITH_CONFIGURED_MIDDLEWARE: Contacts.PromiseConfigurationOptions = { middleware: [], middlewareMergeStrategy: 'append' };
const M = WITH_CONFIGURED_MIDDLEWARE as never;

/** What a failed SDK call carried: the status, HubSpot's raw error body and the response headers. */
interface Failure {
  status: number | undefined;
  body: HubspotErrorBody | undefined;
  headers: Record<string, string | undefined>;
}

/** A batch answer: 200 (all done) or 207 (some `errors[]`). */
export interface BatchAnswer<R> {
  results: R[];
  errors?: Contacts.StandardError[];
}

type Headers = Record<string, string | undefined>;
interface ResponseLike {
  httpStatusCode: number;
  headers: Headers;
  body: { text(): Promise<string>; binary(): Promise<Buffer> };
}

/** A request that got no byte for `timeoutMs` is destroyed, so node-fetch fails it (the SDK passes no timeout). */
function timeoutAgent(baseUrl: string, timeoutMs: number): http.Agent {
  const agent = baseUrl.startsWith('https:') ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  // `addRequest` is Node's (untyped) hook that sees every request the agent serves.
  const hook = agent as unknown as { addRequest(req: http.ClientRequest, options: unknown): void };
  const addRequest = hook.addRequest.bind(agent);
  // A timer on the whole exchange, not `req.setTimeout`: that one is a socket idle timeout, and a
  // keep-alive socket handed back from the pool sometimes kept no timeout at all (a silent server
  // then held the call for as long as it liked).
  hook.addRequest = (req, options) => {
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('close', () => clearTimeout(timer));
    addRequest(req, options);
  };
  return agent;
}

/** The HubSpot calls segsync makes, each rate-limited, retried and classified. */
export class HubspotClient {
  private readonly sdk: Client;
  private readonly contacts: Client['crm']['contacts'];
  private readonly properties: Client['crm']['properties'];
  private readonly lists: Client['crm']['lists'];
  private readonly preferences: Client['communicationPreferences'];
  private readonly agent: http.Agent;
  /** Raw error bodies by response-headers object: the SDK's error deserialiser drops `policyName`. */
  private readonly errorBodies = new WeakMap<object, string>();
  private readonly statsData: ClientStats = { requests: {}, retries: 0, rateLimited: 0 };
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxWaitMs: number;

  private readonly arrival: ArrivalWindow;
  private readonly declaredBurst: number;
  /** Where calls go, for errors that got no answer. */
  private readonly baseUrl: string;

  constructor(
    options: HubspotClientOptions,
    private readonly limiter: RateLimiter,
    private readonly clock: Clock,
    private readonly logger: ConnectorLogger,
    burstWindow: RateWindow,
    private readonly random: () => number = Math.random,
  ) {
    const baseUrl = options.baseUrl ?? 'https://api.hubapi.com';
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.agent = timeoutAgent(baseUrl, options.timeoutMs ?? 30_000);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.backoffMs = options.backoffMs ?? 500;
    this.maxWaitMs = options.maxWaitMs ?? 300_000;
    this.arrival = new ArrivalWindow(burstWindow, clock);
    this.declaredBurst = burstWindow.limit;
    this.sdk = new Client({
      accessToken: options.accessToken,
      basePath: baseUrl.replace(/\/+$/, ''),
      numberOfApiCallRetries: 0,
      httpAgent: this.agent,
      middleware: [{ pre: (ctx) => Promise.resolve(ctx), post: (ctx) => this.observe(ctx as ResponseLike) }],
    });
    // The SDK applies its retry/limiter decorators from a process-wide singleton when an API group is
    // first touched; touching them now binds this client's (empty) set before another Client changes it.
    this.contacts = this.sdk.crm.contacts;
    this.properties = this.sdk.crm.properties;
    this.lists = this.sdk.crm.lists;
    this.preferences = this.sdk.communicationPreferences;
  }

  stats(): ClientStats {
    return { ...this.statsData, requests: { ...this.statsData.requests } };
  }

  close(): void {
    this.agent.destroy();
  }

  upsertContacts(inputs: Contacts.SimplePublicObjectBatchInputUpsert[]): Promise<BatchAnswer<Contacts.SimplePublicUpsertObject>> {
    return this.call('contacts.batch.upsert', BUCKET.default, () => this.contacts.batchApi.upsert({ inputs }, M));
  }

  updateContacts(inputs: Contacts.SimplePublicObjectBatchInput[]): Promise<BatchAnswer<Contacts.SimplePublicObject>> {
    return this.call('contacts.batch.update', BUCKET.default, () => this.contacts.batchApi.update({ inputs }, M));
  }

  /** Reads contacts by id or, with `idProperty: 'email'`, by email. */
  readContacts(
    ids: string[],
    properties: string[],
    idProperty?: string,
    propertiesWithHistory: string[] = [],
  ): Promise<BatchAnswer<Contacts.SimplePublicObject>> {
    return this.call('contacts.batch.read', BUCKET.default, () =>
      this.contacts.batchApi.read(
        { inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory, ...(idProperty ? { idProperty } : {}) },
        undefined,
        M,
      ),
    );
  }

  searchContacts(request: Contacts.PublicObjectSearchRequest): Promise<Contacts.CollectionResponseWithTotalSimplePublicObjectForwardPaging> {
    return this.call('contacts.search', BUCKET.search, () => this.contacts.searchApi.doSearch(request, M));
  }

  pageContacts(
    limit: number,
    after: string | undefined,
    properties: string[],
    archived = false,
  ): Promise<Contacts.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging> {
    return this.call('contacts.page', BUCKET.default, () => this.contacts.basicApi.getPage(limit, after, properties, undefined, undefined, archived, M));
  }

  /** GDPR-deletes a contact permanently (an unknown email is blocklisted by HubSpot). */
  purgeContact(objectId: string, idProperty?: string): Promise<void> {
    return this.call('contacts.gdpr-delete', BUCKET.default, () => this.contacts.basicApi.purge({ objectId, ...(idProperty ? { idProperty } : {}) }, M));
  }

  getProperties(): Promise<Properties.CollectionResponsePropertyNoPaging> {
    return this.call('properties.getAll', BUCKET.default, () => this.properties.coreApi.getAll('contacts', false, undefined, M));
  }

  getProperty(name: string): Promise<Properties.Property> {
    return this.call('properties.getByName', BUCKET.default, () => this.properties.coreApi.getByName('contacts', name, false, undefined, M));
  }

  createProperty(property: Properties.PropertyCreate): Promise<Properties.Property> {
    return this.call('properties.create', BUCKET.default, () => this.properties.coreApi.create('contacts', property, M));
  }

  updateProperty(name: string, update: Properties.PropertyUpdate): Promise<Properties.Property> {
    return this.call('properties.update', BUCKET.default, () => this.properties.coreApi.update('contacts', name, update, M));
  }

  getGroups(): Promise<Properties.CollectionResponsePropertyGroupNoPaging> {
    return this.call('properties.groups.getAll', BUCKET.default, () => this.properties.groupsApi.getAll('contacts', M));
  }

  createGroup(group: Properties.PropertyGroupCreate): Promise<Properties.PropertyGroup> {
    return this.call('properties.groups.create', BUCKET.default, () => this.properties.groupsApi.create('contacts', group, M));
  }

  /** The contacts list with this name, or undefined when there is none. */
  async findList(name: string): Promise<Lists.PublicObjectList | undefined> {
    try {
      const found = await this.call('lists.getByName', BUCKET.default, () => this.lists.listsApi.getByName(name, '0-1', false, M));
      return found.list;
    } catch (err) {
      if (err instanceof SegsyncError && (err as { status?: number }).status === 404) return undefined;
      throw err;
    }
  }

  createManualList(name: string): Promise<Lists.ListCreateResponse> {
    return this.call('lists.create', BUCKET.default, () => this.lists.listsApi.create({ name, objectTypeId: '0-1', processingType: 'MANUAL' }, M));
  }

  changeMemberships(listId: string, recordIdsToAdd: string[], recordIdsToRemove: string[]): Promise<Lists.MembershipsUpdateResponse> {
    return this.call('lists.memberships.add-and-remove', BUCKET.default, () =>
      this.lists.membershipsApi.addAndRemove(listId, { recordIdsToAdd, recordIdsToRemove }, M),
    );
  }

  /** The account's email subscription types. */
  async subscriptionIds(): Promise<string[]> {
    const answer = await this.call('communication-preferences.definitions', BUCKET.default, () => this.preferences.definitionApi.getPage(M));
    return answer.subscriptionDefinitions.filter((d) => d.isActive).map((d) => d.id);
  }

  /**
   * Opts an email out of one subscription type. There is deliberately no subscribe counterpart:
   * segsync never subscribes anyone (consent is given by the person, not by a sync).
   */
  unsubscribe(emailAddress: string, subscriptionId: string): Promise<unknown> {
    return this.call('communication-preferences.unsubscribe', BUCKET.default, () =>
      this.preferences.statusApi.unsubscribe({ emailAddress, subscriptionId }, M),
    );
  }

  /** Runs one SDK call under the limiter; retries what the error table says is worth retrying. */
  private async call<T>(what: string, bucket: HubspotBucket, fn: () => Promise<T>): Promise<T> {
    let last: SegsyncError | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) this.statsData.retries++;
      const gate = bucket === BUCKET.default ? this.arrival : undefined;
      await gate?.enter();
      try {
        return await this.limiter.run(
          bucket,
          () => {
            this.statsData.requests[what] = (this.statsData.requests[what] ?? 0) + 1;
            return fn();
          },
          // The hold after a 429 is set before the slot is handed on, so no waiting call goes out first.
          { maxWaitMs: this.maxWaitMs, onFailure: (err) => (this.holdOn429(err), err) },
        );
      } catch (err) {
        if (err instanceof EspRateLimitError) throw err;
        const failure = this.failureOf(err);
        if (!failure) throw err;
        const now = this.clock.now();
        const { verdict } = classify(failure.status, failure.body, failure.headers, now);
        last =
          failure.status === undefined
            ? unreachableError('hubspot', this.baseUrl, what, err)
            : toSegsyncError(what, failure.status, failure.body, failure.headers, now, err);
        if (verdict.kind === 'rate-limited') {
          this.statsData.rateLimited++;
          this.logger.warn({ what, window: verdict.window, afterMs: verdict.afterMs, attempt }, 'hubspot: rate limited');
          if (verdict.budgetExhausted) throw last;
          continue;
        }
        if (verdict.kind !== 'retry' || isRefused(err)) throw last;
        // Each attempt at debug level: the caller reports the last error once, if every attempt fails.
        this.logger.debug({ what, status: failure.status, attempt, error: last.message }, 'hubspot: transient failure');
        if (attempt < this.maxAttempts) await this.clock.sleep(this.backoff(attempt));
      } finally {
        gate?.leave();
      }
    }
    throw last!;
  }

  /** A 429 holds the window it names (`holdAfter429`). */
  private holdOn429(err: unknown): void {
    const failure = this.failureOf(err);
    if (!failure) return;
    const { verdict } = classify(failure.status, failure.body, failure.headers, this.clock.now());
    if (verdict.kind === 'rate-limited') this.limiter.pause(verdict.window, this.holdAfter429(verdict, failure.headers));
  }

  /**
   * How long to hold a window after a 429. When our own calls fill HubSpot's whole count (a declared
   * limit above the account's real one), the arrival gate paces the retry and a tenth of the interval
   * is enough; when they do not, other clients share the account: wait the whole interval.
   */
  private holdAfter429(verdict: Extract<Verdict, { kind: 'rate-limited' }>, headers: Headers): number {
    if (verdict.budgetExhausted || headers['retry-after'] !== undefined || verdict.window !== WINDOW.burst) return verdict.afterMs;
    const max = Number(headers['x-hubspot-ratelimit-max']);
    const ours = this.arrival.count();
    return Number.isFinite(max) && ours >= max ? Math.ceil(verdict.afterMs / 10) : verdict.afterMs;
  }

  /** Exponential backoff with ±50 % jitter, so retries from many workers do not land together. */
  private backoff(attempt: number): number {
    const base = this.backoffMs * 2 ** (attempt - 1);
    return Math.round(base * (0.5 + this.random()));
  }

  /** The status, body and headers of an SDK error; undefined for errors that are not HTTP failures (bugs). */
  private failureOf(err: unknown): Failure | undefined {
    if (typeof err !== 'object' || err === null) return undefined;
    const e = err as { code?: unknown; headers?: unknown; body?: unknown; name?: unknown; type?: unknown };
    if (typeof e.code === 'number' && typeof e.headers === 'object' && e.headers !== null) {
      const headers = e.headers as Headers;
      const raw = this.errorBodies.get(headers);
      return { status: e.code, body: parseBody(raw) ?? (e.body as HubspotErrorBody | undefined), headers };
    }
    // node-fetch's FetchError: connection refused/reset or our timeout destroying the request.
    if (e.name === 'FetchError') return { status: undefined, body: undefined, headers: {} };
    return undefined;
  }

  /** Response middleware: feeds rate headers to the limiter and keeps raw error bodies readable. */
  private async observe(ctx: ResponseLike): Promise<ResponseLike> {
    const h = ctx.headers;
    // "Nothing left" in the ten-second window teaches the limiter something only when other clients
    // share the account: when our own calls fill HubSpot's whole count, the arrival gate already holds
    // the next call exactly as long as needed, sooner than a whole interval from now.
    const remaining = Number(h['x-hubspot-ratelimit-remaining']);
    const max = Number(h['x-hubspot-ratelimit-max']);
    const interval = Number(h['x-hubspot-ratelimit-interval-milliseconds']);
    if (Number.isFinite(max) && this.arrival.lowerTo(max, Number.isFinite(interval) ? interval : undefined)) {
      this.logger.warn({ declared: this.declaredBurst, reported: max }, 'hubspot: the account allows fewer calls per window than configured; using its limit');
    }
    // Our count can trail HubSpot's by a call or two (answers are counted as they are read), and a
    // whole-interval pause for that costs a full window: only a clear shortfall means other clients.
    const othersToo = !Number.isFinite(max) || this.arrival.count() < max - Math.max(2, Math.ceil(max * 0.05));
    if (othersToo && h['x-hubspot-ratelimit-remaining'] !== undefined && Number.isFinite(remaining)) {
      this.limiter.observeRemaining(WINDOW.burst, remaining, Number.isFinite(interval) ? interval : 10_000);
    }
    const daily = Number(h['x-hubspot-ratelimit-daily-remaining']);
    if (h['x-hubspot-ratelimit-daily-remaining'] !== undefined && Number.isFinite(daily)) {
      this.limiter.observeRemaining(WINDOW.daily, daily, msUntilDailyReset(this.clock.now()));
    }
    if (ctx.httpStatusCode >= 400) {
      const text = await ctx.body.text();
      this.errorBodies.set(h, text);
      ctx.body = { text: () => Promise.resolve(text), binary: () => Promise.resolve(Buffer.from(text)) };
    }
    return ctx;
  }
}

function parseBody(raw: string | undefined): HubspotErrorBody | undefined {
  if (!raw) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as HubspotErrorBody) : undefined;
  } catch {
    return { message: raw.slice(0, 200) };
  }
}
