import { createHmac } from 'node:crypto';
import { handleWebhook, metricNameOfTopic, parseWebhookTimestamp, signWebhook } from '../../../../connectors/klaviyo/webhooks';
import { WebhookError } from '../../../../src/errors';

describe('Klaviyo system webhooks', () => {
  test('the signature is hex HMAC-SHA256 of the raw body followed by the timestamp', () => {
    const expected = createHmac('sha256', 's3cret').update('{"a":1}2026-01-01T00:00:00Z').digest('hex');
    expect(signWebhook('s3cret', Buffer.from('{"a":1}'), '2026-01-01T00:00:00Z')).toBe(expected);
  });

  test('topics name Klaviyo metrics', () => {
    expect(metricNameOfTopic('event:klaviyo.opened_email')).toBe('Opened Email');
    expect(metricNameOfTopic('event:klaviyo.sent_sms')).toBe('Sent SMS');
  });

  test('timestamps are read as epoch seconds, epoch ms or ISO', () => {
    expect(parseWebhookTimestamp('1767225600')).toBe(1767225600000);
    expect(parseWebhookTimestamp('1767225600000')).toBe(1767225600000);
    expect(parseWebhookTimestamp('2026-01-01T00:00:00Z')).toBe(1767225600000);
    expect(parseWebhookTimestamp('soon')).toBeUndefined();
  });

  test('parses a delivery into events, falling back to the topic for the name', () => {
    const body = Buffer.from(
      JSON.stringify({
        data: [
          {
            topic: 'event:klaviyo.opened_email',
            external_id: 'EV1',
            payload: {
              data: {
                type: 'event',
                id: 'EV1',
                attributes: { datetime: '2026-01-01T00:00:00+00:00', event_properties: { subject: 'Hi' } },
                relationships: { profile: { data: { type: 'profile', id: 'P1' } } },
              },
              included: [{ type: 'profile', id: 'P1', attributes: { email: 'A@X.com' } }],
            },
          },
        ],
        meta: { klaviyo_webhook_id: 'W' },
      }),
    );
    const ts = '1767225600';
    const result = handleWebhook(
      {
        method: 'POST',
        url: 'https://h/k',
        headers: { 'klaviyo-signature': signWebhook('k', body, ts), 'klaviyo-timestamp': ts, 'klaviyo-webhook-id': 'W' },
        rawBody: body,
        receivedAt: 1767225601000,
      },
      { secret: 'k', toleranceMs: 300_000 },
    );
    expect(result.events).toEqual([
      { eventId: 'EV1', name: 'Opened Email', time: 1767225600000, properties: { subject: 'Hi' }, externalId: 'P1', email: 'a@x.com' },
    ]);
  });

  test('rejects a body that is not a Klaviyo delivery even when signed', () => {
    const body = Buffer.from('{"hello":1}');
    const ts = '1767225600';
    expect(() =>
      handleWebhook(
        {
          method: 'POST',
          url: 'u',
          headers: { 'klaviyo-signature': signWebhook('k', body, ts), 'klaviyo-timestamp': ts },
          rawBody: body,
          receivedAt: 1767225600000,
        },
        { secret: 'k', toleranceMs: 1000 },
      ),
    ).toThrow(WebhookError);
  });
});
