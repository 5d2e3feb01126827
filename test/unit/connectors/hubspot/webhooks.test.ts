import { createHmac } from 'node:crypto';
import { Signature } from '@hubspot/api-client';
import { WebhookError } from '../../../../src/errors';
import type { RawRequest } from '../../../../connectors/connector';
import { EchoGuard, parseWebhook, signV3, verifyV3 } from '../../../../connectors/hubspot/webhooks';

const SECRET = 'client-secret-123';
const URL = 'https://hooks.example.com/webhooks/hubspot?portal=1';
const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);

function signed(body: unknown, opts: { ts?: number; secret?: string; url?: string; signUrl?: string } = {}): RawRequest {
  const raw = JSON.stringify(body);
  const ts = String(opts.ts ?? NOW);
  return {
    method: 'POST',
    url: opts.url ?? URL,
    headers: {
      'x-hubspot-signature-v3': signV3(opts.secret ?? SECRET, 'POST', opts.signUrl ?? opts.url ?? URL, raw, ts),
      'x-hubspot-request-timestamp': ts,
      'content-type': 'application/json',
    },
    rawBody: Buffer.from(raw),
    receivedAt: NOW,
  };
}

const settings = { clientSecret: SECRET, tagProperty: 'segsync_tags', appId: '424242' };
const event = (over: Record<string, unknown>) => ({
  eventId: 1,
  subscriptionId: 1,
  portalId: 62515,
  appId: 1,
  occurredAt: NOW - 1000,
  subscriptionType: 'contact.propertyChange',
  attemptNumber: 0,
  objectId: 101,
  changeSource: 'CRM_UI',
  sourceId: 'userId:1',
  ...over,
});

describe('HubSpot webhook signature v3', () => {
  it('matches the documented construction: base64 HMAC-SHA256 of method + uri + body + timestamp', () => {
    const expected = createHmac('sha256', 's').update('POSThttps://x.test/h[]1700000000000').digest('base64');
    expect(signV3('s', 'post', 'https://x.test/h', '[]', 1700000000000)).toBe(expected);
  });

  it("agrees with the official SDK's Signature.isValid", () => {
    const now = Date.now();
    const body = '[{"eventId":1}]';
    const signature = signV3(SECRET, 'POST', URL, body, now);
    expect(Signature.isValid({ signatureVersion: 'v3', signature, clientSecret: SECRET, requestBody: body, url: URL, method: 'POST', timestamp: now })).toBe(
      true,
    );
  });

  it('accepts a correctly signed, fresh delivery', () => {
    expect(() => verifyV3(signed([]), SECRET, NOW + 1000)).not.toThrow();
  });

  it('rejects a bad signature with a WebhookError that says what to check', () => {
    const req = signed([], { secret: 'other-secret' });
    expect(() => verifyV3(req, SECRET, NOW)).toThrow(WebhookError);
    expect(() => verifyV3(req, SECRET, NOW)).toThrow(/signature does not match/);
  });

  it('rejects a timestamp older than 5 minutes even when the signature is valid', () => {
    const req = signed([], { ts: NOW - 5 * 60_000 - 1 });
    expect(() => verifyV3(req, SECRET, NOW)).toThrow(/more than 5 minutes/);
  });

  it('rejects a timestamp more than 5 minutes in the future', () => {
    expect(() => verifyV3(signed([], { ts: NOW + 6 * 60_000 }), SECRET, NOW)).toThrow(/more than 5 minutes/);
  });

  it('rejects a delivery without signature headers, and any delivery when no secret is configured', () => {
    const req = { ...signed([]), headers: {} };
    expect(() => verifyV3(req, SECRET, NOW)).toThrow(/without X-HubSpot-Signature-v3/);
    expect(() => verifyV3(signed([]), undefined, NOW)).toThrow(/no client secret/);
  });

  it("accepts a signature computed over the URI with HubSpot's decoded characters", () => {
    const url = 'https://hooks.example.com/h?x=a%3Ab';
    const req = signed([], { url, signUrl: 'https://hooks.example.com/h?x=a:b' });
    expect(() => verifyV3(req, SECRET, NOW)).not.toThrow();
  });

  it('a body changed after signing fails', () => {
    const req = signed([event({})]);
    req.rawBody = Buffer.from(req.rawBody.toString().replace('101', '102'));
    expect(() => verifyV3(req, SECRET, NOW)).toThrow(/signature/);
  });
});

describe('HubSpot webhook parsing', () => {
  it('turns creation, propertyChange, deletion, merge and privacyDeletion into remote changes, in time order', () => {
    const body = [
      event({ eventId: 5, subscriptionType: 'contact.privacyDeletion', objectId: 104, occurredAt: NOW - 100 }),
      event({ eventId: 1, subscriptionType: 'contact.creation', objectId: 101, occurredAt: NOW - 500 }),
      event({ eventId: 2, propertyName: 'firstname', propertyValue: 'Ada', occurredAt: NOW - 400 }),
      event({ eventId: 3, subscriptionType: 'contact.deletion', objectId: 102, occurredAt: NOW - 300 }),
      event({ eventId: 4, subscriptionType: 'contact.merge', objectId: 103, primaryObjectId: 103, mergedObjectIds: [99, 103], occurredAt: NOW - 200 }),
    ];
    const { changes } = parseWebhook(signed(body), settings, undefined, new EchoGuard(), NOW);
    expect(changes.map((c) => [c.kind, c.ref.externalId])).toEqual([
      ['created', '101'],
      ['updated', '101'],
      ['deleted', '102'],
      ['merged', '103'],
      ['erased', '104'],
    ]);
    expect(changes[1]!.fields).toEqual({ firstname: 'Ada' });
    expect(changes[3]!.previous).toEqual({ externalIds: ['99'] });
  });

  it('maps the tag property to tags, an email opt-out to unsubscribed and its lifting to no opt-out (no consent)', () => {
    const body = [
      event({ eventId: 1, propertyName: 'segsync_tags', propertyValue: 'vip;beta' }),
      event({ eventId: 2, propertyName: 'hs_email_optout', propertyValue: 'true' }),
      event({ eventId: 3, propertyName: 'hs_email_optout', propertyValue: 'false' }),
      event({ eventId: 4, propertyName: 'hs_email_optout', propertyValue: '' }),
    ];
    const { changes } = parseWebhook(signed(body), settings, undefined, new EchoGuard(), NOW);
    expect(changes[0]).toMatchObject({ kind: 'updated', tags: ['vip', 'beta'], fields: {} });
    expect(changes[1]).toMatchObject({ kind: 'updated', consent: 'unsubscribed' });
    expect(changes[2]).toMatchObject({ kind: 'updated', noOptOut: true, fields: {} });
    expect(changes[2]!.consent).toBeUndefined();
    expect(changes).toHaveLength(3);
  });

  it('decodes values by the property type when the definitions are known', () => {
    const props = new Map([['ltv', { name: 'ltv', type: 'number', fieldType: 'number' }]]);
    const { changes } = parseWebhook(signed([event({ propertyName: 'ltv', propertyValue: '12.5' })]), settings, props, new EchoGuard(), NOW);
    expect(changes[0]!.fields).toEqual({ ltv: 12.5 });
  });

  it('drops duplicate deliveries of one event id', () => {
    const e = event({ propertyName: 'firstname', propertyValue: 'A' });
    expect(parseWebhook(signed([e, e]), settings, undefined, new EchoGuard(), NOW).changes).toHaveLength(1);
  });

  it("drops property changes made by segsync's own app (sourceId) but keeps other apps' changes", () => {
    const body = [
      event({ eventId: 1, propertyName: 'firstname', propertyValue: 'Ours', changeSource: 'INTEGRATION', sourceId: '424242' }),
      event({ eventId: 2, propertyName: 'lastname', propertyValue: 'Theirs', changeSource: 'INTEGRATION', sourceId: '777' }),
    ];
    const { changes } = parseWebhook(signed(body), settings, undefined, new EchoGuard(), NOW);
    expect(changes.map((c) => c.fields)).toEqual([{ lastname: 'Theirs' }]);
  });

  it('drops a property change that only echoes the value segsync just wrote (echo guard)', () => {
    const echo = new EchoGuard();
    echo.remember('101', 'firstname', 'Ada', NOW - 2000);
    const body = [
      event({ eventId: 1, propertyName: 'firstname', propertyValue: 'Ada' }),
      event({ eventId: 2, propertyName: 'firstname', propertyValue: 'Grace' }),
    ];
    const { changes } = parseWebhook(signed(body), { ...settings, appId: undefined as never }, undefined, echo, NOW);
    expect(changes.map((c) => c.fields)).toEqual([{ firstname: 'Grace' }]);
  });

  it('ignores subscription types it does not handle and rejects a body that is not an event array', () => {
    expect(parseWebhook(signed([event({ subscriptionType: 'deal.creation' })]), settings, undefined, new EchoGuard(), NOW).changes).toEqual([]);
    expect(() => parseWebhook(signed({ not: 'an array' }), settings, undefined, new EchoGuard(), NOW)).toThrow(WebhookError);
  });

  it('verifies against the configured public URL when a proxy rewrote the request URL', () => {
    const req = { ...signed([]), url: 'http://127.0.0.1:8787/webhooks/hubspot' };
    expect(() => parseWebhook(req, { ...settings, publicUrl: URL }, undefined, new EchoGuard(), NOW)).not.toThrow();
  });
});
