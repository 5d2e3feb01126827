/**
 * Classifies Mailchimp's answers into segsync's error classes. Mailchimp answers every error with an
 * `application/problem+json` body whose `title` is one of a fixed set of names; we match those names
 * exactly (a table, never a pattern over the free-text `detail`), then fall back on the HTTP status.
 */
import type { SegsyncError } from '../../src/errors';
import { EspAuthError, EspPermanentError, EspRateLimitError, EspTransientError } from '../../src/errors';
import { unreachableError } from '../unreachable';

const ESP = 'mailchimp';

/** The problem+json body Mailchimp sends with every error (spec `ProblemDetailDocument`). */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  errors?: { field?: string; message?: string }[];
}

type Kind = 'permanent' | 'auth' | 'rate-limited' | 'transient';

interface TitleRule {
  kind: Kind;
  /** What the user should do; the vendor's `detail` is shown beside it. */
  hint: string;
}

/** Mailchimp's fixed problem titles that decide the class on their own, whatever the status. */
export const TITLE_RULES: Readonly<Record<string, TitleRule>> = {
  'Member In Compliance State': {
    kind: 'permanent',
    hint:
      'the address unsubscribed, bounced or is under compliance review on Mailchimp, which refuses to subscribe it ' +
      'through the API; segsync never retries this. Only the person can resubscribe, through a Mailchimp signup form',
  },
  'Forgotten Email Not Subscribed': {
    kind: 'permanent',
    hint:
      'the address was permanently deleted (erased) from this audience and Mailchimp will not let the API add it ' +
      'again; the person must sign up again through a Mailchimp form',
  },
  'Member Exists': { kind: 'permanent', hint: 'the member is already on the audience; segsync updates it with PUT instead' },
  'Invalid Resource': { kind: 'permanent', hint: 'fix the value named above (merge field type, format or required field)' },
  'Resource Not Found': { kind: 'permanent', hint: 'check the audience (listId) and that the member or segment exists' },
  'Method Not Allowed': { kind: 'permanent', hint: 'segsync called an operation Mailchimp does not offer here; report it' },
  'Bad Request': { kind: 'permanent', hint: 'Mailchimp rejected the request as malformed; report it with the detail' },
  'Invalid Action': { kind: 'permanent', hint: 'Mailchimp refused the action on this resource' },
  'API Key Missing': { kind: 'auth', hint: 'set the Mailchimp API key (connectors.mailchimp.apiKey)' },
  'API Key Invalid': { kind: 'auth', hint: 'the Mailchimp API key was rejected: create a new key and update the environment variable' },
  Forbidden: { kind: 'auth', hint: 'the API key lacks access to this audience or operation' },
  'User Disabled': { kind: 'auth', hint: 'the Mailchimp account is disabled' },
  'Wrong Datacenter': { kind: 'auth', hint: 'the API key belongs to another data centre: check the suffix after "-" in the key' },
  'Too Many Requests': { kind: 'rate-limited', hint: 'Mailchimp allows 10 simultaneous connections per key; segsync backs off' },
  'Internal Server Error': { kind: 'transient', hint: 'a Mailchimp fault; segsync retries later' },
};

/** What a status means when the body has no title we know. */
function kindOfStatus(status: number, isProblem: boolean): Kind {
  if (status === 429) return 'rate-limited';
  // Heavy throttling shows up as a bare 403/503 "Request Blocked" page, not a problem document.
  if ((status === 403 || status === 503) && !isProblem) return 'rate-limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408 || status >= 500) return 'transient';
  return 'permanent';
}

/** The subset of a superagent error the SDK rejects with. */
interface HttpFailure {
  status?: number;
  code?: string;
  timeout?: number;
  message?: string;
  response?: { status?: number; body?: unknown; text?: string; type?: string; headers?: Record<string, string | undefined> };
}

/** A `Retry-After` in seconds, when the answer carries one (Mailchimp's own API does not; a proxy in front of it may). */
function retryAfterHeaderMs(e: HttpFailure): number | undefined {
  const seconds = Number(e.response?.headers?.['retry-after']);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** True when `body` looks like Mailchimp's problem document. */
function asProblem(body: unknown): Problem | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const p = body as Problem;
  return typeof p.title === 'string' && typeof p.status === 'number' ? p : undefined;
}

/** Our own backoff after a 429, since Mailchimp sends no Retry-After: base × 2^(n-1), capped. */
export function backoffMs(consecutive: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, consecutive - 1));
}

/**
 * Turns whatever the SDK threw into a typed error; `retryAfterMs` is used for rate limits, `origin`
 * (the API's address) names where a call that got no answer was sent.
 */
export function classifyFailure(err: unknown, what: string, retryAfterMs: number, origin?: string): SegsyncError {
  const e = (err ?? {}) as HttpFailure;
  const status = e.status ?? e.response?.status;
  if (status === undefined) {
    // No HTTP answer: a timeout, a refused or reset connection. Worth trying again.
    if (origin) return unreachableError(ESP, origin, what, err);
    const reason = e.timeout !== undefined ? `no answer within ${e.timeout} ms` : (e.code ?? e.message ?? 'network error');
    return new EspTransientError(`mailchimp: ${what} failed: ${reason}`, {
      esp: ESP,
      cause: err,
      hint: 'Mailchimp or the network did not answer; segsync retries later',
    });
  }
  const problem = asProblem(e.response?.body);
  const rule = problem?.title ? TITLE_RULES[problem.title] : undefined;
  const kind = rule?.kind ?? kindOfStatus(status, problem !== undefined);
  const fieldErrors = (problem?.errors ?? []).map((f) => `${f.field ?? '?'}: ${f.message ?? ''}`).join('; ');
  const detail = problem ? `${problem.title}: ${problem.detail ?? ''}${fieldErrors ? ` (${fieldErrors})` : ''}` : `HTTP ${status}`;
  const message = `mailchimp: ${what} failed: ${detail}`;
  const base = { esp: ESP, status, vendorCode: problem?.title, cause: err, hint: rule?.hint };
  switch (kind) {
    case 'rate-limited':
      return new EspRateLimitError(message, {
        ...base,
        retryAfterMs: Math.max(retryAfterMs, retryAfterHeaderMs(e) ?? 0),
        hint: base.hint ?? 'segsync backs off and retries',
      });
    case 'transient':
      return new EspTransientError(message, { ...base, hint: base.hint ?? 'a Mailchimp fault; segsync retries later' });
    case 'auth':
      return new EspAuthError(message, { ...base, hint: base.hint ?? 'check the Mailchimp API key and its access' });
    case 'permanent':
      return new EspPermanentError(message, base);
  }
}
