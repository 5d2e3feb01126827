import { ManualClock } from '../../../src/model/clock';
import { EspPermanentError, EspTransientError, ValidationError, WebhookError } from '../../../src/errors';
import type { ContactChange } from '../../../connectors/connector';
import { signWebhook } from '../../../connectors/klaviyo/webhooks';
import { klaviyoSpec, startKlaviyoHarness, type KlaviyoHarness } from '../../support/klaviyo';

function change(email: string, extra: Partial<ContactChange> = {}): ContactChange {
  return { ref: { email }, set: {}, clear: [], addTags: [], removeTags: [], ...extra };
}

describe('Klaviyo connector under faults', () => {
  let h: KlaviyoHarness;
  beforeEach(async () => {
    h = await startKlaviyoHarness({ jobDurationMs: 20 });
  });
  afterEach(async () => {
    // Closed before the check: a failing check must not leave the sandbox open and Jest waiting.
    await h.close();
    expect(h.specProblems()).toEqual([]);
  });

  test('waits out a 429 for its Retry-After, pausing the shared limiter, then succeeds', async () => {
    const connector = h.connector();
    h.sandbox.fail({ method: 'POST', pathPrefix: '/api/profile-import', status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const [result] = await connector.push([change('slow@example.com', { set: { a: 1 } })]);
    expect(result!.status).toBe('ok');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(connector.client.limiter.stats().pauses).toBe(1);
    expect(connector.client.stats()).toMatchObject({ rateLimited: 1, retries: 1 });
    const throttled = h.exchanges.find((x) => x.status === 429)!;
    expect(throttled.responseBody).toEqual({ errors: [expect.objectContaining({ code: 'throttled', status: 429 })] });
  });

  test('holds a call waiting for the only connection once the call before it drew a 429, not only the refused call', async () => {
    const connector = h.connector({ maxConcurrency: 1 });
    // Refused late, so the second push is waiting for the connection when the 429 comes back.
    h.sandbox.fail({ method: 'POST', pathPrefix: '/api/profile-import', status: 429, retryAfterSeconds: 1, delayMs: 200 });
    const imports = (): number => h.sandbox.calls.get('POST /api/profile-import') ?? 0;
    const pushes = Promise.all([connector.push([change('a@example.com', { set: { a: 1 } })]), connector.push([change('b@example.com', { set: { a: 2 } })])]);
    await new Promise((r) => setTimeout(r, 700));
    // Half-way through the second Klaviyo asked for: only the refused call has gone out.
    expect(imports()).toBe(1);
    const results = await pushes;
    expect(results.flat().map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(imports()).toBe(3);
  });

  test('retries a 5xx, and reports retry (not failed) when 5xx persists', async () => {
    const patient = h.connector();
    h.sandbox.fail({ method: 'POST', pathPrefix: '/api/profile-import', status: 503 });
    const [ok] = await patient.push([change('flaky@example.com')]);
    expect(ok!.status).toBe('ok');

    const impatient = h.connector({ maxRetries: 0 });
    h.sandbox.fail({ method: 'POST', pathPrefix: '/api/profile-import', status: 503 });
    const [retry] = await impatient.push([change('down@example.com')]);
    expect(retry).toMatchObject({ status: 'retry' });
    expect(retry!.status === 'retry' && retry!.error).toBeInstanceOf(EspTransientError);
  });

  test('a bulk job with invalid profiles imports the rest and fails each bad one with its reason', async () => {
    const connector = h.connector({ bulkThreshold: 10 });
    h.sandbox.rejectInJob('rejected@example.com', 'Email domain does not exist.');
    h.sandbox.rejectOnImport('late@example.com', 'invalid', 'Profile is suppressed for import.');
    const batch = Array.from({ length: 40 }, (_, i) => change(`ok${i}@example.com`, { set: { n: i } }));
    batch.splice(5, 0, change('not-an-email'));
    batch.splice(17, 0, change('rejected@example.com'));
    batch.splice(30, 0, change('late@example.com'));
    batch.splice(33, 0, change('phone@example.com', { set: { phone_number: '555-0100' } }));
    const results = await connector.push(batch);
    expect(results.map((r) => r.ref.email)).toEqual(batch.map((c) => c.ref.email));
    const failed = results.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.ref.email)).toEqual(['not-an-email', 'rejected@example.com', 'late@example.com', 'phone@example.com']);
    const errors = failed.map((r) => (r.status === 'failed' ? r.error : undefined));
    expect(errors[0]).toBeInstanceOf(ValidationError);
    expect(errors[1]!.message).toMatch(/Email domain does not exist/);
    expect(errors[2]!.message).toMatch(/Profile is suppressed for import/);
    expect(errors[3]).toBeInstanceOf(ValidationError);
    expect(results.filter((r) => r.status === 'ok')).toHaveLength(40);
    expect(h.sandbox.state.profiles.size).toBe(40);
    // The first job was refused as a whole; the second went without the profile it pointed at.
    expect(h.exchanges.filter((x) => x.method === 'POST' && x.path.startsWith('/api/profile-bulk-import-jobs')).map((x) => x.status)).toEqual([400, 202]);
  });

  test('splits a refused bulk job whose errors point at no profile until the bad one is alone', async () => {
    const connector = h.connector({ bulkThreshold: 4 });
    h.sandbox.rejectInJob('bad@example.com');
    const batch = [change('a@example.com'), change('b@example.com'), change('bad@example.com'), change('c@example.com')];
    // Make the sandbox's 400 point nowhere by scripting a plain 400 first.
    h.sandbox.fail({ method: 'POST', pathPrefix: '/api/profile-bulk-import-jobs', status: 400 });
    const results = await connector.push(batch);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'failed', 'ok']);
  });

  test('fails a PATCH that would take an email another profile has (409 duplicate_profile), naming that profile', async () => {
    const connector = h.connector();
    const [a] = await connector.push([change('first@example.com')]);
    const [b] = await connector.push([change('second@example.com')]);
    const aId = a!.status === 'ok' ? a!.externalId! : '';
    const bId = b!.status === 'ok' ? b!.externalId! : '';
    const [clash] = await connector.push([change('second@example.com', { ref: { email: 'second@example.com', externalId: aId } })]);
    expect(clash!.status).toBe('failed');
    const error = clash!.status === 'failed' ? clash!.error : undefined;
    expect(error).toBeInstanceOf(EspPermanentError);
    expect((error as EspPermanentError).vendorCode).toBe('duplicate_profile');
    expect(error!.hint).toContain(bId);
    expect(h.exchanges.find((x) => x.status === 409)!.responseBody).toEqual({
      errors: [expect.objectContaining({ code: 'duplicate_profile', meta: { duplicate_profile_id: bId } })],
    });
  });

  test('rejects a webhook with a bad signature, a stale timestamp or a missing secret', () => {
    const connector = h.connector({ webhookSecret: 'secret-0123456789' });
    const body = Buffer.from(JSON.stringify({ data: [], meta: { klaviyo_webhook_id: 'w1' } }));
    const timestamp = new Date().toISOString();
    const good = { 'klaviyo-signature': signWebhook('secret-0123456789', body, timestamp), 'klaviyo-timestamp': timestamp, 'klaviyo-webhook-id': 'w1' };
    const request = (headers: Record<string, string>, receivedAt = Date.now()) => ({
      method: 'POST',
      url: 'https://hooks.example/k',
      headers,
      rawBody: body,
      receivedAt,
    });
    expect(connector.webhook(request(good))).toEqual({ reply: { status: 200 }, changes: [], events: [] });
    expect(() => connector.webhook(request({ ...good, 'klaviyo-signature': signWebhook('wrong-secret-000000', body, timestamp) }))).toThrow(WebhookError);
    expect(() => connector.webhook(request(good, Date.now() + 10 * 60_000))).toThrow(/timestamp/);
    expect(() => connector.webhook(request({ ...good, 'klaviyo-webhook-id': 'w2' }))).toThrow(/klaviyo_webhook_id/);
    expect(() => h.connector().webhook(request(good))).toThrow(/no webhook secret/);
  });

  test('the sandbox answers a wrong key with 401 and the connector reports an auth error', async () => {
    const connector = h.connector({ apiKey: 'not-a-private-key' });
    const [result] = await connector.push([change('x@example.com')]);
    expect(result).toMatchObject({ status: 'failed', error: expect.objectContaining({ code: 'E_ESP_AUTH' }) });
  });

  test('the spec check is not vacuous: it flags an answer that breaks the spec', () => {
    const problems = klaviyoSpec().check({ method: 'GET', path: '/api/profiles?page[size]=500', status: 200, responseBody: { data: [{ type: 'profile' }] } });
    expect(problems.length).toBeGreaterThan(0);
  });
});

describe('Klaviyo sandbox rate limits on an injected clock', () => {
  test('answers 429 with Retry-After past a tightened window; the connector waits on its clock and goes on', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 100));
    const h = await startKlaviyoHarness({ clock, jobDurationMs: 0, rateLimits: { 'dataPrivacy.burst': { limit: 2, windowMs: 1000, kind: 'fixed' } } });
    try {
      const connector = h.connector({}, clock);
      let settled = 0;
      const erasing = ['a', 'b', 'c'].map((n) => connector.erase({ email: `${n}@example.com` }).finally(() => settled++));
      for (let i = 0; i < 50 && settled < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        await clock.advance(100);
      }
      const results = await Promise.all(erasing);
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
      const statuses = h.exchanges.map((x) => x.status);
      expect(statuses.filter((s) => s === 429)).toHaveLength(1);
      const throttled = h.exchanges.find((x) => x.status === 429)!;
      expect(throttled.responseBody).toMatchObject({ errors: [{ code: 'throttled' }] });
      expect(throttled.responseHeaders['retry-after']).toBe('1');
      const first = h.exchanges[0]!;
      expect(first.responseHeaders).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1', 'ratelimit-reset': '1' });
      expect(connector.client.limiter.stats().pauses).toBe(1);
      expect(h.specProblems()).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
