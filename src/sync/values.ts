import { stableStringify } from '../model/identity';
import type { FieldValue } from '../model/types';

/** Empty for sync purposes: ESPs report a cleared field as null, '' or missing. */
export function isEmpty(v: FieldValue | undefined): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

/** Whether two values are the same for sync (empties are equal; objects compare by content). */
export function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (isEmpty(a) || isEmpty(b)) return isEmpty(a) && isEmpty(b);
  if (typeof a !== 'object' && typeof b !== 'object') return a === b;
  return stableStringify(a) === stableStringify(b);
}

/** A sorted, de-duplicated tag list. */
export function tagList(tags: Iterable<string>): string[] {
  return [...new Set(tags)].sort();
}

/** Reads a stored tag list (sync state `@tags`). */
export function asTags(v: FieldValue | undefined): string[] | undefined {
  return Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : undefined;
}

/** Set differences: what `after` adds to `before`, and what it removes. */
export function diffTags(before: Iterable<string>, after: Iterable<string>): { add: string[]; remove: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { add: tagList([...a].filter((t) => !b.has(t))), remove: tagList([...b].filter((t) => !a.has(t))) };
}
