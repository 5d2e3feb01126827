/**
 * What one value an ESP reports for one field means, given what segsync knew of that field there.
 * Pure: the inbound side stores the sync state and runs the conflict policy from the verdict.
 *
 * Field change times: HubSpot reports each property's change time (property history, read by its
 * pull). Mailchimp and Klaviyo give one modification time per record, so there a field's change time
 * is the record's modification time in the first pull or webhook that shows the field's new value. A
 * field whose value did not change keeps the time it had. The conflict policy (`latest`) compares
 * these per-field times, never the time of a record that changed for another field.
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
 * `fieldModifiedAt` is the field's own change time where the vendor reports it (HubSpot property
 * history); otherwise the record's modification time stands for it.
 */
export function fieldNews(prev: SyncFieldState | undefined, value: FieldValue, recordModifiedAt: number, fieldModifiedAt?: number): FieldNews {
  const seen = prev?.remoteValue;
  if (prev && seen !== undefined && sameValue(seen, value)) {
    return { verdict: 'unchanged', pushedValue: prev.pushedValue, changedAt: prev.remoteModifiedAt ?? recordModifiedAt };
  }
  const at = fieldModifiedAt ?? recordModifiedAt;
  const pushed = prev?.pushedValue;
  // Rows written before the guard expired may still hold a pushed value the ESP has moved on from.
  const stillOurs = pushed !== undefined && (seen === undefined || sameValue(seen, pushed));
  if (stillOurs && sameValue(pushed, value)) return { verdict: 'echo', pushedValue: pushed, changedAt: at };
  if (seen === undefined && isEmpty(value)) return { verdict: 'unset', pushedValue: undefined, changedAt: at };
  return { verdict: 'change', pushedValue: undefined, changedAt: at };
}
