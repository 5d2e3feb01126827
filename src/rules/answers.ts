/** Comparing stored segment answers: false, null and "never stored" are all "not in it". */
import { isMember } from '../model/membership';
import type { FieldValue } from '../model/types';

/** A time, or undefined for "never" (Infinity). */
export function finite(t: number): number | undefined {
  return Number.isFinite(t) ? t : undefined;
}

/** True for the answer of a contact that is not in the segment (false, null, or none stored). */
export function isDefault(v: FieldValue | undefined): boolean {
  return !isMember(v);
}

/** True when two stored answers are the same answer. */
export function sameAnswer(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (a === b) return true;
  if (isDefault(a) && isDefault(b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
