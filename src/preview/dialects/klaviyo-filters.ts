/**
 * Klaviyo's filters: Django's built-ins that Klaviyo documents plus Klaviyo's own (lookup,
 * format_date_string, floatadd, find_replace, …). A filter receives the value, its one argument
 * (Klaviyo filters take at most one) and the render's context.
 */
import { createHash } from 'node:crypto';
import { formatLetters, toDate } from './dates';
import { SafeString, djangoEscape, plain, pyStr, pyTruthy } from './django-values';

export interface FilterContext {
  autoescape: boolean;
  now: Date;
  /** Reports a key that `lookup` did not find (an undefined variable). */
  missing(key: string): void;
  hasArg: boolean;
}

export type KlaviyoFilter = (value: unknown, arg: unknown, ctx: FilterContext) => unknown;

const str = (v: unknown): string => pyStr(plain(v));

function num(v: unknown): number | undefined {
  v = plain(v);
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

/** Python's int(): whole numbers only (int('1.5') fails). */
function int(v: unknown): number | undefined {
  v = plain(v);
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

/** Round half away from zero (Django's floatformat uses ROUND_HALF_UP on Decimals). */
function roundHalfUp(x: number, digits: number): string {
  const [m, e] = x.toExponential().split('e') as [string, string];
  const shifted = Number(`${m}e${Number(e) + digits}`);
  const r = Math.sign(shifted) * Math.round(Math.abs(shifted));
  return Number(`${r}e-${digits}`).toFixed(digits);
}

/** Django `floatformat`: -1 → one decimal only when needed, N → exactly N, -N → N only when needed. */
export function floatformat(value: unknown, arg: unknown): string {
  const x = num(value);
  if (x === undefined) return '';
  const p = arg === undefined ? -1 : int(arg);
  if (p === undefined) return str(value);
  // Django: a negative precision shows decimals only when the value has a fractional part.
  if (p < 0 && Number.isInteger(x)) return String(x);
  const fixed = roundHalfUp(x, Math.abs(p));
  return /^-0(\.0+)?$/.test(fixed) ? fixed.slice(1) : fixed;
}

/** Python's str.title() followed by Django's apostrophe and digit fixes. */
export function title(s: string): string {
  const t = s.replace(/[A-Za-z\u00C0-\u024F]+/g, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase());
  return t
    .replace(/([a-z])'([A-Z])/g, (_m, a: string, b: string) => `${a}'${b.toLowerCase()}`)
    .replace(/(\d)([A-Z])/g, (_m, a: string, b: string) => a + b.toLowerCase());
}

function length(v: unknown): number {
  v = plain(v);
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  return 0;
}

/** Python slice syntax `start:stop:step` on a list or string. */
function slice(v: unknown, arg: unknown): unknown {
  const value = plain(v);
  const seq: unknown[] | string | undefined = Array.isArray(value) ? value : typeof value === 'string' ? value : undefined;
  if (seq === undefined) return value;
  const parts = str(arg)
    .split(':')
    .map((p) => (p.trim() === '' ? undefined : Number(p)));
  const n = seq.length;
  const norm = (i: number | undefined, dflt: number): number => (i === undefined ? dflt : i < 0 ? Math.max(0, n + i) : Math.min(i, n));
  if (parts.length === 1) {
    const i = parts[0] ?? 0;
    const idx = i < 0 ? n + i : i;
    return Array.isArray(seq) ? seq.slice(idx, idx + 1) : seq.slice(idx, idx + 1);
  }
  const step = parts[2] ?? 1;
  const out: unknown[] = [];
  if (step > 0) for (let i = norm(parts[0], 0); i < norm(parts[1], n); i += step) out.push(seq[i]);
  else if (step < 0)
    for (let i = parts[0] === undefined ? n - 1 : norm(parts[0], n - 1); i > (parts[1] === undefined ? -1 : norm(parts[1], -1)); i += step) out.push(seq[i]);
  return typeof seq === 'string' ? out.join('') : out;
}

/** `{% currency_format %}` and the `currency_format` filter: US-style grouping with the currency sign. */
export function currencyFormat(value: unknown, currency = 'USD'): string {
  const x = num(value);
  if (x === undefined) return str(value);
  const sign: Record<string, string> = { USD: '$', EUR: '€', GBP: '£', CAD: 'CA$', AUD: 'A$', JPY: '¥' };
  const body = Math.abs(x)
    .toFixed(currency === 'JPY' ? 0 : 2)
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${x < 0 ? '-' : ''}${sign[currency] ?? `${currency} `}${body}`;
}

function truncatechars(v: unknown, arg: unknown): string {
  const s = str(v);
  const n = int(arg);
  if (n === undefined || s.length <= n) return s;
  return n <= 0 ? '…' : `${s.slice(0, n - 1)}…`;
}

function truncatewords(v: unknown, arg: unknown): string {
  const words = str(v).trim().split(/\s+/).filter(Boolean);
  const n = int(arg);
  if (n === undefined || words.length <= n) return words.join(' ');
  return `${words.slice(0, n).join(' ')} …`;
}

function escapeUnlessSafe(v: unknown, ctx: FilterContext): string {
  return v instanceof SafeString ? v.value : ctx.autoescape ? djangoEscape(str(v)) : str(v);
}

function b64(v: unknown, urlSafe: boolean, decode: boolean): string {
  if (decode) return Buffer.from(str(v), urlSafe ? 'base64url' : 'base64').toString('utf8');
  const e = Buffer.from(str(v), 'utf8').toString('base64');
  return urlSafe ? e.replace(/\+/g, '-').replace(/\//g, '_') : e;
}

export const KLAVIYO_FILTERS: Record<string, KlaviyoFilter> = {
  abs: (v) => {
    const x = num(v);
    return x === undefined ? v : Math.abs(x);
  },
  add: (v, a) => {
    const x = int(v);
    const y = int(a);
    if (x !== undefined && y !== undefined) return x + y;
    const pv = plain(v);
    const pa = plain(a);
    if (typeof pv === 'string' && typeof pa === 'string') return pv + pa;
    if (Array.isArray(pv) && Array.isArray(pa)) return [...pv, ...pa];
    return '';
  },
  floatadd: (v, a) => {
    const x = num(v);
    const y = num(a);
    return x === undefined || y === undefined ? '' : x + y;
  },
  multiply: (v, a) => {
    const x = num(v);
    const y = num(a);
    return x === undefined || y === undefined ? '' : x * y;
  },
  divide: (v, a) => {
    const x = num(v);
    const y = num(a);
    return x === undefined || y === undefined || y === 0 ? '' : x / y;
  },
  round: (v, a) => {
    const x = num(v);
    return x === undefined ? v : Number(roundHalfUp(x, int(a) ?? 0));
  },
  at_least: (v, a) => {
    const x = num(v);
    const y = num(a);
    return x === undefined || y === undefined ? v : Math.max(x, y);
  },
  at_most: (v, a) => {
    const x = num(v);
    const y = num(a);
    return x === undefined || y === undefined ? v : Math.min(x, y);
  },
  append: (v, a) => str(v) + str(a),
  concat: (v, a) => [...(Array.isArray(plain(v)) ? (plain(v) as unknown[]) : [plain(v)]), ...(Array.isArray(plain(a)) ? (plain(a) as unknown[]) : [plain(a)])],
  base64_encode: (v) => b64(v, false, false),
  base64_decode: (v) => b64(v, false, true),
  base64_url_safe_encode: (v) => b64(v, true, false),
  base64_url_safe_decode: (v) => b64(v, true, true),
  capfirst: (v) => {
    const s = str(v);
    return s ? s[0]!.toUpperCase() + s.slice(1) : s;
  },
  count: (v) => length(v),
  cut: (v, a) => str(v).split(str(a)).join(''),
  date: (v, a, ctx) => {
    const p = plain(v);
    const d = p instanceof Date ? p : undefined;
    if (!d) return '';
    return formatLetters(d, ctx.hasArg ? str(a) : 'N j, Y', 'django');
  },
  default: (v, a) => (pyTruthy(v) ? v : a),
  default_if_none: (v, a) => (v === null || v === undefined ? a : v),
  divisibleby: (v, a) => {
    const x = int(v);
    const y = int(a);
    return x !== undefined && y ? x % y === 0 : false;
  },
  escape: (v) => new SafeString(v instanceof SafeString ? v.value : djangoEscape(str(v))),
  find_replace: (v, a) => {
    const [find, replace = ''] = str(a).split('|');
    return find ? str(v).split(find).join(replace) : str(v);
  },
  first: (v) => {
    const p = plain(v);
    return Array.isArray(p) ? (p[0] ?? '') : typeof p === 'string' ? p.slice(0, 1) : '';
  },
  floatformat: (v, a) => floatformat(v, a),
  format_date_string: (v) => toDate(plain(v)) ?? '',
  hash_md5: (v) => createHash('md5').update(str(v)).digest('hex'),
  join: (v, a, ctx) => {
    const p = plain(v);
    if (!Array.isArray(p)) return v;
    const sep = a instanceof SafeString ? a.value : escapeUnlessSafe(a, ctx);
    return new SafeString(p.map((x) => escapeUnlessSafe(x, ctx)).join(sep));
  },
  last: (v) => {
    const p = plain(v);
    return Array.isArray(p) ? (p[p.length - 1] ?? '') : typeof p === 'string' ? p.slice(-1) : '';
  },
  length: (v) => length(v),
  linebreaksbr: (v, _a, ctx) => new SafeString(escapeUnlessSafe(v, ctx).replace(/\r\n|\r|\n/g, '<br>')),
  lookup: (v, a, ctx) => {
    const p = plain(v);
    const key = str(a);
    if (Array.isArray(p) && /^-?\d+$/.test(key)) return p[Number(key)] ?? (ctx.missing(key), '');
    if (p && typeof p === 'object' && Object.prototype.hasOwnProperty.call(p, key)) return (p as Record<string, unknown>)[key];
    ctx.missing(key);
    return '';
  },
  lower: (v) => str(v).toLowerCase(),
  make_list: (v) => [...str(v)],
  pluralize: (v, a) => {
    const parts = a === undefined ? ['', 's'] : str(a).includes(',') ? str(a).split(',') : ['', str(a)];
    if (parts.length > 2) return '';
    const n = num(v) ?? (Array.isArray(plain(v)) ? (plain(v) as unknown[]).length : undefined);
    return n === 1 ? parts[0] : parts[1];
  },
  safe: (v) => new SafeString(str(v)),
  slice: (v, a) => slice(v, a),
  slugify: (v) =>
    str(v)
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .toLowerCase()
      .replace(/[-\s]+/g, '-'),
  split: (v, a) => str(v).split(a === undefined ? /\s+/ : str(a)),
  strip: (v) => str(v).trim(),
  striptags: (v) => str(v).replace(/<[^>]*>/g, ''),
  title: (v) => title(str(v)),
  trim_slash: (v) => str(v).replace(/^\/+|\/+$/g, ''),
  truncatechars: (v, a) => truncatechars(v, a),
  truncatewords: (v, a) => truncatewords(v, a),
  upper: (v) => str(v).toUpperCase(),
  urlencode: (v) =>
    encodeURIComponent(str(v))
      .replace(/%2F/g, '/')
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  wordcount: (v) => str(v).trim().split(/\s+/).filter(Boolean).length,
  yesno: (v, a) => {
    const [yes = 'yes', no = 'no', maybe] = (a === undefined ? 'yes,no,maybe' : str(a)).split(',');
    if (v === null || v === undefined) return maybe ?? no;
    return pyTruthy(v) ? yes : no;
  },
  currency_format: (v, a) => currencyFormat(v, a === undefined ? 'USD' : str(a)),
};
