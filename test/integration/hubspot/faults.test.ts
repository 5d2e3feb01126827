/** Faults between the connector and the sandbox: rate limits, 5xx, timeouts, partial batches. Nothing is lost. */
import { EspPermanentError, EspRateLimitError, EspTransientError } from '../../../src/errors';
import type { ContactChange } from '../../../connectors/connector';
import { startHarness } from '../../support/hubspot';
import type { Harness } from '../../support/hubspot';

const change = (i: number, set: ContactChange['set'] = { nickname: `n${i}` }): ContactChange => ({
  ref: { email: `f${i}@example.com` },
  set,
  clear: [],
  addTags: [],
  removeTags: [],
});

async function withHarness(fn: (h: Harness) => Promise<void>, ...args: Parameters<typeof startHarness>): Promise<void> {
  const h = await startHarness(...args);
  try {
    await h.connector.ensureSchema([{ name: 'nickname', type: 'string' }, { name: 'plan', type: 'enum', options: ['free', 'pro'] }], []);
    await fn(h);
    expect(h.specProblems()).toEqual([]);
  } finally {
    await h.close();
  }
}

describe('HubSpot faults', () => {
  it('waits out ten-secondly 429s (HubSpot body, policyName TEN_SECONDLY_ROLLING) and loses nothing', () =>
    withHarness(
      async (h) => {
        const batches = Array.from({ length: 12 }, (_, b) => [change(b)]);
        const results = (await Promise.all(batches.map((b) => h.connector.push(b)))).flat();
        expect(results.map((r) => r.status)).toEqual(Array(12).fill('ok'));
        expect(h.sandbox.stats().rejected.TEN_SECONDLY_ROLLING).toBeGreaterThan(0);
        expect(h.connector.client.stats().rateLimited).toBeGreaterThan(0);
        expect(h.sandbox.contactCount()).toBe(12);
        const limited = h.exchanges.filter((x) => x.status === 429);
        expect(limited[0]!.responseBody).toMatchObject({ status: 'error', policyName: 'TEN_SECONDLY_ROLLING', errorType: 'RATE_LIMIT' });
        expect(limited[0]!.responseBody).toHaveProperty('correlationId');
      },
      // The sandbox allows 4 per 150 ms; the connector believes it has 50, so it must learn from the 429s.
      { rateLimits: { tenSecondly: { limit: 4, windowMs: 150 } } },
      { limits: { windows: { burst: { limit: 50, windowMs: 150 } } } },
    ));

  it('stops on a DAILY 429: the contacts come back as rate-limited until the daily reset, not retried now', () =>
    withHarness(async (h) => {
      h.sandbox.inject({ path: '/batch/upsert', status: 429, body: { status: 'error', message: 'You have reached your daily limit.', errorType: 'RATE_LIMIT', correlationId: '5d5a4f4e-0000-4000-8000-000000000000', policyName: 'DAILY', category: 'RATE_LIMITS' } });
      const results = await h.connector.push([change(1), change(2)]);
      expect(results.map((r) => r.status)).toEqual(['retry', 'retry']);
      const r = results[0]!;
      if (r.status !== 'retry') throw new Error('expected retry');
      expect(r.error).toBeInstanceOf(EspRateLimitError);
      expect((r.error as EspRateLimitError).budgetExhausted).toBe(true);
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(h.sandbox.stats().requests['POST /crm/v3/objects/contacts/batch/upsert']).toBe(1);
      expect(h.connector.limiter.waitFor('default')).toBeGreaterThan(0);
    }));

  it('retries 5xx answers with backoff and succeeds', () =>
    withHarness(async (h) => {
      h.sandbox.inject({ path: '/batch/upsert', status: 502, times: 2 });
      const results = await h.connector.push([change(1)]);
      expect(results[0]!.status).toBe('ok');
      expect(h.sandbox.stats().requests['POST /crm/v3/objects/contacts/batch/upsert']).toBe(3);
    }));

  it('returns retry (EspTransientError) when 5xx persists, and the same batch succeeds later', () =>
    withHarness(
      async (h) => {
        h.sandbox.inject({ path: '/batch/upsert', status: 503, times: 3 });
        const first = await h.connector.push([change(1), change(2)]);
        expect(first.map((r) => r.status)).toEqual(['retry', 'retry']);
        expect(first[0]!.status === 'retry' && first[0]!.error).toBeInstanceOf(EspTransientError);
        const second = await h.connector.push([change(1), change(2)]);
        expect(second.map((r) => r.status)).toEqual(['ok', 'ok']);
      },
      {},
      { maxAttempts: 3 },
    ));

  it('times out a call that gets no answer and retries it', () =>
    withHarness(
      async (h) => {
        h.sandbox.inject({ path: '/batch/upsert', delayMs: 400 });
        const results = await h.connector.push([change(1)]);
        expect(results[0]!.status).toBe('ok');
        expect(h.logger.lines.some((l) => l.level === 'warn' && l.msg === 'hubspot: transient failure')).toBe(true);
      },
      {},
      { timeoutMs: 100 },
    ));

  it('attributes a 207 partial answer to its contacts: unknown ids fail, the rest succeed', () =>
    withHarness(async (h) => {
      const created = await h.connector.push([change(1), change(2), change(3)]);
      const ids = created.map((r) => (r.status === 'ok' ? r.externalId! : ''));
      const batch: ContactChange[] = [
        { ...change(1, { nickname: 'one' }), ref: { email: 'f1@example.com', externalId: ids[0]! } },
        { ...change(9, { nickname: 'ghost' }), ref: { email: 'ghost@example.com', externalId: '999999' } },
        { ...change(3, { nickname: 'three' }), ref: { email: 'f3@example.com', externalId: ids[2]! } },
      ];
      const results = await h.connector.push(batch);
      expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'ok']);
      const failed = results[1]!;
      expect(failed.status === 'failed' && failed.error).toBeInstanceOf(EspPermanentError);
      expect(failed.status === 'failed' && (failed.error as EspPermanentError).vendorCode).toBe('OBJECT_NOT_FOUND');
      expect(h.sandbox.contact(ids[2]!)!.properties.nickname).toBe('three');
      expect(h.exchanges.some((x) => x.status === 207)).toBe(true);
    }));

  it('isolates an invalid value that HubSpot rejects for the whole batch; the others are written', () =>
    withHarness(async (h) => {
      const batch = Array.from({ length: 8 }, (_, i) => change(i, { plan: i === 5 ? 'platinum' : 'pro' }));
      const results = await h.connector.push(batch);
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'failed', 'ok', 'ok']);
      const bad = results[5]!;
      expect(bad.status === 'failed' && bad.error.message).toMatch(/VALIDATION_ERROR/);
      expect(bad.status === 'failed' && bad.error.message).toMatch(/platinum/);
      expect(h.sandbox.contactCount()).toBe(7);
    }));

  it('fails a value its property type cannot hold before sending it, without holding up the batch', () =>
    withHarness(async (h) => {
      await h.connector.ensureSchema([{ name: 'ltv', type: 'number' }], []);
      const results = await h.connector.push([change(1, { ltv: 'lots' }), change(2, { ltv: 3 })]);
      expect(results.map((r) => r.status)).toEqual(['failed', 'ok']);
      expect(results[0]!.status === 'failed' && results[0]!.error.code).toBe('E_VALIDATION');
    }));

  it('fails every contact with an auth error when the token is rejected', () =>
    withHarness(
      async (h) => {
        const results = await h.connector.push([change(1)]);
        expect(results[0]).toMatchObject({ status: 'failed', error: expect.objectContaining({ code: 'E_ESP_AUTH' }) });
      },
      {},
      { accessToken: 'wrong' },
    ).catch((err: unknown) => {
      // ensureSchema itself fails first with the same typed error
      expect(err).toMatchObject({ code: 'E_ESP_AUTH' });
    }));
});
