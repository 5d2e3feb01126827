import { createHash, hash } from 'node:crypto';
import { ValidationError } from '../errors';

/**
 * Local part: RFC 5322 dot-atoms of ASCII `atext`; domain: LDH labels with a letter (or punycode)
 * top-level label. Stricter than the RFC on purpose: it is what every ESP accepts, and it keeps out
 * look-alikes such as `<script>@x.com` or addresses made of emoji.
 */
const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/** Characters that hide or reorder text: controls, zero-width and bidi formatting characters. */
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/** Why an email is refused, with what to do; undefined when it is acceptable. */
export interface EmailProblem {
  message: string;
  hint: string;
}

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** The cross-ESP key of a contact: the email trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * What is wrong with a (normalised) email, if anything. Invisible characters are named by code point
 * (they cannot be seen in a message), so `ad\u200bmin@x.com` never passes for `admin@x.com`.
 */
export function emailProblem(email: string): EmailProblem | undefined {
  const hidden = INVISIBLE.exec(email);
  if (hidden) {
    return {
      message: `the email contains an invisible or control character (${codePoint(hidden[0])})`,
      hint: 'remove control, zero-width and bidi characters from the address; they make one address look like another',
    };
  }
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (at <= 0 || email.length > 254 || local.length > 64 || !LOCAL_PART.test(local) || !DOMAIN.test(domain)) {
    const ascii = /^[\x20-\x7e]*$/.test(email);
    return {
      message: `"${email}" is not a valid email address`,
      hint: ascii
        ? "an address is local@domain.tld: letters, digits and .!#$%&'*+/=?^_`{|}~- before the @, a domain such as example.com after it"
        : 'only ASCII addresses are accepted (what every ESP accepts); give an internationalised domain in punycode (xn--…)',
    };
  }
  return undefined;
}

/** True when the (normalised) email has the shape every ESP accepts. */
export function isValidEmail(email: string): boolean {
  return emailProblem(email) === undefined;
}

/** Normalises an email and rejects one no ESP would accept. */
export function requireEmail(email: unknown): string {
  if (typeof email !== 'string' || email.trim() === '') {
    throw new ValidationError('missing email', { hint: 'every contact and event needs an "email" field' });
  }
  const normal = normaliseEmail(email);
  const problem = emailProblem(normal);
  if (problem) throw new ValidationError(problem.message, { hint: problem.hint });
  return normal;
}

/** Event ids the ESPs' own events are stored under: `<esp>:<vendor id>`, a namespace local ids never enter. */
const VENDOR_EVENT_ID = /^(hubspot|mailchimp|klaviyo):/i;

/** Why a sender's own event id may not be used (it is in a vendor's namespace), if it may not. */
export function reservedEventIdProblem(eventId: string): EmailProblem | undefined {
  const m = VENDOR_EVENT_ID.exec(eventId);
  if (!m) return undefined;
  return {
    message: `the event id "${eventId.slice(0, 80)}" starts with "${m[0]}", which is reserved for ${m[1]!.toLowerCase()}'s own events`,
    hint: 'use ids of your own (a UUID, or your order id with a prefix of yours); vendor events arrive through their webhooks and pulls',
  };
}

/** Mailchimp's subscriber hash: md5 of the lower-cased email, hex. */
export function subscriberHash(email: string): string {
  return createHash('md5').update(normaliseEmail(email)).digest('hex');
}

/**
 * A stable idempotency id for an event that came without one (same content → same id). The id is
 * part of every stored event: its recipe must never change, or a re-import would double events.
 */
export function deriveEventId(email: string, name: string, time: number, properties: unknown): string {
  // One string hashed at once is the same digest as the parts fed in turn, at a third of the cost.
  return hash('sha256', `${normaliseEmail(email)}\u0000${name}\u0000${time}\u0000${stableStringify(properties)}`, 'base64url').slice(0, 32);
}

/** JSON with object keys sorted, so equal values always serialise the same. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + stableStringify(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = sortedKeys(obj);
  out = '{';
  for (let i = 0; i < keys.length; i++) {
    const v = obj[keys[i]!];
    out += `${i ? ',' : ''}${JSON.stringify(keys[i])}:${typeof v === 'string' ? JSON.stringify(v) : stableStringify(v)}`;
  }
  return `${out}}`;
}

/**
 * An object's keys in `Array#sort`'s default order (UTF-16 code units), by insertion sort: event
 * properties have a handful of keys, where this is a third faster than `sort()` (import hashes one
 * object per event that came without an id).
 */
function sortedKeys(obj: Record<string, unknown>): string[] {
  const keys = Object.keys(obj);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > k; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = k;
  }
  return keys;
}
