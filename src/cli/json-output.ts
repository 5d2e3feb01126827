/** What `--json` prints: one JSON document on stdout, errors as data beside the results. */
import { SegsyncError } from '../errors';

/** An error as `--json` output carries it. */
export interface JsonError {
  code: string;
  message: string;
  hint?: string;
}

/** Any thrown value as a JSON error. */
export function jsonError(err: unknown): JsonError {
  if (err instanceof SegsyncError) return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/** Prints `value` as the command's one JSON document. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
