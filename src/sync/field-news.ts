/**
 * What one value an ESP reports for one field means, given what segsync knew of that field there.
 * Pure: the inbound side stores the sync state and runs the conflict policy from the verdict.
 *
 * Field change times: none of the three vendors' contact listings says when each field changed (they
 * give one modification time per record), so a field's change time is the record's modification time
 * in the first pull or webhook that shows the field's new value; a field whose value did not change
 * keeps the time it had. The conflict policy (`latest`) compares these per-field times, never the
 * time of a record that changed for another field.
 */
import type { FieldValue } from '../model/types';
import type { SyncFieldState } from '../store/store';
import { isEmpty, sameValue } from './values';

export type FieldVerdict =
  /** The ESP still holds the value segsync last saw there: nothing to do. */
  | 'unchanged'
  /** The value segsync pushed, coming back before the ESP changed the field: not a change. */
  | 'echo'
  /** An empty value on a field segsync never saw set on this ESP (a new record): "not set", never a clear. */
  | 'unset'
  /** A real change made on the ESP: goes through the conflict policy. */
  | 'change';

export interface FieldNews {
  verdict: FieldVerdict;
  /** The pushed value to keep in sync state: dropped once the ESP is seen holding another value. */
  pushedValue: FieldValue | undefined;
  /** The field's change time on the ESP (epoch ms). */
  changedAt: number;
}

/**
 * Classifies one reported value. The echo guard expires: a pushed value only counts as an echo until
 * the ESP is seen holding something else, so an edit back to a value segsync once pushed is a change.
 */
export function fieldNews(prev: SyncFieldState | undefined, value: FieldValue, recordModifiedAt: number): FieldNews {
  const seen = prev?.remoteValue;
  if (prev && seen !== undefined && sameValue(seen, value)) {
    return { verdict: 'unchanged', pushedValue: prev.pushedValue, changedAt: prev.remoteModifiedAt ?? recordModifiedAt };
  }
  const pushed = prev?.pushedValue;
  // Rows written before the guard expired may still hold a pushed value the ESP has moved on from.
  const stillOurs = pushed !== undefined && (seen === undefined || sameValue(seen, pushed));
  if (stillOurs && sameValue(pushed, value)) return { verdict: 'echo', pushedValue: pushed, changedAt: recordModifiedAt };
  if (seen === undefined && isEmpty(value)) return { verdict: 'unset', pushedValue: undefined, changedAt: recordModifiedAt };
  return { verdict: 'change', pushedValue: undefined, changedAt: recordModifiedAt };
}
