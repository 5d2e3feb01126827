/** CRM search as the sandbox answers it: filter groups (OR of ANDs), one sort, `after` paging, the 10,000 cap. */
import { validation } from './errors';
import type { PortalState, StoredContact } from './state';

export interface SearchFilter {
  propertyName: string;
  operator: string;
  value?: string;
  highValue?: string;
  values?: string[];
}

export interface SearchBody {
  filterGroups?: { filters?: SearchFilter[] }[];
  sorts?: (string | { propertyName: string; direction?: string })[];
  properties?: string[];
  limit?: number;
  after?: string;
  query?: string;
}

/** Results one query can page through. */
export const SEARCH_CAP = 10_000;
const OPERATORS = new Set([
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
]);

function comparable(state: PortalState, name: string, raw: string): string | number {
  const type = name === 'lastmodifieddate' || name === 'createdate' ? 'datetime' : name === 'hs_object_id' ? 'number' : state.properties.get(name)?.type;
  if (type === 'number') return Number(raw);
  if (type === 'date' || type === 'datetime') return /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  return raw.toLowerCase();
}

function cmp(a: string | number, b: string | number): number {
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
}

function matches(state: PortalState, c: StoredContact, f: SearchFilter): boolean {
  const actual = state.sortValue(c, f.propertyName);
  if (f.operator === 'HAS_PROPERTY') return actual !== undefined;
  if (f.operator === 'NOT_HAS_PROPERTY') return actual === undefined;
  const a = typeof actual === 'string' ? actual.toLowerCase() : actual;
  const want = (raw: string | undefined): string | number => comparable(state, f.propertyName, raw ?? '');
  switch (f.operator) {
    case 'EQ':
      return a !== undefined && cmp(a, want(f.value)) === 0;
    case 'NEQ':
      return a === undefined || cmp(a, want(f.value)) !== 0;
    case 'LT':
      return a !== undefined && cmp(a, want(f.value)) < 0;
    case 'LTE':
      return a !== undefined && cmp(a, want(f.value)) <= 0;
    case 'GT':
      return a !== undefined && cmp(a, want(f.value)) > 0;
    case 'GTE':
      return a !== undefined && cmp(a, want(f.value)) >= 0;
    case 'BETWEEN':
      return a !== undefined && cmp(a, want(f.value)) >= 0 && cmp(a, want(f.highValue)) <= 0;
    case 'IN':
      return a !== undefined && (f.values ?? []).some((v) => cmp(a, want(v)) === 0);
    case 'NOT_IN':
      return a === undefined || !(f.values ?? []).some((v) => cmp(a, want(v)) === 0);
    case 'CONTAINS_TOKEN':
      return typeof a === 'string' && a.split(/[\s;]+/).includes(String(want(f.value)));
    case 'NOT_CONTAINS_TOKEN':
      return typeof a !== 'string' || !a.split(/[\s;]+/).includes(String(want(f.value)));
    default:
      return false;
  }
}

/** Runs a search: the matching page, the total, and the next `after` when there is more. */
export function runSearch(state: PortalState, body: SearchBody): { page: StoredContact[]; total: number; after?: string } {
  const limit = body.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw validation(`limit must be between 1 and 200, got ${limit}`);
  const groups = body.filterGroups ?? [];
  if (groups.length > 6) throw validation(`Too many filter groups (${groups.length}); the maximum is 6`);
  for (const g of groups) {
    const filters = g.filters ?? [];
    if (filters.length > 6) throw validation(`Too many filters in a group (${filters.length}); the maximum is 6`);
    for (const f of filters) {
      if (!OPERATORS.has(f.operator)) throw validation(`Unknown operator ${f.operator}`);
      const known = ['hs_object_id', 'lastmodifieddate', 'createdate'].includes(f.propertyName) || state.properties.get(f.propertyName);
      if (!known) throw validation(`Property ${f.propertyName} does not exist`);
    }
  }
  if ((body.sorts ?? []).length > 1) throw validation('Only one sort is supported');
  const offset = body.after === undefined || body.after === '' ? 0 : Number(body.after);
  if (!Number.isInteger(offset) || offset < 0) throw validation(`after must be a paging cursor, got ${body.after}`);
  if (offset + limit > SEARCH_CAP)
    throw validation(`The search API pages through at most ${SEARCH_CAP} results; narrow the query instead of paging further`, {
      subCategory: 'SEARCH_RESULT_LIMIT',
    } as never);

  const hits = state.allContacts().filter((c) => groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => matches(state, c, f))));
  const sort = body.sorts?.[0];
  if (sort !== undefined) {
    const name = typeof sort === 'string' ? sort.replace(/^-/, '') : sort.propertyName;
    const desc = typeof sort === 'string' ? sort.startsWith('-') : sort.direction === 'DESCENDING';
    hits.sort((x, y) => {
      const a = state.sortValue(x, name);
      const b = state.sortValue(y, name);
      const byValue = a === undefined ? (b === undefined ? 0 : 1) : b === undefined ? -1 : cmp(a, b) * (desc ? -1 : 1);
      return byValue !== 0 ? byValue : Number(x.id) - Number(y.id);
    });
  }
  const page = hits.slice(offset, offset + limit);
  const nextOffset = offset + page.length;
  return { page, total: hits.length, ...(nextOffset < hits.length ? { after: String(nextOffset) } : {}) };
}
