/**
 * Classifies Klaviyo's answers into segsync's error classes by table: HTTP status, JSON:API error
 * `code`, and (for answers that never came) the network error code. Never by English text.
 */
import { z } from 'zod';
import { EspAuthError, EspPermanentError, EspRateLimitError, EspRecordGoneError, EspTransientError, type SegsyncError } from '../../src/errors';

export type ErrorKind = 'retryable' | 'rate-limited' | 'permanent' | 'auth';

/** One JSON:API error object as Klaviyo sends it (`components.responses.ClientError`). */
export const klaviyoErrorSchema = z.object({
  id: z.string().optional(),
  status: z.union([z.number(), z.string()]).optional(),
  code: z.string().optional(),
  title: z.string().optional(),
  detail: z.string().optional(),
  source: z.object({ pointer: z.string().optional(), parameter: z.string().optional() }).partial().optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
});
export type KlaviyoErrorObject = z.infer<typeof klaviyoErrorSchema>;
const errorBodySchema = z.object({ errors: z.array(klaviyoErrorSchema) });

/** Error `code` values whose meaning overrides the status. */
export const CODE_KINDS: Record<string, ErrorKind> = {
  throttled: 'rate-limited',
  not_authenticated: 'auth',
  authentication_failed: 'auth',
  permission_denied: 'auth',
  duplicate_profile: 'permanent',
  invalid: 'permanent',
  not_found: 'permanent',
  parse_error: 'permanent',
  method_not_allowed: 'permanent',
  unsupported_media_type: 'permanent',
  conflict: 'permanent',
  error: 'retryable',
  service_unavailable: 'retryable',
};

/** The class of an answer by HTTP status, when the code did not decide it. */
export const STATUS_KINDS: Record<number, ErrorKind> = {
  400: 'permanent',
  401: 'auth',
  403: 'auth',
  404: 'permanent',
  405: 'permanent',
  409: 'permanent',
  410: 'permanent',
  413: 'permanent',
  415: 'permanent',
  422: 'permanent',
  408: 'retryable',
  429: 'rate-limited',
  500: 'retryable',
  502: 'retryable',
  503: 'retryable',
  504: 'retryable',
  524: 'retryable',
};

/** Network failures (no answer) that may pass on a second try. */
export const NETWORK_RETRYABLE = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** What the client learnt from a failed call, before it becomes a typed error. */
export interface FailedAnswer {
  /** HTTP status; undefined when no answer came. */
  status?: number;
  headers?: Record<string, unknown>;
  body?: unknown;
  /** Network error code (`ECONNRESET` …) when there was no answer. */
  networkCode?: string;
  /** What was being done, for the message: `PATCH /api/profiles/{id}`. */
  operation: string;
}

/** The JSON:API errors of an answer body, or [] when the body is not JSON:API. */
export function errorObjects(body: unknown): KlaviyoErrorObject[] {
  const parsed = errorBodySchema.safeParse(body);
  return parsed.success ? parsed.data.errors : [];
}

/** `Retry-After` in ms (seconds or HTTP date), or undefined. */
export function retryAfterMs(headers: Record<string, unknown> | undefined, now: number): number | undefined {
  const raw = headers?.['retry-after'];
  if (raw === undefined || raw === null) return undefined;
  const text = String(raw).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The kind of a failed answer: the first error code in the table wins, then the status. */
export function classifyAnswer(answer: FailedAnswer): ErrorKind {
  if (answer.status === undefined) {
    // A call that got no answer is retried unless the failure is one that cannot pass (bad TLS, bad URL).
    return answer.networkCode === undefined || NETWORK_RETRYABLE.has(answer.networkCode) ? 'retryable' : 'permanent';
  }
  for (const e of errorObjects(answer.body)) {
    const kind = e.code ? CODE_KINDS[e.code] : undefined;
    if (kind) return kind;
  }
  const byStatus = STATUS_KINDS[answer.status];
  if (byStatus) return byStatus;
  return answer.status >= 500 ? 'retryable' : 'permanent';
}

/** Turns a failed answer into the matching `SegsyncError` subclass. */
export function toSegsyncError(answer: FailedAnswer, now: number): SegsyncError {
  const kind = classifyAnswer(answer);
  const errors = errorObjects(answer.body);
  const first = errors[0];
  const vendorCode = first?.code;
  const detail = first ? `${first.code ?? 'error'}: ${first.detail ?? first.title ?? ''}`.trim() : undefined;
  const where = answer.status === undefined ? `no answer (${answer.networkCode ?? 'network error'})` : `HTTP ${answer.status}`;
  const message = `klaviyo ${answer.operation}: ${where}${detail ? ` — ${detail}` : ''}`;
  // The JSON:API errors ride along as the cause: bulk imports read their pointers to find bad profiles.
  const base = { esp: 'klaviyo', status: answer.status, vendorCode, ...(errors.length > 0 ? { cause: { errors } } : {}) };
  switch (kind) {
    case 'rate-limited': {
      const wait = retryAfterMs(answer.headers, now) ?? 1_000;
      return new EspRateLimitError(message, {
        ...base,
        retryAfterMs: wait,
        hint: `Klaviyo asked to wait ${Math.ceil(wait / 1000)} s; segsync keeps the work queued`,
      });
    }
    case 'auth':
      return new EspAuthError(message, {
        ...base,
        hint: 'check the Klaviyo private API key (KLAVIYO_API_KEY) and that it has the profiles, lists, events, subscriptions and data-privacy scopes',
      });
    case 'retryable':
      return new EspTransientError(message, {
        ...base,
        retryAfterMs: retryAfterMs(answer.headers, now),
        hint: 'Klaviyo or the network failed; segsync retries later',
      });
    case 'permanent':
      return new EspPermanentError(message, { ...base, hint: permanentHint(vendorCode, first) });
  }
}

function permanentHint(code: string | undefined, first: KlaviyoErrorObject | undefined): string {
  if (code === 'duplicate_profile') {
    const existing = first?.meta?.['duplicate_profile_id'];
    return `another Klaviyo profile (${String(existing ?? 'unknown id')}) already has this identifier: merge the two profiles in Klaviyo, then pull again`;
  }
  // A pull does not bring a deletion (Klaviyo lists only what exists), so it cannot mend this. A write to a
  // deleted profile by its id never gets here: it is an EspRecordGoneError (profileGoneError).
  if (code === 'not_found')
    return 'Klaviyo holds nothing under the id this call named (deleted there): a tag list deleted in Klaviyo is made again when segsync next starts, then `segsync retry` sends these writes again';
  const pointer = first?.source?.pointer ?? first?.source?.parameter;
  return pointer
    ? `Klaviyo rejected the value at ${pointer}: fix the contact's data or the field mapping`
    : 'fix the data or the mapping; retrying will not help';
}

/**
 * A write to profile `id` that Klaviyo does not hold (deleted there: Klaviyo reports no deletions, so a
 * write is where segsync learns of one).
 */
export function profileGoneError(id: string, cause?: unknown): EspRecordGoneError {
  return new EspRecordGoneError(`klaviyo: profile ${id} does not exist (deleted in Klaviyo)`, {
    esp: 'klaviyo',
    status: 404,
    vendorCode: 'not_found',
    cause,
    hint: 'segsync unlinks the contact there and does not create again a profile a Klaviyo user deleted; to sync the person there again, add the profile in Klaviyo (the next pull links it)',
  });
}
