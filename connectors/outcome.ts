/**
 * How a caught error becomes one contact's result, the same way in every connector: the error's class
 * decides retry, failed or gone (see `asEspError` for an error of unknown kind), and the ESP's "come back
 * after" travels with a retry.
 */
import { EspRecordGoneError, FieldValueError, asEspError, retryAfterOf } from '../src/errors';
import type { ChangeResult, ContactRef } from './connector';

/** A result without its ref (distributed over the union, so each variant keeps its fields). */
export type Outcome = ChangeResult extends infer U ? (U extends ChangeResult ? Omit<U, 'ref'> : never) : never;

/** The outcome of a write that failed with `err`. */
export function outcomeOfError(err: unknown, esp: string): Outcome {
  const error = asEspError(err, esp);
  if (error instanceof FieldValueError) return { status: 'failed', error, keys: error.keys };
  if (error instanceof EspRecordGoneError) return { status: 'gone', error };
  if (!error.retryable) return { status: 'failed', error };
  const retryAfterMs = retryAfterOf(error);
  return retryAfterMs === undefined ? { status: 'retry', error } : { status: 'retry', error, retryAfterMs };
}

/** The result for `ref` after a write that failed with `err`. */
export function resultOfError(ref: ContactRef, err: unknown, esp: string): ChangeResult {
  return { ref, ...outcomeOfError(err, esp) };
}
