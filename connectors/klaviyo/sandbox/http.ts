/** Request reading and JSON:API failures shared by the sandbox routes. */
import type { ApiError } from './jsonapi';
import { FilterSyntaxError, filterProblem, parseFilter, type FilterRules, type FilterTerm } from './filter';

/** A failure answered as a JSON:API error body (status from the first error), with extra headers. */
export class ApiFailure extends Error {
  constructor(
    readonly errors: ApiError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(errors[0]?.detail ?? 'error');
  }
}

/** A 400 `invalid` failure pointing at a body member or a query parameter. */
export const invalid = (detail: string, where: { pointer?: string; parameter?: string } = {}): ApiFailure =>
  new ApiFailure([{ status: 400, code: 'invalid', title: 'Invalid input.', detail, ...where }]);

/** The value as a plain object, or undefined. */
export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** `page[size]` within the endpoint's bounds (400 outside them). */
export function pageSize(q: Record<string, string | undefined>, def: number, max: number): number {
  const raw = q['page[size]'];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw invalid(`page[size] must be an integer between 1 and ${max}.`, { parameter: 'page[size]' });
  return n;
}

/** The endpoint's parsed `filter`, checked against its allowed fields and operators. */
export function filterOf(q: Record<string, string | undefined>, rules: FilterRules): FilterTerm[] {
  const raw = q['filter'];
  if (raw === undefined || raw === '') return [];
  try {
    const terms = parseFilter(raw);
    const problem = filterProblem(terms, rules);
    if (problem) throw invalid(problem, { parameter: 'filter' });
    return terms;
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw invalid(e.message, { parameter: 'filter' });
    throw e;
  }
}

export const PROFILE_FILTERS: FilterRules = {
  id: ['any', 'equals'],
  email: ['any', 'equals'],
  phone_number: ['any', 'equals'],
  external_id: ['any', 'equals'],
  created: ['greater-than', 'less-than'],
  updated: ['greater-than', 'less-than'],
};
export const EVENT_FILTERS: FilterRules = {
  metric_id: ['equals'],
  profile_id: ['equals'],
  datetime: ['greater-or-equal', 'greater-than', 'less-or-equal', 'less-than'],
  timestamp: ['greater-or-equal', 'greater-than', 'less-or-equal', 'less-than'],
};
export const LIST_FILTERS: FilterRules = { name: ['any', 'equals'], id: ['any', 'equals'], created: ['greater-than'], updated: ['greater-than'] };
