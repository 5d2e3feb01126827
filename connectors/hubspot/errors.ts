/**
 * How segsync reads HubSpot's answers: a table from (HTTP status, `category`, `policyName`) to what
 * to do. Never a regex over the English `message`.
 */
import { EspAuthError, EspPermanentError, EspRateLimitError, EspTransientError } from '../../src/errors';
import type { SegsyncError } from '../../src/errors';
import type { HubspotWindow } from './limits';
import { WINDOW } from './limits';

/** The parts of a HubSpot error body that classification reads (spec `Error` / `StandardError`, plus the 429 extras). */
export interface HubspotErrorBody {
  status?: string;
  message?: string;
  category?: string;
  subCategory?: unknown;
  correlationId?: string;
  policyName?: string;
  errorType?: string;
  context?: Record<string, string[] | undefined>;
  errors?: { message?: string; code?: string; in?: string; context?: Record<string, string[] | undefined> }[];
}

export type Verdict =
  /** Try again after a backoff (5xx, timeout, connection reset). */
  | { kind: 'retry' }
  /** A rate window is spent: hold `window` and come back after `afterMs`. */
  | { kind: 'rate-limited'; window: HubspotWindow; afterMs: number; budgetExhausted: boolean }
  /** The token is missing, expired or lacks a scope. */
  | { kind: 'auth' }
  /** Will not succeed as sent. */
  | { kind: 'permanent' };

interface Rule {
  status?: number | [number, number];
  category?: string;
  policyName?: string;
  verdict: (ctx: RuleContext) => Verdict;
  hint?: string;
}

interface RuleContext {
  headers: Record<string, string | undefined>;
  now: number;
}

const TEN_SECONDS = 10_000;

/** Ms until the next UTC midnight: HubSpot resets the daily budget at midnight (account time zone, not exposed to the API). */
export function msUntilDailyReset(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - now;
}

/** When HubSpot said to come back: `Retry-After` if sent (not documented), else the window's interval header. */
function comeBackAfter(headers: Record<string, string | undefined>, fallbackMs: number): number {
  const retryAfter = Number(headers['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return Math.ceil(retryAfter * 1000);
  const interval = Number(headers['x-hubspot-ratelimit-interval-milliseconds']);
  if (Number.isFinite(interval) && interval > 0) return interval;
  return fallbackMs;
}

const rateLimited =
  (window: HubspotWindow, fallbackMs: number, budgetExhausted = false) =>
  (ctx: RuleContext): Verdict => ({
    kind: 'rate-limited',
    window,
    afterMs: budgetExhausted ? msUntilDailyReset(ctx.now) : comeBackAfter(ctx.headers, fallbackMs),
    budgetExhausted,
  });

/** First matching rule wins; the order puts specific rules before general ones. */
export const RULES: Rule[] = [
  { status: 429, policyName: 'DAILY', verdict: rateLimited(WINDOW.daily, 0, true), hint: 'the daily API budget is spent; calls resume after the daily reset' },
  { status: 429, policyName: 'TEN_SECONDLY_ROLLING', verdict: rateLimited(WINDOW.burst, TEN_SECONDS) },
  { status: 429, policyName: 'SECONDLY', verdict: rateLimited(WINDOW.search, 1_000) },
  { status: 429, verdict: rateLimited(WINDOW.burst, TEN_SECONDS) },
  { category: 'RATE_LIMIT', verdict: rateLimited(WINDOW.burst, TEN_SECONDS) },
  { status: 401, verdict: () => ({ kind: 'auth' }), hint: 'check the private app access token (HUBSPOT_ACCESS_TOKEN)' },
  {
    status: 403,
    verdict: () => ({ kind: 'auth' }),
    hint: 'the private app lacks a scope: crm.objects.contacts.read/write, crm.schemas.contacts.write, crm.lists.read/write',
  },
  { status: 408, verdict: () => ({ kind: 'retry' }) },
  { status: [500, 599], verdict: () => ({ kind: 'retry' }) },
  {
    category: 'OBJECT_NOT_FOUND',
    verdict: () => ({ kind: 'permanent' }),
    hint: 'the contact no longer exists on HubSpot (deleted or merged); pull to refresh its id',
  },
  {
    category: 'VALIDATION_ERROR',
    verdict: () => ({ kind: 'permanent' }),
    hint: 'fix the value or the property definition; `segsync push --dry-run` shows what would be sent',
  },
  { status: [400, 499], verdict: () => ({ kind: 'permanent' }) },
];

function matches(rule: Rule, status: number | undefined, body: HubspotErrorBody | undefined): boolean {
  if (rule.status !== undefined) {
    if (status === undefined) return false;
    if (typeof rule.status === 'number' ? status !== rule.status : status < rule.status[0] || status > rule.status[1]) return false;
  }
  if (rule.category !== undefined && body?.category !== rule.category) return false;
  if (rule.policyName !== undefined && body?.policyName !== rule.policyName) return false;
  return true;
}

/** Classifies one answer. A missing status (timeout, reset, DNS) is a network failure: retry. */
export function classify(
  status: number | undefined,
  body: HubspotErrorBody | undefined,
  headers: Record<string, string | undefined> = {},
  now = Date.now(),
): { verdict: Verdict; hint?: string } {
  if (status === undefined) return { verdict: { kind: 'retry' }, hint: 'HubSpot did not answer in time or the connection failed' };
  for (const rule of RULES) {
    if (matches(rule, status, body)) return { verdict: rule.verdict({ headers, now }), ...(rule.hint ? { hint: rule.hint } : {}) };
  }
  return { verdict: status >= 200 && status < 300 ? { kind: 'permanent' } : { kind: 'retry' } };
}

/** One entry of a batch answer's `errors[]` (a `StandardError`, whose `status` is a string) as a typed segsync error. */
export function batchError(what: string, error: HubspotErrorBody, now = Date.now()): SegsyncError {
  const status = Number(error.status);
  return toSegsyncError(what, Number.isInteger(status) && status >= 400 ? status : 400, error, {}, now);
}

/** What a failed call means, as a typed segsync error. */
export function toSegsyncError(
  what: string,
  status: number | undefined,
  body: HubspotErrorBody | undefined,
  headers: Record<string, string | undefined> = {},
  now = Date.now(),
  cause?: unknown,
): SegsyncError {
  const { verdict, hint } = classify(status, body, headers, now);
  const detail = [status === undefined ? 'no answer' : `HTTP ${status}`, body?.category, body?.policyName, body?.message].filter(Boolean).join(' ');
  const message = `hubspot: ${what} failed: ${detail}`;
  const base = {
    esp: 'hubspot',
    ...(status !== undefined ? { status } : {}),
    ...(body?.category ? { vendorCode: body.category } : {}),
    ...(hint ? { hint } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
  switch (verdict.kind) {
    case 'rate-limited':
      return new EspRateLimitError(message, { ...base, retryAfterMs: verdict.afterMs, budgetExhausted: verdict.budgetExhausted });
    case 'retry':
      return new EspTransientError(message, base);
    case 'auth':
      return new EspAuthError(message, base);
    case 'permanent':
      return new EspPermanentError(message, base);
  }
}
