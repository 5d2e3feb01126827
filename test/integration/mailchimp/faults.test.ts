import type { ContactChange } from '../../../connectors/connector';
import { EspAuthError, EspRateLimitError, EspTransientError } from '../../../src/errors';
import type { ValidatedSandbox } from '../../support/mailchimp';
import { systemClock } from '../../../src/model/clock';
import { memoryLogger, sandboxConnector, startValidatedSandbox } from '../../support/mailchimp';

function changes(n: number, over: Partial<ContactChange> = {}): ContactChange[] {
  return Array.from({ length: n }, (_, i) => ({
    ref: { email: `f${i}@example.com` },
    set: { FNAME: `F${i}` },
    clear: [],
    addTags: [],
    removeTags: [],
    ...over,
  }));
}

describe('Mailchimp faults against the sandbox', () => {
  let v: ValidatedSandbox;
  afterEach(async () => {
    await v.sandbox.close();
    expect(v.problems()).toEqual([]);
  });

  it('keeps to the connection limit: at most maxConnections calls in flight, no 429', async () => {
    v = await startValidatedSandbox({ latencyMs: 50 });
    // Known members written one PATCH each (no batch job): the connection limit is what bounds them.
    const c = sandboxConnector(v.sandbox, { maxConnections: 4, batchOperationsFrom: Number.MAX_SAFE_INTEGER });
    v.sandbox.seed(changes(40).map((ch) => ({ email: ch.ref.email, status: 'pending' })));
    const results = await c.push(changes(40, { localConsent: 'pending' }).map((ch) => ({ ...ch, remoteConsent: 'pending' })));
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(v.sandbox.stats().maxInFlight).toBe(4);
    expect(v.sandbox.stats().rejected429).toBe(0);
  });

  it('backs off when another tool holds the connections, learning how many are left from one burst of refusals', async () => {
    v = await startValidatedSandbox({ latencyMs: 50, maxConnections: 2 });
    const logger = memoryLogger();
    const c = sandboxConnector(
      v.sandbox,
      { maxConnections: 10, rateLimitRetries: 3, backoffBaseMs: 100, backoffMaxMs: 60_000, batchOperationsFrom: Number.MAX_SAFE_INTEGER },
      systemClock,
      logger,
    );
    v.sandbox.seed(changes(30).map((ch) => ({ email: ch.ref.email, status: 'pending' })));
    const results = await c.push(changes(30, { remoteConsent: 'pending' }).map((ch) => ({ ...ch, set: { FNAME: 'G' } })));
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    const refused = v.sandbox.stats().rejected429;
    // Ten sent at once, two let through: at most eight refused, all in that first burst, each waiting
    // the first backoff (the old client doubled it per refusal: 100 ms, 200 ms … 12.8 s).
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(8);
    const warnings = logger.lines
      .filter((l) => l.msg === 'mailchimp rate limited; backing off')
      .map((l) => l.obj as { backoffMs: number; connections: number });
    expect(warnings).toHaveLength(refused);
    expect(new Set(warnings.map((w) => w.backoffMs))).toEqual(new Set([100]));
    expect(warnings[warnings.length - 1]!.connections).toBe(2);
    expect(v.exchanges.filter((x) => x.status === 429).every((x) => (x.responseBody as { title: string }).title === 'Too Many Requests')).toBe(true);
  });

  it('reports a rate limit that outlasts its retries as retry with a backoff, for every member of the call', async () => {
    v = await startValidatedSandbox();
    const c = sandboxConnector(v.sandbox, { rateLimitRetries: 1, backoffBaseMs: 20 });
    v.sandbox.inject({ method: 'POST', path: '/lists/', status: 429, times: 2 });
    const results = await c.push(changes(3, { localConsent: 'subscribed' }));
    expect(results.map((r) => r.status)).toEqual(['retry', 'retry', 'retry']);
    const r = results[0]!;
    expect(r.status === 'retry' && r.error).toBeInstanceOf(EspRateLimitError);
    expect(r.status === 'retry' && r.retryAfterMs).toBe(40);
  });

  it('treats a bare "Request Blocked" page as throttling, not as a permanent failure', async () => {
    v = await startValidatedSandbox();
    const c = sandboxConnector(v.sandbox, { rateLimitRetries: 2 });
    v.sandbox.inject({ method: 'POST', path: '/lists/', status: 403, html: true });
    const results = await c.push(changes(2, { localConsent: 'subscribed' }));
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(v.exchanges.filter((x) => x.status === 403)).toHaveLength(1);
  });

  it('returns retry for a 5xx and for a timeout, and the next push succeeds', async () => {
    v = await startValidatedSandbox();
    const c = sandboxConnector(v.sandbox, { timeoutMs: 100 });
    for (const status of [500, 502]) {
      v.sandbox.inject({ method: 'POST', path: '/lists/', status });
      const five = await c.push(changes(2, { localConsent: 'subscribed' }));
      expect(five.map((r) => r.status)).toEqual(['retry', 'retry']);
      expect(five[0]!.status === 'retry' && five[0]!.error).toBeInstanceOf(EspTransientError);
    }

    v.sandbox.inject({ method: 'POST', delayMs: 400 });
    const slow = await c.push(changes(2, { localConsent: 'subscribed' }));
    expect(slow.map((r) => r.status)).toEqual(['retry', 'retry']);
    expect(slow[0]!.status === 'retry' && slow[0]!.error.message).toMatch(/no answer from http:\/\/127\.0\.0\.1:\d+\/3\.0 \(timed out after 100 ms\)/);

    expect((await c.push(changes(2, { localConsent: 'subscribed' }))).map((r) => r.status)).toEqual(['ok', 'ok']);
  });

  it('fails every member with an auth error when the key is rejected', async () => {
    v = await startValidatedSandbox();
    const c = sandboxConnector(v.sandbox, { apiKey: 'wrong-us1' });
    const results = await c.push(changes(2, { localConsent: 'subscribed' }));
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(results[0]!.status === 'failed' && results[0]!.error).toBeInstanceOf(EspAuthError);
  });
});
