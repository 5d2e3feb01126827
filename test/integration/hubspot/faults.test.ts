/** Faults between the connector and the sandbox: rate limits, 5xx, timeouts, partial batches. Nothing is lost. */
import { Client } from '@hubspot/api-client';
import { EspRateLimitError, EspRecordGoneError, EspTransientError } from '../../../src/errors';
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
    await h.connector.ensureSchema(
      [
        { name: 'nickname', type: 'string' },
        { name: 'plan', type: 'enum', options: ['free', 'pro'] },
      ],
      [],
    );
    await fn(h);
    expect(h.specProblems()).toEqual([]);
  } finally {
    await h.close();
  }
}

describe('HubSpot faults', () => {
  it('waits out ten-secondly 429s (HubSpot body, policyName TEN_SECONDLY_ROLLING, no Retry-After) and loses nothing', () =>
    withHarness(async (h) => {
      const body = {
        status: 'error',
        message: 'You have reached your ten_secondly_rolling limit.',
        errorType: 'RATE_LIMIT',
        correlationId: '5d5a4f4e-0000-4000-8000-000000000001',
        policyName: 'TEN_SECONDLY_ROLLING',
        category: 'RATE_LIMITS',
      };
      h.sandbox.inject({
        path: '/batch/upsert',
        status: 429,
        body,
        headers: { 'x-hubspot-ratelimit-interval-milliseconds': '50', 'x-hubspot-ratelimit-max': '100', 'x-hubspot-ratelimit-remaining': '0' },
        times: 2,
      });
      const results = await h.connector.push([change(1), change(2)]);
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
      expect(h.sandbox.stats().requests['POST /crm/v3/objects/contacts/batch/upsert']).toBe(3);
      expect(h.connector.client.stats().rateLimited).toBe(2);
      expect(h.connector.limiter.stats().pauses).toBeGreaterThanOrEqual(2);
      expect(h.logger.lines.filter((l) => l.msg === 'hubspot: rate limited').map((l) => (l.obj as { window: string }).window)).toEqual(['burst', 'burst']);
    }));

  it('holds a call waiting for the only connection once the call before it drew a 429, not only the refused call', async () => {
    const upserts: { status: number; at: number }[] = [];
    const h = await startHarness(
      { onExchange: (x) => void (x.path.includes('/batch/upsert') && upserts.push({ status: x.status, at: Date.now() })) },
      { limits: { maxConcurrency: 1 } },
    );
    try {
      await h.connector.ensureSchema([{ name: 'nickname', type: 'string' }], []);
      h.sandbox.inject({
        path: '/batch/upsert',
        status: 429,
        body: { status: 'error', message: 'You have reached your ten_secondly_rolling limit.', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' },
        headers: { 'x-hubspot-ratelimit-interval-milliseconds': '1000', 'x-hubspot-ratelimit-max': '100', 'x-hubspot-ratelimit-remaining': '0' },
        // Answered late, so the second push is waiting for the connection when the 429 comes back.
        delayMs: 200,
      });
      const results = await Promise.all([h.connector.push([change(1)]), h.connector.push([change(2)])]);
      expect(results.flat().map((r) => r.status)).toEqual(['ok', 'ok']);
      expect(upserts.map((u) => u.status)).toEqual([429, 200, 200]);
      // Nothing went out while the window was held (a second, less the timer's slack).
      expect(upserts[1]!.at - upserts[0]!.at).toBeGreaterThanOrEqual(900);
    } finally {
      await h.close();
    }
  });

  it('learns a lower ten-second limit from X-HubSpot-RateLimit-Max and stops drawing 429s', () =>
    withHarness(
      async (h) => {
        const batches = Array.from({ length: 12 }, (_, b) => [change(b)]);
        const results = (await Promise.all(batches.map((b) => h.connector.push(b)))).flat();
        expect(results.map((r) => r.status)).toEqual(Array(12).fill('ok'));
        expect(h.sandbox.contactCount()).toBe(12);
        expect(h.sandbox.stats().rejected.TEN_SECONDLY_ROLLING ?? 0).toBeLessThanOrEqual(2);
        expect(h.logger.lines.some((l) => l.msg?.startsWith('hubspot: the account allows fewer calls'))).toBe(true);
        for (const x of h.exchanges.filter((e) => e.status === 429))
          expect(x.responseBody).toMatchObject({ policyName: 'TEN_SECONDLY_ROLLING', errorType: 'RATE_LIMIT' });
      },
      // The sandbox allows 4 per 150 ms; the connector was configured for 50.
      { rateLimits: { tenSecondly: { limit: 4, windowMs: 150 } } },
      { limits: { windows: { burst: { limit: 50, windowMs: 150 } } } },
    ));

  it('stops on a DAILY 429: the contacts come back as rate-limited until the daily reset, not retried now', () =>
    withHarness(async (h) => {
      h.sandbox.inject({
        path: '/batch/upsert',
        status: 429,
        body: {
          status: 'error',
          message: 'You have reached your daily limit.',
          errorType: 'RATE_LIMIT',
          correlationId: '5d5a4f4e-0000-4000-8000-000000000000',
          policyName: 'DAILY',
          category: 'RATE_LIMITS',
        },
      });
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

  it('tracks the daily budget itself: once spent, contacts wait for the reset without a call being made', () =>
    withHarness(
      async (h) => {
        const used = Object.values(h.connector.client.stats().requests).reduce((a, b) => a + b, 0);
        expect(used).toBe(6);
        const first = await h.connector.push([change(1)]);
        expect(first[0]!.status).toBe('ok');
        const before = h.exchanges.length;
        const [r] = await h.connector.push([change(2)]);
        expect(r!.status).toBe('retry');
        expect(r!.status === 'retry' && (r!.error as EspRateLimitError).budgetExhausted).toBe(true);
        expect(r!.status === 'retry' && r!.retryAfterMs).toBeGreaterThan(3_600_000);
        expect(h.exchanges.length).toBe(before);
      },
      {},
      { limits: { windows: { daily: { limit: 7, windowMs: 86_400_000 } } } },
    ));

  it('retries 5xx answers with backoff and succeeds', () =>
    withHarness(async (h) => {
      h.sandbox.inject({ path: '/batch/upsert', status: 502, times: 2 });
      const results = await h.connector.push([change(1)]);
      expect(results[0]!.status).toBe('ok');
      expect(h.sandbox.stats().requests['POST /crm/v3/objects/contacts/batch/upsert']).toBe(3);
    }));

  it('keeps SDK retries off even when another SDK client in the process turns them on (decorator singleton)', () =>
    withHarness(
      async (h) => {
        const other = new Client({ accessToken: 'x', basePath: h.sandbox.url, numberOfApiCallRetries: 6 });
        void other.crm.contacts;
        h.sandbox.inject({ path: '/batch/upsert', status: 502 });
        const [r] = await h.connector.push([change(1)]);
        expect(r!.status).toBe('retry');
        expect(h.sandbox.stats().requests['POST /crm/v3/objects/contacts/batch/upsert']).toBe(1);
      },
      {},
      { maxAttempts: 1 },
    ));

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

  it('pauses a whole interval when HubSpot reports the window spent by other clients', () =>
    withHarness(async (h) => {
      const spent = { 'x-hubspot-ratelimit-max': '100', 'x-hubspot-ratelimit-interval-milliseconds': '10000', 'x-hubspot-ratelimit-remaining': '0' };
      // Our one call against a spent window: someone else used the other 99.
      h.sandbox.inject({ path: '/batch/upsert', headers: spent });
      expect((await h.connector.push([change(1)]))[0]!.status).toBe('ok');
      expect(h.connector.limiter.waitFor('default')).toBeGreaterThan(8_000);
    }));

  it('does not pause when HubSpot counts one call more than segsync does', () =>
    withHarness(async (h) => {
      // Every call so far (schema set-up) plus this one is in segsync's count; HubSpot claims one more.
      const ours = Object.values(h.sandbox.stats().requests).reduce((a, b) => a + b, 0) + 1;
      h.sandbox.inject({
        path: '/batch/upsert',
        headers: { 'x-hubspot-ratelimit-max': String(ours + 1), 'x-hubspot-ratelimit-interval-milliseconds': '10000', 'x-hubspot-ratelimit-remaining': '0' },
      });
      expect((await h.connector.push([change(1)]))[0]!.status).toBe('ok');
      expect(h.connector.limiter.waitFor('default')).toBe(0);
    }));

  it('times out a call that gets no answer and retries it', () =>
    withHarness(
      async (h) => {
        h.sandbox.inject({ path: '/batch/upsert', delayMs: 4_000 });
        const started = Date.now();
        const results = await h.connector.push([change(1)]);
        expect(results[0]!.status).toBe('ok');
        // Well before the silent answer would have come, with room for a loaded CI machine.
        expect(Date.now() - started).toBeLessThan(3_000);
        expect(h.sandbox.stats().requests['POST /crm/v3/objects/contacts/batch/upsert']).toBe(2);
        expect(h.logger.lines.some((l) => l.level === 'debug' && l.msg === 'hubspot: transient failure')).toBe(true);
      },
      {},
      { timeoutMs: 100 },
    ));

  it('attributes a 207 partial answer to its contacts: an id HubSpot does not hold is gone, the rest succeed', () =>
    withHarness(async (h) => {
      const created = await h.connector.push([change(1), change(2), change(3)]);
      const ids = created.map((r) => (r.status === 'ok' ? r.externalId! : ''));
      const batch: ContactChange[] = [
        { ...change(1, { nickname: 'one' }), ref: { email: 'f1@example.com', externalId: ids[0]! } },
        { ...change(9, { nickname: 'ghost' }), ref: { email: 'ghost@example.com', externalId: '999999' } },
        { ...change(3, { nickname: 'three' }), ref: { email: 'f3@example.com', externalId: ids[2]! } },
      ];
      const results = await h.connector.push(batch);
      expect(results.map((r) => r.status)).toEqual(['ok', 'gone', 'ok']);
      const gone = results[1]!;
      expect(gone.status === 'gone' && gone.error).toBeInstanceOf(EspRecordGoneError);
      expect(gone.status === 'gone' && [(gone.error as EspRecordGoneError).vendorCode, gone.error.message]).toEqual([
        'OBJECT_NOT_FOUND',
        expect.stringMatching(/^hubspot: contact 999999 no longer exists there/),
      ]);
      expect(h.sandbox.contact(ids[2]!)!.properties.nickname).toBe('three');
      expect(h.exchanges.some((x) => x.status === 207)).toBe(true);
    }));

  it('attributes a 207 upsert error to its contact: an erased (blocklisted) email is refused, the others are written', () =>
    withHarness(async (h) => {
      await h.connector.push([change(1)]);
      await h.connector.erase({ email: 'f1@example.com' });
      const results = await h.connector.push([change(0), change(1), change(2)]);
      expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'ok']);
      expect(results[1]!.status === 'failed' && results[1]!.error.message).toMatch(/permanently deleted/);
      expect(h.sandbox.contact('f1@example.com')).toBeUndefined();
    }));

  it('keeps a tag write whose list membership failed as retry, so the membership is not lost', () =>
    withHarness(
      async (h) => {
        h.sandbox.inject({ path: '/crm/v3/lists', status: 503, times: 2 });
        const [r] = await h.connector.push([{ ...change(1), addTags: ['vip'], remoteTags: [] }]);
        expect(r!.status).toBe('retry');
        expect(h.sandbox.contact('f1@example.com')!.properties.segsync_tags).toBe('vip');
        const [again] = await h.connector.push([{ ...change(1), addTags: ['vip'], remoteTags: ['vip'] }]);
        expect(again!.status).toBe('ok');
        expect(h.sandbox.listMembers('segsync: vip')).toEqual([h.sandbox.contact('f1@example.com')!.id]);
      },
      {},
      { tagLists: true, maxAttempts: 2 },
    ));

  it('isolates a value HubSpot rejects for the whole batch (a stale option); the others are written', () =>
    withHarness(async (h) => {
      await h.connector.ensureSchema([{ name: 'plan', type: 'enum', options: ['free', 'pro', 'legacy'] }], []);
      // Removed on HubSpot after segsync read the schema: only HubSpot can refuse it.
      const plan = h.sandbox.state.properties.get('plan')!;
      plan.options = plan.options.filter((o) => o.value !== 'legacy');
      const batch = Array.from({ length: 8 }, (_, i) => change(i, { plan: i === 5 ? 'legacy' : 'pro' }));
      const results = await h.connector.push(batch);
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'failed', 'ok', 'ok']);
      const bad = results[5]!;
      expect(bad.status === 'failed' && bad.error.message).toMatch(/VALIDATION_ERROR/);
      expect(bad.status === 'failed' && bad.error.message).toMatch(/legacy/);
      expect(h.sandbox.contactCount()).toBe(7);
      expect(h.exchanges.filter((x) => x.path.endsWith('/batch/upsert')).length).toBeLessThanOrEqual(7);
    }));

  it('refuses an unknown property or option locally, costing no call, after re-reading the schema once', () =>
    withHarness(async (h) => {
      const before = h.exchanges.length;
      const results = await h.connector.push([change(1, { plan: 'platinum' }), change(2, { nosuch: 'x' }), change(3, { plan: 'pro' })]);
      expect(results.map((r) => r.status)).toEqual(['failed', 'failed', 'ok']);
      expect(results[0]!.status === 'failed' && results[0]!.error.message).toMatch(/"platinum" is not an option of HubSpot property "plan"/);
      expect(results[1]!.status === 'failed' && results[1]!.error.message).toMatch(/no contact property "nosuch"/);
      // Each names its refused property, so the outbox sends the rest of the contact without it.
      expect(results.slice(0, 2).map((r) => r.status === 'failed' && [r.keys, r.error.hint])).toEqual([
        [['plan'], expect.stringMatching(/^add the option to the field's options in segsync.yaml/)],
        [['nosuch'], expect.stringMatching(/creates the properties the mapping needs/)],
      ]);
      const paths = h.exchanges.slice(before).map((x) => x.path.split('?')[0]);
      expect(paths).toEqual(['/crm/v3/properties/contacts', '/crm/v3/objects/contacts/batch/upsert']);
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
