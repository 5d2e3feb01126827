import { createHash } from 'node:crypto';
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

/** A stable idempotency id for an event that came without one (same content → same id). */
export function deriveEventId(email: string, name: string, time: number, properties: unknown): string {
  const h = createHash('sha256');
  h.update(normaliseEmail(email));
  h.update('\u0000');
  h.update(name);
  h.update('\u0000');
  h.update(String(time));
  h.update('\u0000');
  h.update(stableStringify(properties));
  return h.digest('base64url').slice(0, 32);
}

/** JSON with object keys sorted, so equal values always serialise the same. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
}
