/**
 * Mailchimp webhooks: unsigned, form-encoded deliveries (`type`, `fired_at`, `data[...]`). They are
 * protected by a long random secret in the URL we register, compared in constant time. Mailchimp
 * checks a new webhook URL with a GET, which must answer 200. We register with `sources.api=false`
 * so our own API writes do not come back as changes.
 */
import { createHash } from 'node:crypto';
import type { RawRequest, RemoteChange, WebhookResult } from '../connector';
import { sameSecret } from '../webhook-checks';
import { WebhookError } from '../../src/errors';
import { normaliseEmail } from '../../src/model/identity';
import { serializeWithinLimits } from '../../src/model/limits';
import type { FieldValue } from '../../src/model/types';
import type { MailchimpClient } from './client';
import type { WebhookCreate } from './wire';

/** The query parameter that carries the secret in the registered URL. */
export const SECRET_PARAM = 'secret';

/** The URL to register: the public endpoint with the secret appended. */
export function webhookUrlWithSecret(publicUrl: string, secret: string): string {
  const url = new URL(publicUrl);
  url.searchParams.set(SECRET_PARAM, secret);
  return url.toString();
}

/** Throws `WebhookError` unless the request's URL carries the expected secret. */
export function verifySecret(request: RawRequest, secret: string | undefined): void {
  if (!secret) {
    throw new WebhookError('mailchimp: webhook received but no webhook secret is configured', {
      hint: 'set connectors.mailchimp.webhookSecret to a long random value (e.g. openssl rand -hex 32) and register the webhook again',
    });
  }
  const given = new URL(request.url, 'http://placeholder.invalid').searchParams.get(SECRET_PARAM) ?? '';
  if (!sameSecret(given, secret)) {
    throw new WebhookError('mailchimp: webhook secret is missing or wrong', {
      hint: 'the URL registered on Mailchimp must end with ?secret=<connectors.mailchimp.webhookSecret>; re-register it if the secret changed',
    });
  }
}

/** Parses `data[merges][FNAME]=A` style keys into a nested object. */
export function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, '').split('[');
    let node = out;
    path.forEach((part, i) => {
      if (i === path.length - 1) {
        node[part] = value;
        return;
      }
      const child = node[part];
      node = (child && typeof child === 'object' ? child : (node[part] = {})) as Record<string, unknown>;
    });
  }
  return out;
}

/** `fired_at` is "YYYY-MM-DD HH:MM:SS" in UTC. */
function firedAt(text: unknown, fallback: number): number {
  if (typeof text !== 'string') return fallback;
  const t = Date.parse(`${text.replace(' ', 'T')}Z`);
  return Number.isNaN(t) ? fallback : t;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Mailchimp gives no event id, so a delivery is identified by its whole content: a retry of the same
 * delivery repeats it exactly, while two different changes to one member in the same second (same
 * type, email and `fired_at`) differ in their data and are both kept. Fields are sorted so the
 * order Mailchimp happens to encode them in does not matter.
 */
export function contentId(body: string): string {
  const fields = [...new URLSearchParams(body).entries()].sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : x > y ? 1 : 0) : a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url').slice(0, 32);
}

/** Turns a delivery's merge values (tag → text) into ESP field values by field name. */
export type MergeNamer = (merges: Record<string, unknown>) => Record<string, FieldValue>;

/** Verifies and parses one delivery; a GET is Mailchimp's URL check and gets an empty 200. */
export function parseWebhook(request: RawRequest, secret: string | undefined, nameMerges: MergeNamer): WebhookResult {
  verifySecret(request, secret);
  if (request.method.toUpperCase() === 'GET' || request.method.toUpperCase() === 'HEAD') {
    return { reply: { status: 200, body: '' }, changes: [], events: [] };
  }
  const form = parseForm(request.rawBody.toString('utf8'));
  const type = str(form.type);
  const data = (form.data && typeof form.data === 'object' ? form.data : {}) as Record<string, unknown>;
  const occurredAt = firedAt(form.fired_at, request.receivedAt);
  const email = str(data.email) ?? str(data.new_email);
  // Verified deliveries that cannot be read are refused as items with a 200: an error answer would only
  // make Mailchimp send the same unreadable body again (and in the end disable the webhook).
  const refuse = (message: string): WebhookResult => ({
    reply: { status: 200 },
    changes: [],
    events: [],
    rejected: [{ index: 0, message: `mailchimp webhook: ${message}` }],
  });
  if (!type) return refuse('the body has no "type" (it must be form-encoded as Mailchimp sends it)');
  if (type === 'campaign') return { reply: { status: 200 }, changes: [], events: [] };
  if (!email) return refuse(`"${type}" delivery carries no data[email]`);
  const eventId = contentId(request.rawBody.toString('utf8'));
  const merges = (data.merges && typeof data.merges === 'object' ? data.merges : {}) as Record<string, unknown>;
  try {
    serializeWithinLimits(merges, 'data[merges]');
  } catch (err) {
    return refuse((err as Error).message);
  }
  const ref = { email: normaliseEmail(email), ...(str(data.id) ? { externalId: str(data.id) } : {}) };
  const base = { eventId, ref, fields: {}, occurredAt };
  let change: RemoteChange;
  switch (type) {
    case 'subscribe':
      change = { ...base, kind: 'created', fields: nameMerges(merges), consent: 'subscribed' };
      break;
    case 'profile':
      change = { ...base, kind: 'updated', fields: nameMerges(merges) };
      break;
    case 'unsubscribe':
      // action=delete: the member was removed from the audience (archived), not only unsubscribed.
      change = { ...base, kind: data.action === 'delete' ? 'deleted' : 'updated', consent: 'unsubscribed' };
      break;
    case 'cleaned':
      change = { ...base, kind: 'updated', consent: 'cleaned' };
      break;
    case 'upemail': {
      const oldEmail = str(data.old_email);
      const newId = str(data.new_id);
      change = {
        ...base,
        ref: { email: normaliseEmail(str(data.new_email) ?? email), ...(newId ? { externalId: newId } : {}) },
        kind: 'email-changed',
        ...(oldEmail ? { previous: { email: normaliseEmail(oldEmail) } } : {}),
      };
      break;
    }
    default:
      return refuse(`unknown type "${type.slice(0, 40)}" (segsync handles subscribe, unsubscribe, profile, cleaned, upemail and campaign)`);
  }
  return { reply: { status: 200 }, changes: [change], events: [] };
}

/** The registered URL without its secret, to recognise our own registrations. */
function withoutSecret(url: string): string {
  try {
    const u = new URL(url);
    u.searchParams.delete(SECRET_PARAM);
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Registers the webhook once: a registration of the same URL is kept, and one of the same endpoint
 * with an old secret (after a rotation) is replaced, since its deliveries would all be refused.
 */
export async function ensureWebhook(client: MailchimpClient, publicUrl: string, secret: string): Promise<'created' | 'existing'> {
  const url = webhookUrlWithSecret(publicUrl, secret);
  const existing = await client.webhooks();
  if (existing.some((w) => w.url === url)) return 'existing';
  for (const w of existing) if (withoutSecret(w.url) === withoutSecret(url)) await client.deleteWebhook(w.id);
  const body: WebhookCreate = {
    url,
    events: { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: false },
    sources: { user: true, admin: true, api: false },
  };
  await client.createWebhook(body);
  return 'created';
}
