/** Python/Django value semantics the Klaviyo renderer needs: truthiness, printing, escaping, comparison. */

/** A string Django will not escape again (`|safe`, template literals, already-escaped output). */
export class SafeString {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Python truthiness: None, False, '', 0, empty list and empty dict are false. */
export function pyTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (v instanceof SafeString) return v.value !== '';
  if (typeof v === 'string') return v !== '';
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !(v instanceof Date)) return Object.keys(v).length > 0;
  return true;
}

function pyRepr(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return pyStr(v);
}

/** Python `str()` of a JSON value: True/False/None, lists and dicts in Python's repr. */
export function pyStr(v: unknown): string {
  if (v === undefined) return '';
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v instanceof SafeString) return v.value;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? 'inf' : v < 0 ? '-inf' : 'nan';
  if (typeof v === 'string') return v;
  if (v instanceof Date)
    return v
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d{3}Z$/, '+00:00');
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v as object)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  return String(v);
}

/** Django's `escape`: & < > " ' (the apostrophe as `&#x27;`, as Python's html.escape writes it). */
export function djangoEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
}

/** Unwraps a SafeString to its text. */
export function plain(v: unknown): unknown {
  return v instanceof SafeString ? v.value : v;
}

/** Python `==` on JSON values (no string/number coercion; True == 1). */
export function pyEquals(a: unknown, b: unknown): boolean {
  a = plain(a);
  b = plain(b);
  if (typeof a === 'boolean') a = a ? 1 : 0;
  if (typeof b === 'boolean') b = b ? 1 : 0;
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => pyEquals(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => pyEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/**
 * Python ordering; comparing unlike types raises TypeError in Python, which Django's `if` turns into
 * false, so this returns undefined for them.
 */
export function pyCompare(a: unknown, b: unknown): number | undefined {
  a = plain(a);
  b = plain(b);
  if (typeof a === 'boolean') a = a ? 1 : 0;
  if (typeof b === 'boolean') b = b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

/** Python `in`: substring, list membership or dict key. */
export function pyIn(needle: unknown, haystack: unknown): boolean {
  needle = plain(needle);
  haystack = plain(haystack);
  if (typeof haystack === 'string') return typeof needle === 'string' && haystack.includes(needle);
  if (Array.isArray(haystack)) return haystack.some((x) => pyEquals(x, needle));
  if (haystack && typeof haystack === 'object') return typeof needle === 'string' && Object.prototype.hasOwnProperty.call(haystack, needle);
  return false;
}
