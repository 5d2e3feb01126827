/**
 * HubSpot webhook deliveries: verify the v3 signature, parse the event batch into remote changes, and
 * drop echoes of segsync's own writes.
 *
 * Signature v3 (developers.hubspot.com, request validation): base64(HMAC-SHA256(clientSecret,
 * method + uri + rawBody + timestamp)), timestamp in `X-HubSpot-Request-Timestamp` (epoch ms), rejected
 * when older than 5 minutes. The SDK's `Signature.isValid` compares with `===` and accepts future
 * timestamps, so the check is done here in constant time (`sameSecret`) and with a window both ways.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { WebhookError } from '../../src/errors';
import { normaliseEmail } from '../../src/model/identity';
import type { FieldValue } from '../../src/model/types';
import type { RawRequest, RemoteChange, WebhookResult } from '../connector';
import { readDelivery, readItems, sameSecret } from '../webhook-checks';
import type { PropertyShape } from './values';
import { decodeValue, splitMulti } from './values';

/** How old (or how far in the future) a signed timestamp may be. */
export const MAX_SKEW_MS = 5 * 60_000;

/** Characters HubSpot decodes in the URI before signing (its request-validation guide). */
const DECODED: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

/** The v3 signature of a request. */
export function signV3(clientSecret: string, method: string, uri: string, rawBody: Buffer | string, timestamp: string | number): string {
  return createHmac('sha256', clientSecret)
    .update(`${method.toUpperCase()}${uri}${typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8')}${timestamp}`)
    .digest('base64');
}

/** Throws `WebhookError` unless the request carries a valid, fresh v3 signature. */
export function verifyV3(request: RawRequest, clientSecret: string | undefined, now: number): void {
  if (!clientSecret) {
    throw new WebhookError('hubspot: webhook received but no client secret is configured', {
      hint: "set connectors.hubspot.clientSecret to ${HUBSPOT_CLIENT_SECRET} (the app's client secret)",
    });
  }
  const signature = request.headers['x-hubspot-signature-v3'];
  const timestamp = request.headers['x-hubspot-request-timestamp'];
  if (!signature || !timestamp) {
    throw new WebhookError('hubspot: webhook without X-HubSpot-Signature-v3 / X-HubSpot-Request-Timestamp', {
      hint: "only v3-signed deliveries are accepted; check the app's webhook settings",
    });
  }
  const ts = Number(timestamp);
  if (!Number.isFinite(ts) || Math.abs(now - ts) > MAX_SKEW_MS) {
    throw new WebhookError(`hubspot: webhook timestamp ${timestamp} is more than 5 minutes from now`, {
      hint: 'a replayed or delayed delivery; if every delivery fails this way, check the server clock',
    });
  }
  const decoded = request.url.replace(/%[0-9A-F]{2}/gi, (m) => DECODED[m.toUpperCase()] ?? m);
  const candidates = decoded === request.url ? [request.url] : [request.url, decoded];
  const ok = candidates.some((uri) =>
    sameSecret(Buffer.from(signV3(clientSecret, request.method, uri, request.rawBody, timestamp), 'base64'), Buffer.from(signature, 'base64')),
  );
  if (!ok) {
    throw new WebhookError('hubspot: webhook signature does not match', {
      hint: 'check the client secret and that the public webhook URL configured in segsync is exactly the one HubSpot calls',
    });
  }
}

const eventSchema = z
  .object({
    eventId: z.union([z.number(), z.string()]),
    subscriptionType: z.string(),
    objectId: z.union([z.number(), z.string()]).optional(),
    occurredAt: z.number(),
    portalId: z.number().optional(),
    appId: z.number().optional(),
    subscriptionId: z.number().optional(),
    attemptNumber: z.number().optional(),
    propertyName: z.string().optional(),
    propertyValue: z.string().nullable().optional(),
    changeSource: z.string().optional(),
    sourceId: z.string().optional(),
    changeFlag: z.string().optional(),
    primaryObjectId: z.union([z.number(), z.string()]).optional(),
    mergedObjectIds: z.array(z.union([z.number(), z.string()])).optional(),
    newObjectId: z.union([z.number(), z.string()]).optional(),
  })
  .passthrough();
// Events are checked one by one (eventSchema): one unreadable event must not cost the others.
const deliverySchema = z.array(z.unknown());
export type HubspotWebhookEvent = z.infer<typeof eventSchema>;

/** Remembers values segsync wrote, so their propertyChange webhooks are recognised as echoes. */
export class EchoGuard {
  private readonly written = new Map<string, { value: string; at: number }>();

  constructor(
    private readonly ttlMs = 15 * 60_000,
    private readonly maxEntries = 200_000,
  ) {}

  /** Records that segsync wrote `value` to `property` of contact `id`. */
  remember(id: string, property: string, value: string, now: number): void {
    const key = `${id}\u0000${property}`;
    this.written.delete(key);
    this.written.set(key, { value, at: now });
    if (this.written.size > this.maxEntries) this.written.delete(this.written.keys().next().value!);
  }

  /** True (and forgotten) when this change is exactly the value segsync wrote recently. */
  isEcho(id: string, property: string, value: string | null | undefined, now: number): boolean {
    const key = `${id}\u0000${property}`;
    const hit = this.written.get(key);
    if (!hit || now - hit.at > this.ttlMs || hit.value !== (value ?? '')) return false;
    this.written.delete(key);
    return true;
  }
}

export interface WebhookSettings {
  clientSecret: string | undefined;
  /** The public URL HubSpot calls; overrides the request URL for signing (proxies rewrite it). */
  publicUrl?: string;
  /** segsync's app id: propertyChanges with this `sourceId` are its own writes. */
  appId?: string;
  tagProperty: string;
}

const KIND: Record<string, RemoteChange['kind'] | undefined> = {
  'contact.creation': 'created',
  'contact.restore': 'created',
  'contact.propertyChange': 'updated',
  'contact.deletion': 'deleted',
  'contact.merge': 'merged',
  'contact.privacyDeletion': 'erased',
};

/** Verifies and parses one delivery. Unknown subscription types are skipped, not errors. */
export function parseWebhook(
  request: RawRequest,
  settings: WebhookSettings,
  properties: Map<string, PropertyShape> | undefined,
  echo: EchoGuard,
  now: number,
): WebhookResult {
  verifyV3({ ...request, url: settings.publicUrl ?? request.url }, settings.clientSecret, now);
  const delivery = readDelivery(request, deliverySchema, {
    notJson: ['hubspot: webhook body is not JSON', 'HubSpot sends a JSON array of events'],
    invalid: (issue) => [`hubspot: webhook body is not an event array${issue ? `: ${issue.message}` : ''}`, 'only CRM contact subscriptions are supported'],
  });
  const { read, rejected } = readItems(delivery, eventSchema, 'hubspot webhook event', (event) => event);
  const seen = new Set<string>();
  const changes: RemoteChange[] = [];
  const ordered = read.sort((a, b) => a.value.occurredAt - b.value.occurredAt);
  for (const { index, value: event } of ordered) {
    const eventId = String(event.eventId);
    if (seen.has(eventId)) continue;
    seen.add(eventId);
    try {
      const change = toChange(event, settings, properties, echo, now);
      if (change) changes.push(change);
    } catch (err) {
      rejected.push({ index, message: `hubspot webhook event ${index}: ${(err as Error).message}` });
    }
  }
  return { changes, events: [], reply: { status: 204 }, ...(rejected.length ? { rejected: rejected.sort((a, b) => a.index - b.index) } : {}) };
}

function toChange(
  event: HubspotWebhookEvent,
  settings: WebhookSettings,
  properties: Map<string, PropertyShape> | undefined,
  echo: EchoGuard,
  now: number,
): RemoteChange | undefined {
  const kind = KIND[event.subscriptionType];
  if (!kind) return undefined;
  const id = event.objectId !== undefined ? String(event.objectId) : undefined;
  const fromSelf =
    settings.appId !== undefined && event.sourceId !== undefined && (event.sourceId === settings.appId || event.sourceId === `app:${settings.appId}`);
  const base = { eventId: String(event.eventId), occurredAt: event.occurredAt, ...(fromSelf ? { fromSelf } : {}) };
  if (kind === 'merged') {
    const primary = String(event.primaryObjectId ?? event.objectId ?? '');
    return {
      ...base,
      kind,
      ref: { externalId: primary },
      fields: {},
      previous: { externalIds: (event.mergedObjectIds ?? []).map(String).filter((x) => x !== primary) },
    };
  }
  if (kind !== 'updated') return { ...base, kind, ref: id !== undefined ? { externalId: id } : {}, fields: {} };

  const name = event.propertyName;
  if (!name || id === undefined) return undefined;
  // Our own write coming back: by the app's sourceId, or by matching the value segsync just wrote.
  if (fromSelf || echo.isEcho(id, name, event.propertyValue, now)) return undefined;
  const ref: RemoteChange['ref'] = { externalId: id };
  if (name === settings.tagProperty) return { ...base, kind, ref, fields: {}, tags: splitMulti(event.propertyValue) };
  if (name === 'hs_email_optout') {
    if (event.propertyValue === 'true') return { ...base, kind, ref, fields: {}, consent: 'unsubscribed' };
    return event.propertyValue === 'false' ? { ...base, kind, ref, fields: {}, noOptOut: true } : undefined;
  }
  const value: FieldValue = decodeValue(properties?.get(name), event.propertyValue);
  if (name === 'email' && typeof value === 'string') ref.email = normaliseEmail(value);
  return { ...base, kind, ref, fields: { [name]: value } };
}
