/**
 * Values of the fields segsync.yaml declares, checked against their type on the way in (import,
 * identify calls, pulls and webhooks): a value that fits is kept in the field's one form, so every
 * ESP's encoder gets what it expects; one that does not is refused before it reaches the store,
 * where it would fail every later write of its contact to an ESP that enforces the type.
 */
import { ValidationError } from '../errors';
import { parseIso } from '../model/time';
import type { FieldValue } from '../model/types';
import type { FieldConfig } from './schema';

/** What a field needs for the check: its type and, for `enum` (and a `list` of choices), its options. */
export type FieldShape = Pick<FieldConfig, 'type' | 'options'>;

/** A value in its field's form, or why it does not fit (with what to do; the problem does not repeat the field's name). */
export type FieldFit = { ok: true; value: FieldValue } | { ok: false; problem: string; hint: string };

const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const TRUE_WORDS = new Set(['true', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'no', '0']);
/** Epoch milliseconds from 1970 to 9999; smaller numbers are seconds or mistakes. */
const EPOCH_MS_MIN = 1e11;
const EPOCH_MS_MAX = 253402300799999;

/**
 * Fits `value` to `field` (named `name` in messages). Empty values (null, "") always fit: they clear
 * the field. Text is read as the type it stands for (a JSON sender's "42", a CSV cell).
 */
export function fitFieldValue(name: string, field: FieldShape, value: FieldValue): FieldFit {
  if (value === null || value === '') return { ok: true, value };
  const shown = JSON.stringify(value);
  const no = (what: string, hint: string): FieldFit => ({ ok: false, problem: `${shown} is not ${what}`, hint });
  switch (field.type) {
    case 'string':
      // An object or a list is kept as it is: an ESP's structured value (a postal address) mapped to a
      // text field was always stored whole, and each ESP writes it as text.
      return { ok: true, value: typeof value === 'number' || typeof value === 'boolean' ? String(value) : value };
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && NUMBER_TEXT.test(value.trim()) ? Number(value.trim()) : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : no('a number', `give "${name}" as a number such as 42 or 3.5`);
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value };
      const word = typeof value === 'string' || typeof value === 'number' ? String(value).trim().toLowerCase() : '';
      if (TRUE_WORDS.has(word)) return { ok: true, value: true };
      if (FALSE_WORDS.has(word)) return { ok: true, value: false };
      return no('true or false', `give "${name}" as true or false (yes/no and 1/0 are read too)`);
    }
    case 'date': {
      const day = dayOf(value);
      return day ? { ok: true, value: day } : no('a date', `give "${name}" as YYYY-MM-DD (an ISO timestamp or epoch milliseconds is read as its UTC day)`);
    }
    case 'datetime': {
      const ms = instantOf(value);
      return ms === undefined
        ? no('a date and time', `give "${name}" as ISO 8601 with a zone, e.g. 2026-05-01T12:00:00Z, or epoch milliseconds`)
        : { ok: true, value: new Date(ms).toISOString() };
    }
    case 'enum': {
      const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
      const option = text === undefined ? undefined : optionOf(field.options ?? [], text);
      if (option !== undefined) return { ok: true, value: option };
      return no(`one of ${name}'s options (${(field.options ?? []).join(', ')})`, `use one of them, or add it to fields.${name}.options in segsync.yaml`);
    }
    case 'list': {
      const items = listItems(value);
      if (!items) return no('a list', `give "${name}" as a list of text, e.g. ["a", "b"], or as "a;b"`);
      const options = field.options;
      if (!options) return { ok: true, value: items };
      const chosen = items.map((i) => optionOf(options, i));
      const stray = items.find((_, k) => chosen[k] === undefined);
      if (stray !== undefined)
        return {
          ok: false,
          problem: `${JSON.stringify(stray)} is not one of ${name}'s options (${options.join(', ')})`,
          hint: `use them, or add it to fields.${name}.options in segsync.yaml`,
        };
      return { ok: true, value: chosen as string[] };
    }
  }
}

/**
 * The option `text` names: itself, else the one option it matches ignoring case and surrounding spaces
 * (a form's "Pro" for `pro`: the ESPs' option values are exact). Two such options: neither.
 */
function optionOf(options: readonly string[], text: string): string | undefined {
  if (options.includes(text)) return text;
  const wanted = text.trim().toLowerCase();
  const near = options.filter((o) => o.trim().toLowerCase() === wanted);
  return near.length === 1 ? near[0] : undefined;
}

/** A list's items as text: a list of scalars, or text split at `;` and `,` as tags are. */
function listItems(value: FieldValue): string[] | undefined {
  if (typeof value === 'string')
    return value
      .split(/[;,]/)
      .map((s) => s.trim())
      .filter(Boolean);
  if (!Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const v of value) {
    if (v === null || v === '') continue;
    if (typeof v === 'object') return undefined;
    out.push(String(v));
  }
  return out;
}

/** The UTC day of a date, an ISO timestamp or epoch milliseconds, as YYYY-MM-DD. */
function dayOf(value: FieldValue): string | undefined {
  const ms = instantOf(value);
  return ms === undefined ? undefined : new Date(ms).toISOString().slice(0, 10);
}

/**
 * Epoch milliseconds of ISO 8601 text (a day alone is its midnight UTC; a time needs a zone, as an
 * event's does: segsync never guesses one) or of epoch milliseconds, as a number or digits.
 */
function instantOf(value: FieldValue): number | undefined {
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return instantOf(Number(value.trim()));
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) >= EPOCH_MS_MIN && Math.abs(value) <= EPOCH_MS_MAX ? value : undefined;
  if (typeof value !== 'string') return undefined;
  try {
    return parseIso(value.trim(), 'value');
  } catch (err) {
    if (err instanceof ValidationError) return undefined;
    throw err;
  }
}

/** The declared fields' values of `properties` that fit, and a problem for each one that does not (left out). */
export function fitProperties(
  fields: Readonly<Record<string, FieldShape>>,
  properties: Record<string, FieldValue>,
): { properties: Record<string, FieldValue>; problems: { field: string; problem: string; hint: string }[] } {
  let out = properties;
  const problems: { field: string; problem: string; hint: string }[] = [];
  for (const [key, value] of Object.entries(properties)) {
    const field = fields[key];
    if (!field) continue;
    const fit = fitFieldValue(key, field, value);
    if (fit.ok && fit.value === value) continue;
    if (out === properties) out = { ...properties };
    if (fit.ok) out[key] = fit.value;
    else {
      delete out[key];
      problems.push({ field: key, problem: fit.problem, hint: fit.hint });
    }
  }
  return { properties: out, problems };
}
