/**
 * Klaviyo system webhooks: metric events only (there is no profile-change topic, so profiles are
 * pulled). Verification: `Klaviyo-Signature` = hex(HMAC-SHA256(secret_key, rawBody + Klaviyo-Timestamp)).
 *
 * The concatenation order (raw body first, then the timestamp header value) is the one peers document
 * (Hookdeck's Klaviyo webhook guide and others); Klaviyo's own "Working with system webhooks" page was
 * read only up to its HMAC section, so the order is not confirmed from the vendor's text. The body's
 * `meta.klaviyo_webhook_id` must equal the `Klaviyo-Webhook-Id` header, as that page requires.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { WebhookError } from '../../src/errors';
import type { FieldValue } from '../../src/model/types';
import { normaliseEmail } from '../../src/model/identity';
import { parseTime } from '../../src/model/time';
import type { RawRequest, RemoteEvent, WebhookResult } from '../connector';
import { readDelivery, readItems, sameSecret } from '../webhook-checks';
import { includedSchema, wireEventSchema } from './wire';

/** The signature Klaviyo sends for a body and timestamp. */
export function signWebhook(secret: string, rawBody: Buffer | string, timestamp: string): string {
  return createHmac('sha256', secret)
    .update(Buffer.concat([Buffer.from(rawBody), Buffer.from(timestamp)]))
    .digest('hex');
}

const webhookItemSchema = z.object({
  topic: z.string(),
  external_id: z.string().min(1),
  payload: z
    .object({ data: wireEventSchema.optional(), included: z.array(includedSchema).optional() })
    .passthrough()
    .optional(),
});

// Items are checked one by one (webhookItemSchema): one unreadable item must not cost the others.
const webhookBodySchema = z.object({
  data: z.array(z.unknown()),
  meta: z
    .object({ klaviyo_account_id: z.string().optional(), klaviyo_webhook_id: z.string().optional(), timestamp: z.string().optional() })
    .passthrough()
    .optional(),
});

/** `event:klaviyo.opened_email` → `Opened Email` (Klaviyo's metric name for its own topics). */
export function metricNameOfTopic(topic: string): string {
  const tail =
    topic
      .replace(/^event:/, '')
      .split('.')
      .pop() ?? topic;
  return tail
    .split('_')
    .filter((w) => w !== '')
    .map((w) => (w === 'sms' ? 'SMS' : w[0]!.toUpperCase() + w.slice(1)))
    .join(' ');
}

/** Epoch ms of a `Klaviyo-Timestamp` value (epoch seconds, epoch ms or ISO). */
export function parseWebhookTimestamp(value: string): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    return n < 1e12 ? n * 1000 : n;
  }
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}

export interface WebhookCheck {
  secret: string | undefined;
  toleranceMs: number;
}

/** Verifies a delivery; throws `WebhookError` naming what failed. */
export function verifyWebhook(request: RawRequest, check: WebhookCheck): void {
  if (!check.secret) {
    throw new WebhookError('klaviyo webhook: no webhook secret is configured', {
      hint: "set connectors.klaviyo.webhookSecret (from an environment variable) to the webhook's secret_key",
    });
  }
  const signature = request.headers['klaviyo-signature'];
  const timestamp = request.headers['klaviyo-timestamp'];
  if (!signature || !timestamp) {
    throw new WebhookError('klaviyo webhook: Klaviyo-Signature or Klaviyo-Timestamp header is missing', {
      hint: 'only Klaviyo system webhooks are accepted on this URL',
    });
  }
  const expected = Buffer.from(signWebhook(check.secret, request.rawBody, timestamp), 'hex');
  const given = /^[0-9a-f]+$/i.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  if (!sameSecret(given, expected)) {
    throw new WebhookError('klaviyo webhook: signature does not match', {
      hint: 'check that the webhook secret equals the secret_key the Klaviyo webhook was created with',
    });
  }
  const sentAt = parseWebhookTimestamp(timestamp);
  if (sentAt === undefined)
    throw new WebhookError(`klaviyo webhook: unreadable Klaviyo-Timestamp "${timestamp}"`, { hint: 'this delivery is not from Klaviyo' });
  if (Math.abs(request.receivedAt - sentAt) > check.toleranceMs) {
    throw new WebhookError(`klaviyo webhook: timestamp is ${Math.round((request.receivedAt - sentAt) / 1000)} s away from now`, {
      hint: 'a replayed or delayed delivery; check the server clock if every delivery fails',
    });
  }
}

/** Verifies and parses a delivery into events (system webhooks carry no profile changes). */
export function handleWebhook(request: RawRequest, check: WebhookCheck): WebhookResult {
  verifyWebhook(request, check);
  const hint = 'only Klaviyo system webhooks are accepted on this URL';
  const delivery = readDelivery(request, webhookBodySchema, {
    notJson: ['klaviyo webhook: body is not JSON', hint],
    invalid: (issue) => [`klaviyo webhook: unexpected body (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'})`, hint],
  });
  const hookId = request.headers['klaviyo-webhook-id'];
  const bodyHookId = delivery.meta?.klaviyo_webhook_id;
  if (hookId && bodyHookId && hookId !== bodyHookId) {
    throw new WebhookError('klaviyo webhook: meta.klaviyo_webhook_id does not match the Klaviyo-Webhook-Id header', {
      hint: 'Klaviyo says not to process such a delivery',
    });
  }
  const { read, rejected } = readItems(delivery.data, webhookItemSchema, 'klaviyo webhook item', (item) => toEvent(item, request.receivedAt));
  const events = read.map((r) => r.value);
  return { reply: { status: 200 }, changes: [], events, ...(rejected.length ? { rejected } : {}) };
}

type WebhookItem = z.infer<typeof webhookItemSchema>;

function toEvent(item: WebhookItem, receivedAt: number): RemoteEvent {
  const event = item.payload?.data;
  const included = item.payload?.included ?? [];
  const metric = included.find((i) => i.type === 'metric');
  const profileId = event?.relationships?.profile?.data?.id ?? undefined;
  const profile = included.find((i) => i.type === 'profile' && (profileId === undefined || i.id === profileId));
  const datetime = event?.attributes.datetime;
  const metricName = metric?.attributes?.['name'];
  const out: RemoteEvent = {
    eventId: item.external_id,
    name: typeof metricName === 'string' ? metricName : metricNameOfTopic(item.topic),
    time: datetime
      ? parseTime(datetime, 'datetime', receivedAt)
      : event?.attributes.timestamp
        ? parseTime(event.attributes.timestamp * 1000, 'timestamp', receivedAt)
        : receivedAt,
    properties: (event?.attributes.event_properties ?? {}) as Record<string, FieldValue>,
  };
  if (profileId ?? profile?.id) out.externalId = (profileId ?? profile?.id)!;
  const email = profile?.attributes?.['email'];
  if (typeof email === 'string') out.email = normaliseEmail(email);
  return out;
}
