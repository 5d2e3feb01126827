import { signV3 } from '../../../connectors/hubspot/webhooks';
import { signKlaviyoFixture } from '../../support/daemon-services';
import { startHarness } from '../../support/daemon-harness';
import type { Harness } from '../../support/daemon-harness';

const PUBLIC = 'https://hooks.example.com/segsync';
const SECRETS = { hubspot: 'hs-client-secret-abcdef', mailchimp: 'mc-url-secret-abcdef', klaviyo: 'kl-webhook-secret-abcdef' };

describe('daemon webhook routes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ publicUrl: PUBLIC, fixture: { secrets: SECRETS } });
  });
  afterAll(() => h.close());

  async function metric(line: string): Promise<number> {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    const found = text.split('\n').find((l) => l.startsWith(line));
    return found ? Number(found.split(' ').pop()) : 0;
  }

  describe('hubspot (v3 signature over the public URL, raw body and timestamp)', () => {
    // Pretty-printed on purpose: a server that re-serialised the JSON would break the signature.
    const body =
      '[\n  {"eventId": 101, "subscriptionType": "contact.propertyChange", "objectId": 7, "occurredAt": 1777636800000, "propertyName": "firstname", "propertyValue": "Zoë"}\n]';

    function post(opts: { secret?: string; timestamp?: number; query?: string } = {}): Promise<Response> {
      const ts = String(opts.timestamp ?? h.clock.now());
      const path = `/webhooks/hubspot${opts.query ?? ''}`;
      const signature = signV3(opts.secret ?? SECRETS.hubspot, 'POST', `${PUBLIC}${path}`, body, ts);
      return fetch(`${h.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': ts },
        body,
      });
    }

    it('accepts a valid delivery signed over the configured public URL, query included', async () => {
      const r = await post({ query: '?portal=42' });
      expect(r.status).toBe(200);
      expect(await metric('segsync_webhook_deliveries_total{esp="hubspot",result="applied"}')).toBe(1);
    });

    it('ignores a replayed delivery (same event ids) with 200, so HubSpot stops retrying', async () => {
      const r = await post({ query: '?portal=42' });
      expect(r.status).toBe(200);
      expect(await metric('segsync_webhook_deliveries_total{esp="hubspot",result="ignored"}')).toBe(1);
    });

    it('rejects a wrong signature with 401 and a JSON error', async () => {
      const r = await post({ secret: 'not-the-secret' });
      expect(r.status).toBe(401);
      expect(await r.json()).toMatchObject({ error: 'webhook_rejected', message: expect.stringContaining('signature does not match') });
    });

    it('rejects a stale delivery (timestamp more than 5 minutes old) even when correctly signed', async () => {
      const r = await post({ timestamp: h.clock.now() - 6 * 60_000 });
      expect(r.status).toBe(401);
      expect(((await r.json()) as { message: string }).message).toMatch(/more than 5 minutes/);
    });
  });

  describe('mailchimp (secret in the registered URL, form-encoded body)', () => {
    const form = 'type=profile&fired_at=2026-05-01+12%3A00%3A00&data%5Bemail%5D=ada%40example.com&data%5Bmerges%5D%5BFNAME%5D=Ada';

    function post(secret: string): Promise<Response> {
      return fetch(`${h.url}/webhooks/mailchimp?secret=${secret}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
    }

    it("answers Mailchimp's validation GET with 200", async () => {
      const r = await fetch(`${h.url}/webhooks/mailchimp?secret=${SECRETS.mailchimp}`);
      expect(r.status).toBe(200);
    });

    it('accepts a form-encoded delivery carrying the right secret', async () => {
      const r = await post(SECRETS.mailchimp);
      expect(r.status).toBe(200);
      expect(await metric('segsync_webhook_deliveries_total{esp="mailchimp",result="applied"}')).toBe(1);
    });

    it('ignores a replayed delivery (counted with the validation GET, which applies nothing either)', async () => {
      expect((await post(SECRETS.mailchimp)).status).toBe(200);
      expect(await metric('segsync_webhook_deliveries_total{esp="mailchimp",result="ignored"}')).toBe(2);
    });

    it('rejects a wrong or missing secret with 401 and never logs the secret', async () => {
      expect((await post('guess')).status).toBe(401);
      expect((await fetch(`${h.url}/webhooks/mailchimp`)).status).toBe(401);
      expect(h.logs()).not.toContain(SECRETS.mailchimp);
      expect(h.logs()).toContain('webhook rejected');
    });
  });

  describe('klaviyo (fixture HMAC of raw body + timestamp)', () => {
    const body = JSON.stringify({ data: [{ topic: 'event:klaviyo.opened_email', external_id: 'evt-1', payload: {} }] });

    function post(opts: { secret?: string; at?: number } = {}): Promise<Response> {
      const ts = String(Math.floor((opts.at ?? h.clock.now()) / 1000));
      return fetch(`${h.url}/webhooks/klaviyo`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'klaviyo-timestamp': ts,
          'klaviyo-signature': signKlaviyoFixture(opts.secret ?? SECRETS.klaviyo, body, ts),
        },
        body,
      });
    }

    it('accepts a valid delivery, ignores its replay, rejects a bad signature and a stale timestamp', async () => {
      expect((await post()).status).toBe(200);
      expect((await post()).status).toBe(200);
      expect((await post({ secret: 'wrong' })).status).toBe(401);
      expect((await post({ at: h.clock.now() - 10 * 60_000 })).status).toBe(401);
      expect(await metric('segsync_webhook_deliveries_total{esp="klaviyo",result="applied"}')).toBe(1);
      expect(await metric('segsync_webhook_deliveries_total{esp="klaviyo",result="ignored"}')).toBe(1);
      expect(await metric('segsync_webhook_deliveries_total{esp="klaviyo",result="rejected"}')).toBe(2);
    });
  });

  it('answers 404 for an ESP that is not configured', async () => {
    const other = await startHarness({ fixture: { esps: ['hubspot'], secrets: SECRETS } });
    try {
      const r = await fetch(`${other.url}/webhooks/klaviyo`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(404);
      expect(await r.json()).toMatchObject({ error: 'not_configured' });
    } finally {
      await other.close();
    }
  });

  it('rebuilds the signed URL from the Host header when no public URL is configured', async () => {
    const other = await startHarness({ fixture: { secrets: SECRETS } });
    try {
      const body = '[{"eventId": 5, "subscriptionType": "contact.creation", "objectId": 1, "occurredAt": 1777636800000}]';
      const ts = String(other.clock.now());
      const signature = signV3(SECRETS.hubspot, 'POST', `${other.url}/webhooks/hubspot`, body, ts);
      const r = await fetch(`${other.url}/webhooks/hubspot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': ts },
        body,
      });
      expect(r.status).toBe(200);
    } finally {
      await other.close();
    }
  });
});
