/**
 * What every vendor's webhook handler does alike around its own signature scheme and body format:
 * comparing a signature or secret in constant time, reading a JSON delivery, and reading its items one
 * by one so that one bad item is rejected alone, never the delivery.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { WebhookError } from '../src/errors';
import type { RawRequest, WebhookItemRejection } from './connector';

/** Equal bytes in time that does not depend on where they differ (hashing first evens the lengths). */
export function sameSecret(given: Buffer | string, expected: Buffer | string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

/** A refusal's message and hint. */
type Refusal = [message: string, hint: string];

/** The delivery's body, JSON of `schema`'s shape; else a `WebhookError` saying which of the two it is not (with the first issue). */
export function readDelivery<T>(
  request: RawRequest,
  schema: z.ZodType<T>,
  refuse: { notJson: Refusal; invalid: (issue: z.core.$ZodIssue | undefined) => Refusal },
): T {
  let json: unknown;
  try {
    json = JSON.parse(request.rawBody.toString('utf8'));
  } catch (cause) {
    throw new WebhookError(refuse.notJson[0], { cause, hint: refuse.notJson[1] });
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const [message, hint] = refuse.invalid(parsed.error.issues[0]);
  throw new WebhookError(message, { hint });
}

/**
 * Checks each item of a delivery with `schema` and turns it into a value with `read`; an item that fails
 * either is rejected as `${label} ${index}: …`, in item order, and the others are kept.
 */
export function readItems<I, T>(
  items: unknown[],
  schema: z.ZodType<I>,
  label: string,
  read: (item: I) => T,
): { read: { index: number; value: T }[]; rejected: WebhookItemRejection[] } {
  const out: { index: number; value: T }[] = [];
  const rejected: WebhookItemRejection[] = [];
  items.forEach((raw, index) => {
    const item = schema.safeParse(raw);
    if (!item.success) {
      const issue = item.error.issues[0];
      rejected.push({ index, message: `${label} ${index}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}` });
      return;
    }
    try {
      out.push({ index, value: read(item.data) });
    } catch (err) {
      rejected.push({ index, message: `${label} ${index}: ${err instanceof Error ? err.message : String(err)}` });
    }
  });
  return { read: out, rejected };
}
