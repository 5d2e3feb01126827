/**
 * The helpers SendGrid dynamic templates and Mailchimp Transactional (Mandrill) document, on top of
 * handlebars.js's built-ins. Semantics follow the vendors' pages (template-dialects.md §4).
 */
import type { HelperOptions } from 'handlebars';
import { formatLetters, formatMoment, renderNow, toDate } from './dates';

type Helper = (this: unknown, ...args: unknown[]) => unknown;

/** Handlebars' own emptiness test (`#if`): false, undefined, null, '', 0 and [] are empty. */
export function hbEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === false || v === '' || v === 0 || (Array.isArray(v) && v.length === 0);
}

function split(args: unknown[]): { params: unknown[]; options: HelperOptions } {
  return { params: args.slice(0, -1), options: args[args.length - 1] as HelperOptions };
}

function block(self: unknown, options: HelperOptions, yes: boolean): unknown {
  return yes ? options.fn(self) : options.inverse(self);
}

function rootOf(options: HelperOptions): Record<string, unknown> {
  return ((options.data as { root?: Record<string, unknown> } | undefined)?.root ?? {}) as Record<string, unknown>;
}

/** Short words English title case leaves lower case unless they start the text. */
const SMALL_WORDS = new Set([
  'a',
  'an',
  'and',
  'as',
  'at',
  'but',
  'by',
  'for',
  'if',
  'in',
  'is',
  'nor',
  'of',
  'on',
  'or',
  'so',
  'the',
  'to',
  'up',
  'via',
  'vs',
  'yet',
]);

/**
 * Mandrill's `title`. Its one documented example, `{{title "your text is neat"}}` → `Your Text is
 * Neat`, shows that short words stay lower case; the exact word list is not published, so segsync
 * uses the usual English title-case list (articles, conjunctions, short prepositions, "is").
 */
export function mandrillTitle(s: string): string {
  let first = true;
  return s.toLowerCase().replace(/\p{L}[\p{L}'’]*/gu, (word) => {
    const keep = !first && SMALL_WORDS.has(word);
    first = false;
    return keep ? word : word[0]!.toUpperCase() + word.slice(1);
  });
}

/** SendGrid's block comparison helpers; `equals` coerces types, as SendGrid documents (`3` equals `"3"`). */
export const SENDGRID_HELPERS: Record<string, Helper> = {
  equals(...args) {
    const { params, options } = split(args);
    return block(this, options, params[0] == params[1]);
  },
  notEquals(...args) {
    const { params, options } = split(args);
    return block(this, options, params[0] != params[1]);
  },
  greaterThan(...args) {
    const { params, options } = split(args);
    return block(this, options, Number(params[0]) > Number(params[1]));
  },
  lessThan(...args) {
    const { params, options } = split(args);
    return block(this, options, Number(params[0]) < Number(params[1]));
  },
  and(...args) {
    const { params, options } = split(args);
    return block(this, options, params.length > 0 && params.every((p) => !hbEmpty(p)));
  },
  or(...args) {
    const { params, options } = split(args);
    return block(
      this,
      options,
      params.some((p) => !hbEmpty(p)),
    );
  },
  length(...args) {
    const { params } = split(args);
    const v = params[0];
    return typeof v === 'string' || Array.isArray(v) ? v.length : 0;
  },
  formatDate(...args) {
    const { params } = split(args);
    const d = toDate(params[0]);
    if (!d) return '';
    return formatMoment(d, typeof params[1] === 'string' ? params[1] : 'YYYY-MM-DD', typeof params[2] === 'string' ? params[2] : undefined);
  },
  insert(...args) {
    const { params } = split(args);
    const v = params[0];
    if (v !== undefined && v !== null && v !== '') return v;
    const d = typeof params[1] === 'string' ? params[1] : '';
    return d.startsWith('default=') ? d.slice('default='.length) : d;
  },
};

function text(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

/** Mandrill's inline helpers; `date` formats the send date with PHP letters (default `d/m/Y`). */
export const MANDRILL_HELPERS: Record<string, Helper> = {
  upper: (...args) => text(split(args).params[0]).toUpperCase(),
  lower: (...args) => text(split(args).params[0]).toLowerCase(),
  title: (...args) => mandrillTitle(text(split(args).params[0])),
  url: (...args) => encodeURIComponent(text(split(args).params[0])),
  striptags: (...args) => text(split(args).params[0]).replace(/<[^>]*>/g, ''),
  date(...args) {
    const { params, options } = split(args);
    return formatLetters(renderNow(rootOf(options)), typeof params[0] === 'string' ? params[0] : 'd/m/Y', 'php');
  },
  unsub: (...args) => text(split(args).params[0]) || 'https://unsubscribe.mandrill.invalid/',
  /** A backtick comparison (`a > 3`, `os == "OS X"`), lowered by the pre-pass into `(__cmp "…")`. */
  __cmp(...args) {
    const { params, options } = split(args);
    return evalBacktick(String(params[0]), this, rootOf(options));
  },
};

/** Evaluates Mandrill's backtick expressions: `a op b` joined by `&&`/`||`, values as paths, numbers or "strings". */
export function evalBacktick(expr: string, self: unknown, root: Record<string, unknown>): boolean {
  const ors = expr.split('||');
  return ors.some((part) => part.split('&&').every((cmp) => evalComparison(cmp.trim(), self, root)));
}

function evalComparison(src: string, self: unknown, root: Record<string, unknown>): boolean {
  const m = /^(.+?)\s*(==|!=|>=|<=|>|<)\s*(.+)$/.exec(src);
  if (!m) return !hbEmpty(operand(src, self, root));
  const a = operand(m[1]!, self, root);
  const b = operand(m[3]!, self, root);
  switch (m[2]) {
    case '==':
      return String(a) === String(b);
    case '!=':
      return String(a) !== String(b);
    default: {
      const x = Number(a);
      const y = Number(b);
      if (Number.isNaN(x) || Number.isNaN(y) || a === undefined || b === undefined) return false;
      return m[2] === '>' ? x > y : m[2] === '<' ? x < y : m[2] === '>=' ? x >= y : x <= y;
    }
  }
}

function operand(src: string, self: unknown, root: Record<string, unknown>): unknown {
  const s = src.trim();
  if (/^"([^"]*)"$/.test(s)) return s.slice(1, -1);
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (s === 'true' || s === 'false') return s === 'true';
  const path = s.split('.');
  const read = (obj: unknown): unknown =>
    path.reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
  const v = read(self);
  return v === undefined ? read(root) : v;
}
