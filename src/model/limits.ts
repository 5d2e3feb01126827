/**
 * Limits on one record's free-form JSON (event properties, contact traits), checked before anything is
 * stored: a stored row must always be readable again (SQLite's JSON functions refuse nesting deeper
 * than 1000, and `JSON.stringify` overflows the stack long before 10,000), and one huge record must
 * not crowd out the others.
 */
import { ValidationError } from '../errors';

/** Segment caps an event at 32 KB; the same cap applies to an event's properties or a contact's traits. */
export const MAX_RECORD_BYTES = 32 * 1024;

/** Deepest nesting of objects and arrays accepted (real events rarely pass 5). */
export const MAX_NESTING = 32;

/** Deepest nesting in a JSON text, by one pass over its characters (no recursion, so no stack limit). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) max = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/**
 * Serialises a record's JSON value, refusing one that is nested deeper than `MAX_NESTING` or larger
 * than `MAX_RECORD_BYTES`. `what` names the value in the error ("properties", "traits").
 */
export function serializeWithinLimits(value: unknown, what: string): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'null';
  } catch (err) {
    if (err instanceof RangeError) {
      throw new ValidationError(`"${what}" is nested too deeply to store`, { hint: `nest objects and arrays at most ${MAX_NESTING} levels deep` });
    }
    throw new ValidationError(`"${what}" cannot be serialised as JSON: ${(err as Error).message}`, { hint: 'send plain JSON values' });
  }
  // A UTF-8 byte is at least one UTF-16 unit and at most three: count bytes only when it can matter.
  if (text.length * 3 > MAX_RECORD_BYTES && Buffer.byteLength(text, 'utf8') > MAX_RECORD_BYTES) {
    throw new ValidationError(`"${what}" is ${Math.ceil(Buffer.byteLength(text, 'utf8') / 1024)} KB; at most ${MAX_RECORD_BYTES / 1024} KB is accepted`, {
      hint: 'send only the properties segments and templates use; large payloads belong in your own systems',
    });
  }
  // Depth d needs at least 2d characters: short texts cannot be too deep.
  if (text.length > 2 * MAX_NESTING && jsonDepth(text) > MAX_NESTING) {
    throw new ValidationError(`"${what}" is nested more than ${MAX_NESTING} levels deep`, {
      hint: `flatten it: at most ${MAX_NESTING} levels of objects and arrays`,
    });
  }
  return text;
}
