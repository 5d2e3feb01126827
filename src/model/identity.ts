import { createHash, hash } from 'node:crypto';
import { ValidationError } from '../errors';

// Deliberately permissive (RFC 5322 allows far more than ESPs accept): one @, no spaces, a dot in the domain.
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The cross-ESP key of a contact: the email trimmed and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** True when the (normalised) email has the shape every ESP accepts. */
export function isValidEmail(email: string): boolean {
  return EMAIL_SHAPE.test(email) && email.length <= 254;
}

/** Normalises an email and rejects one no ESP would accept. */
export function requireEmail(email: unknown): string {
  if (typeof email !== 'string' || email.trim() === '') {
    throw new ValidationError('missing email', { hint: 'every contact and event needs an "email" field' });
  }
  const normal = normaliseEmail(email);
  if (!isValidEmail(normal)) {
    throw new ValidationError(`"${email}" is not a valid email address`, { hint: 'fix or drop the record' });
  }
  return normal;
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
