import { classifyAnswer, profileGoneError, retryAfterMs, toSegsyncError } from '../../../../connectors/klaviyo/errors';
import { EspAuthError, EspPermanentError, EspRateLimitError, EspTransientError } from '../../../../src/errors';

const body = (code: string, extra: object = {}) => ({ errors: [{ id: 'e', status: 400, code, title: 't', detail: 'd', ...extra }] });

describe('Klaviyo answer classification', () => {
  test.each([
    [{ status: 429, body: body('throttled') }, 'rate-limited'],
    [{ status: 400, body: body('invalid') }, 'permanent'],
    [{ status: 409, body: body('duplicate_profile') }, 'permanent'],
    [{ status: 401, body: body('not_authenticated') }, 'auth'],
    [{ status: 403, body: body('permission_denied') }, 'auth'],
    [{ status: 503, body: 'Service Unavailable' }, 'retryable'],
    [{ status: 524 }, 'retryable'],
    [{ status: 599 }, 'retryable'],
    [{ status: 418 }, 'permanent'],
    [{ networkCode: 'ECONNRESET' }, 'retryable'],
    [{ networkCode: 'CERT_HAS_EXPIRED' }, 'permanent'],
  ])('%j is %s', (answer, kind) => {
    expect(classifyAnswer({ operation: 'op', ...answer })).toBe(kind);
  });

  test('the error code decides before the status (a throttled code on a 400 is still a rate limit)', () => {
    expect(classifyAnswer({ status: 400, body: body('throttled'), operation: 'op' })).toBe('rate-limited');
  });

  test('maps kinds to error classes with Retry-After and the duplicate profile id in the hint', () => {
    const now = Date.UTC(2026, 0, 1);
    const limited = toSegsyncError({ status: 429, headers: { 'retry-after': '7' }, body: body('throttled'), operation: 'GET /api/profiles' }, now);
    expect(limited).toBeInstanceOf(EspRateLimitError);
    expect((limited as EspRateLimitError).retryAfterMs).toBe(7000);
    const dup = toSegsyncError({ status: 409, body: body('duplicate_profile', { meta: { duplicate_profile_id: '01X' } }), operation: 'PATCH' }, now);
    expect(dup).toBeInstanceOf(EspPermanentError);
    expect(dup.hint).toContain('01X');
    // Something deleted in Klaviyo: a pull cannot bring it back, so the hint says what does.
    const gone = toSegsyncError({ status: 404, body: body('not_found'), operation: 'POST /api/lists/{id}/relationships/profiles' }, now);
    expect(gone.hint).toMatch(/^Klaviyo holds nothing under the id this call named.*segsync retry/);
    // A write to a deleted profile by its id is gone: the contact is unlinked, with what brings it back.
    const profile = profileGoneError('01P');
    expect([profile.code, profile.status, profile.hint]).toEqual([
      'E_ESP_GONE',
      404,
      expect.stringMatching(/add the profile in Klaviyo \(the next pull links it\)/),
    ]);
    expect(toSegsyncError({ status: 401, operation: 'x' }, now)).toBeInstanceOf(EspAuthError);
    expect(toSegsyncError({ status: 502, operation: 'x' }, now)).toBeInstanceOf(EspTransientError);
  });

  test('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(retryAfterMs({ 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterMs({ 'retry-after': new Date(now + 5000).toUTCString() }, now)).toBe(5000);
    expect(retryAfterMs({}, now)).toBeUndefined();
  });
});
