/**
 * A thin typed wrapper over the official `klaviyo-api` SDK: one `ApiKeySession` per account, the base
 * URL redirected (sandbox), SDK retries off, and every call run through the shared `RateLimiter`
 * whose pauses are fed from `Retry-After` and `RateLimit-*` answers. Answers are returned raw (the
 * wire JSON, snake_case) so the callers' zod schemas check exactly what Klaviyo said.
 */
import type { AxiosRequestConfig, AxiosResponse } from 'axios';
import { ApiKeySession, DataPrivacyApi, EventsApi, ListsApi, MetricsApi, ProfilesApi, RetryWithExponentialBackoff } from 'klaviyo-api';
import { EspRateLimitError, SegsyncError } from '../../src/errors';
import type { Clock } from '../../src/model/clock';
import type { ConnectorLogger, EspLimits } from '../connector';
import { RateLimiter } from '../ratelimit';
import { isRefused, unreachableError } from '../unreachable';
import { toSegsyncError } from './errors';
import type { KlaviyoBucket } from './limits';

/** Where the SDK sends requests unless told otherwise. */
export const KLAVIYO_API_ORIGIN = 'https://a.klaviyo.com';

export interface KlaviyoClientOptions {
  apiKey: string;
  /** Another origin for the API (the sandbox), e.g. `http://127.0.0.1:4010`. */
  baseUrl?: string;
  /** Per-request timeout, ms (the SDK has none by default). */
  timeoutMs?: number;
  /** Further attempts after a 429, 5xx or network failure before the error reaches the caller. */
  maxRetries?: number;
}

/** Redirects every API class to `baseUrl` and bounds each request's time. */
class AccountSession extends ApiKeySession {
  constructor(
    apiKey: string,
    private readonly origin: string | undefined,
    private readonly timeoutMs: number,
  ) {
    // segsync's limiter owns waiting and retrying: the SDK must not retry behind its back.
    super(apiKey, new RetryWithExponentialBackoff({ numRetries: 0 }));
  }

  override applyToRequest(config: AxiosRequestConfig): void {
    super.applyToRequest(config);
    config.timeout = this.timeoutMs;
    if (this.origin && typeof config.url === 'string' && config.url.startsWith(KLAVIYO_API_ORIGIN)) {
      config.url = this.origin + config.url.slice(KLAVIYO_API_ORIGIN.length);
    }
  }
}

/** Whether a call may be repeated after a 5xx or a lost answer (a 429 is always safe: nothing ran). */
export type Idempotency = 'idempotent' | 'not-idempotent';

export interface SdkAnswer {
  response: AxiosResponse;
}

interface AxiosLikeError {
  isAxiosError?: boolean;
  code?: string;
  response?: { status: number; headers: Record<string, unknown>; data: unknown };
}

/** Counts for benchmarks and `status`. */
export interface ClientStats {
  calls: number;
  retries: number;
  rateLimited: number;
}

export class KlaviyoClient {
  readonly limiter: RateLimiter;
  readonly profiles: ProfilesApi;
  readonly lists: ListsApi;
  readonly events: EventsApi;
  readonly metrics: MetricsApi;
  readonly dataPrivacy: DataPrivacyApi;
  private readonly maxRetries: number;
  private readonly counters: ClientStats = { calls: 0, retries: 0, rateLimited: 0 };
  /** Where calls go, for errors that got no answer. */
  private readonly origin: string;

  constructor(
    options: KlaviyoClientOptions,
    limits: EspLimits,
    private readonly clock: Clock,
    private readonly logger: ConnectorLogger,
  ) {
    const origin = options.baseUrl?.replace(/\/+$/, '');
    this.origin = origin ?? KLAVIYO_API_ORIGIN;
    const session = new AccountSession(options.apiKey, origin, options.timeoutMs ?? 30_000);
    this.profiles = new ProfilesApi(session);
    this.lists = new ListsApi(session);
    this.events = new EventsApi(session);
    this.metrics = new MetricsApi(session);
    this.dataPrivacy = new DataPrivacyApi(session);
    this.limiter = new RateLimiter(limits, clock, 'klaviyo');
    this.maxRetries = options.maxRetries ?? 3;
  }

  /**
   * Runs one SDK call in `bucket`: waits for the limiter, feeds rate headers back, retries 429s (after
   * `Retry-After`) and, for idempotent calls, 5xx and lost answers. Returns the raw HTTP answer.
   */
  async call(bucket: KlaviyoBucket, operation: string, fn: () => Promise<SdkAnswer>, idempotency: Idempotency = 'idempotent'): Promise<AxiosResponse> {
    for (let attempt = 0; ; attempt++) {
      let error: SegsyncError;
      try {
        const { response } = await this.limiter.run(
          bucket,
          () => {
            this.counters.calls++;
            return fn();
          },
          // Translated while the slot is held, so a 429's pause holds before a waiting call goes out.
          { onFailure: (thrown) => this.translateOrKeep(bucket, operation, thrown) },
        );
        this.observeHeaders(bucket, response.headers as Record<string, unknown>);
        return response;
      } catch (thrown) {
        error = thrown instanceof SegsyncError ? thrown : this.translate(bucket, operation, thrown);
      }
      const mayRetry = error instanceof EspRateLimitError || (error.retryable && idempotency === 'idempotent' && !isRefused(error.cause));
      if (!mayRetry || attempt >= this.maxRetries) throw error;
      this.counters.retries++;
      if (!(error instanceof EspRateLimitError)) {
        const backoff = Math.min(30_000, 500 * 2 ** attempt);
        this.logger.debug({ esp: 'klaviyo', operation, attempt, backoff }, 'retrying after a transient failure');
        await this.clock.sleep(backoff);
      }
    }
  }

  stats(): ClientStats {
    return { ...this.counters };
  }

  /** `translate`, or the error as thrown when it is no HTTP failure (rethrown as a bug by the caller). */
  private translateOrKeep(bucket: KlaviyoBucket, operation: string, thrown: unknown): unknown {
    try {
      return this.translate(bucket, operation, thrown);
    } catch {
      return thrown;
    }
  }

  private translate(bucket: KlaviyoBucket, operation: string, thrown: unknown): SegsyncError {
    const err = thrown as AxiosLikeError;
    if (thrown instanceof EspRateLimitError) return thrown;
    if (!err || (!err.isAxiosError && !err.response)) {
      // Not an HTTP failure: the SDK threw while building the request, which is a bug in our input.
      throw thrown;
    }
    const answer = err.response
      ? { status: err.response.status, headers: lowerKeys(err.response.headers), body: err.response.data, operation }
      : { networkCode: err.code, operation };
    const classified = toSegsyncError(answer, this.clock.now());
    // A lost answer that may pass says where the call went and what to check there.
    const error = !err.response && classified.retryable ? unreachableError('klaviyo', this.origin, operation, thrown) : classified;
    if (error instanceof EspRateLimitError) {
      this.counters.rateLimited++;
      this.limiter.pause(bucket, error.retryAfterMs);
      this.logger.warn({ esp: 'klaviyo', operation, retryAfterMs: error.retryAfterMs }, 'rate limited by Klaviyo');
    }
    return error;
  }

  /** `RateLimit-Remaining: 0` holds the bucket until `RateLimit-Reset` (seconds). */
  private observeHeaders(bucket: KlaviyoBucket, raw: Record<string, unknown>): void {
    const headers = lowerKeys(raw);
    const remaining = Number(headers['ratelimit-remaining']);
    const reset = Number(headers['ratelimit-reset']);
    if (!Number.isFinite(remaining) || !Number.isFinite(reset)) return;
    for (const window of [`${bucket}.burst`, `${bucket}.steady`]) {
      this.limiter.observeRemaining(window, remaining, reset * 1000);
    }
  }
}

function lowerKeys(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!headers) return out;
  const entries =
    typeof (headers as { toJSON?: () => object }).toJSON === 'function'
      ? Object.entries((headers as { toJSON: () => object }).toJSON())
      : Object.entries(headers);
  for (const [k, v] of entries) out[k.toLowerCase()] = v;
  return out;
}

/** Pulls `page[cursor]` out of a `links.next` URL (the SDK only does it for https URLs). */
export function pageCursorOf(next: string | null | undefined): string | undefined {
  if (!next) return undefined;
  try {
    return new URL(next).searchParams.get('page[cursor]') ?? undefined;
  } catch {
    return undefined;
  }
}
