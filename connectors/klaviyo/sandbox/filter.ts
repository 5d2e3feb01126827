/**
 * Klaviyo's `filter` query language, as far as the sandbox serves it: `op(field,value)` terms joined
 * by commas (AND). Values: "quoted" or 'quoted' strings, [lists], ISO datetimes, numbers, booleans, null.
 * Hand-written: it is a dozen lines of grammar and no library parses Klaviyo's dialect.
 */

export type FilterValue = string | number | boolean | null | FilterValue[];

export interface FilterTerm {
  op: string;
  field: string;
  value: FilterValue;
}

export class FilterSyntaxError extends Error {}

/** Parses a filter expression into AND-ed terms; throws `FilterSyntaxError` with the position. */
export function parseFilter(text: string): FilterTerm[] {
  let i = 0;
  const fail = (what: string): never => {
    throw new FilterSyntaxError(`${what} at position ${i} of filter "${text}"`);
  };
  const skipSpace = (): void => {
    while (text[i] === ' ') i++;
  };
  const word = (): string => {
    const start = i;
    while (i < text.length && /[A-Za-z0-9_.\-$]/.test(text[i]!)) i++;
    if (start === i) fail('expected a name');
    return text.slice(start, i);
  };
  const value = (): FilterValue => {
    skipSpace();
    const c = text[i];
    if (c === '"' || c === "'") {
      i++;
      let out = '';
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        out += text[i];
        i++;
      }
      if (text[i] !== c) fail('unterminated string');
      i++;
      return out;
    }
    if (c === '[') {
      i++;
      const items: FilterValue[] = [];
      skipSpace();
      if (text[i] === ']') {
        i++;
        return items;
      }
      for (;;) {
        items.push(value());
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return items;
        }
        fail('expected , or ]');
      }
    }
    const start = i;
    while (i < text.length && text[i] !== ',' && text[i] !== ')') i++;
    const raw = text.slice(start, i).trim();
    if (raw === '') fail('expected a value');
    if (raw === 'null') return null;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
    return raw;
  };
  const terms: FilterTerm[] = [];
  for (;;) {
    skipSpace();
    const op = word();
    if (text[i] !== '(') fail('expected (');
    i++;
    skipSpace();
    const field = word();
    skipSpace();
    if (text[i] !== ',') fail('expected ,');
    i++;
    const v = value();
    skipSpace();
    if (text[i] !== ')') fail('expected )');
    i++;
    terms.push({ op, field, value: v });
    skipSpace();
    if (i >= text.length) return terms;
    if (text[i] !== ',') fail('expected , between terms');
    i++;
  }
}

/** Which operators each filterable field allows, per endpoint. */
export type FilterRules = Record<string, string[]>;

/** Checks terms against the endpoint's allowed fields/operators; returns a problem or undefined. */
export function filterProblem(terms: FilterTerm[], rules: FilterRules): string | undefined {
  for (const t of terms) {
    const ops = rules[t.field];
    if (!ops) return `filter field "${t.field}" is not filterable here`;
    if (!ops.includes(t.op)) return `operator "${t.op}" is not allowed for "${t.field}" (allowed: ${ops.join(', ')})`;
  }
  return undefined;
}

function compare(actual: unknown, expected: FilterValue): number | undefined {
  if (actual === null || actual === undefined) return undefined;
  if (typeof expected === 'string') {
    const a = Date.parse(String(actual));
    const b = Date.parse(expected);
    if (!Number.isNaN(a) && !Number.isNaN(b)) return a - b;
    return String(actual) < expected ? -1 : String(actual) > expected ? 1 : 0;
  }
  if (typeof expected === 'number' && typeof actual === 'number') return actual - expected;
  return undefined;
}

/** Evaluates one term on a value read from a record. */
export function matchTerm(term: FilterTerm, actual: unknown): boolean {
  switch (term.op) {
    case 'equals':
      return Array.isArray(term.value) ? term.value.includes(actual as FilterValue) : actual === term.value;
    case 'any':
      return Array.isArray(term.value) && term.value.includes(actual as FilterValue);
    case 'greater-than':
      return (compare(actual, term.value) ?? -1) > 0;
    case 'greater-or-equal':
      return (compare(actual, term.value) ?? -1) >= 0;
    case 'less-than':
      return (compare(actual, term.value) ?? 1) < 0;
    case 'less-or-equal':
      return (compare(actual, term.value) ?? 1) <= 0;
    default:
      return false;
  }
}
