import { EspAuthError, EspPermanentError, EspRateLimitError, EspTransientError } from '../../../../src/errors';
import { batchError, classify, msUntilDailyReset, toSegsyncError } from '../../../../connectors/hubspot/errors';

const NOW = Date.UTC(2026, 10, 24, 18, 0, 0);

describe('HubSpot answer classification', () => {
  it('reads a ten-secondly 429 from its policyName and waits the interval header (no Retry-After needed)', () => {
    const { verdict } = classify(429, { policyName: 'TEN_SECONDLY_ROLLING' }, { 'x-hubspot-ratelimit-interval-milliseconds': '10000' }, NOW);
    expect(verdict).toEqual({ kind: 'rate-limited', window: 'burst', afterMs: 10_000, budgetExhausted: false });
  });

  it('honours Retry-After when one is sent', () => {
    expect(classify(429, { policyName: 'TEN_SECONDLY_ROLLING' }, { 'retry-after': '2' }, NOW).verdict).toMatchObject({ afterMs: 2000 });
  });

  it('treats a DAILY 429 as a spent budget that resets at the next midnight', () => {
    const { verdict } = classify(429, { policyName: 'DAILY' }, {}, NOW);
    expect(verdict).toEqual({ kind: 'rate-limited', window: 'daily', afterMs: 6 * 3_600_000, budgetExhausted: true });
    expect(msUntilDailyReset(Date.UTC(2026, 0, 1, 23, 59, 59, 999))).toBe(1);
  });

  it('maps the search secondly limit to the search window', () => {
    expect(classify(429, { policyName: 'SECONDLY' }, {}, NOW).verdict).toMatchObject({ window: 'search', afterMs: 1000 });
  });

  it('retries 5xx, 408 and no answer at all; not 4xx', () => {
    for (const s of [500, 502, 503, 504, 408, undefined]) expect(classify(s, undefined).verdict.kind).toBe('retry');
    expect(classify(400, { category: 'VALIDATION_ERROR' }).verdict.kind).toBe('permanent');
    expect(classify(404, { category: 'OBJECT_NOT_FOUND' }).verdict.kind).toBe('permanent');
    expect(classify(409, { category: 'CONFLICT' }).verdict.kind).toBe('permanent');
  });

  it('classifies by category and policyName, never by the message text', () => {
    expect(classify(429, { message: 'You have reached your daily limit.' }).verdict).toMatchObject({ window: 'burst', budgetExhausted: false });
    expect(classify(400, { message: 'rate limit' }).verdict.kind).toBe('permanent');
  });

  it('turns answers into typed errors with hints', () => {
    expect(toSegsyncError('x', 401, { category: 'INVALID_AUTHENTICATION' })).toBeInstanceOf(EspAuthError);
    expect(toSegsyncError('x', 403, { category: 'MISSING_SCOPES' }).hint).toMatch(/scope/);
    expect(toSegsyncError('x', 502, undefined)).toBeInstanceOf(EspTransientError);
    const rl = toSegsyncError('x', 429, { policyName: 'DAILY' }, {}, NOW) as EspRateLimitError;
    expect(rl).toBeInstanceOf(EspRateLimitError);
    expect(rl.budgetExhausted).toBe(true);
    const bad = toSegsyncError('contact write', 400, { category: 'VALIDATION_ERROR', message: 'Property values were not valid' }) as EspPermanentError;
    expect(bad).toBeInstanceOf(EspPermanentError);
    expect(bad.vendorCode).toBe('VALIDATION_ERROR');
    expect(bad.message).toBe('hubspot: contact write failed: HTTP 400 VALIDATION_ERROR Property values were not valid');
  });

  it('classifies batch StandardErrors by their string status and category', () => {
    expect(batchError('contact write', { status: '404', category: 'OBJECT_NOT_FOUND' })).toBeInstanceOf(EspPermanentError);
    const invalid = batchError('contact write', { status: 'error', category: 'VALIDATION_ERROR' }) as EspPermanentError;
    expect(invalid).toBeInstanceOf(EspPermanentError);
    expect(invalid.status).toBe(400);
    expect(batchError('contact write', { status: '500', category: 'INTERNAL_ERROR' })).toBeInstanceOf(EspTransientError);
    const limited = batchError('contact write', { status: '429', policyName: 'TEN_SECONDLY_ROLLING' }, NOW) as EspRateLimitError;
    expect(limited).toBeInstanceOf(EspRateLimitError);
    expect(limited.retryAfterMs).toBe(10_000);
  });
});
