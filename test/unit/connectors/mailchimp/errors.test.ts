import { backoffMs, classifyFailure, TITLE_RULES } from '../../../../connectors/mailchimp/errors';
import { EspAuthError, EspPermanentError, EspRateLimitError, EspTransientError } from '../../../../src/errors';

function answer(status: number, body?: unknown): unknown {
  return { status, response: { status, body } };
}

function problem(status: number, title: string, detail = 'detail text'): unknown {
  return answer(status, { type: 'https://mailchimp.com/developer/marketing/docs/errors/', title, status, detail, instance: 'x' });
}

describe('classifyFailure', () => {
  it('makes "Member In Compliance State" a permanent, explained error, never a retry', () => {
    const e = classifyFailure(problem(400, 'Member In Compliance State'), 'upsert member', 1000);
    expect(e).toBeInstanceOf(EspPermanentError);
    expect(e.retryable).toBe(false);
    expect((e as EspPermanentError).vendorCode).toBe('Member In Compliance State');
    expect(e.hint).toMatch(/refuses to subscribe it/);
  });

  it('makes "Forgotten Email Not Subscribed" permanent and says the address was erased', () => {
    const e = classifyFailure(problem(400, 'Forgotten Email Not Subscribed'), 'upsert member', 1000);
    expect(e).toBeInstanceOf(EspPermanentError);
    expect(e.hint).toMatch(/permanently deleted/);
  });

  it('classifies by the exact title whatever the detail text says', () => {
    const e = classifyFailure(problem(400, 'Invalid Resource', 'please try again later, compliance state, too many requests'), 'x', 1);
    expect(e).toBeInstanceOf(EspPermanentError);
  });

  it('makes 429 a rate limit with our own backoff as the time to come back', () => {
    const e = classifyFailure(problem(429, 'Too Many Requests'), 'x', 4000);
    expect(e).toBeInstanceOf(EspRateLimitError);
    expect((e as EspRateLimitError).retryAfterMs).toBe(4000);
  });

  it('treats a bare 403 or 503 page (Request Blocked) as throttling, a 403 problem as an auth error', () => {
    expect(classifyFailure(answer(403, '<html>Request Blocked</html>'), 'x', 10)).toBeInstanceOf(EspRateLimitError);
    expect(classifyFailure(answer(503, undefined), 'x', 10)).toBeInstanceOf(EspRateLimitError);
    expect(classifyFailure(problem(403, 'Forbidden'), 'x', 10)).toBeInstanceOf(EspAuthError);
    expect(classifyFailure(problem(401, 'API Key Invalid'), 'x', 10)).toBeInstanceOf(EspAuthError);
  });

  it('retries 5xx, timeouts and network failures', () => {
    expect(classifyFailure(problem(500, 'Internal Server Error'), 'x', 10)).toBeInstanceOf(EspTransientError);
    expect(classifyFailure(problem(502, 'Bad Gateway'), 'x', 10)).toBeInstanceOf(EspTransientError);
    const timeout = classifyFailure({ timeout: 120000, code: 'ECONNABORTED' }, 'list members', 10);
    expect(timeout).toBeInstanceOf(EspTransientError);
    expect(timeout.message).toMatch(/no answer within 120000 ms/);
    expect(classifyFailure({ code: 'ECONNREFUSED' }, 'x', 10)).toBeInstanceOf(EspTransientError);
  });

  it('names the fields Mailchimp rejected', () => {
    const e = classifyFailure(
      answer(400, {
        title: 'Invalid Resource',
        status: 400,
        detail: 'Your merge fields were invalid.',
        errors: [{ field: 'SCORE', message: 'Please enter a number' }],
      }),
      'upsert member',
      1,
    );
    expect(e.message).toBe('mailchimp: upsert member failed: Invalid Resource: Your merge fields were invalid. (SCORE: Please enter a number)');
  });

  it('gives every title in the table a hint', () => {
    for (const [title, rule] of Object.entries(TITLE_RULES)) expect([title, rule.hint.length > 10]).toEqual([title, true]);
  });
});

describe('backoffMs', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, 1000, 30_000))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
});
