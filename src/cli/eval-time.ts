/**
 * The one notion of "evaluation time" shared by `segments --as-of` and `explain --at`: the instant a
 * rule's `now` is. Events after it have not happened yet; properties, tags and consent are what is
 * stored (segsync keeps no history of them).
 */
import { UsageError } from '../errors';

/** Parses an evaluation time: RFC 3339 (2026-03-01T09:00:00Z), a date (midnight UTC) or epoch milliseconds. */
export function parseEvaluationTime(text: string, flag = '--as-of'): number {
  const t = text.trim();
  let ms = Number.NaN;
  if (/^\d+$/.test(t)) ms = Number(t);
  else if (/^\d{4}-\d{2}-\d{2}$/.test(t)) ms = Date.parse(`${t}T00:00:00Z`);
  else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t)) ms = Date.parse(t.replace(' ', 'T'));
  if (!Number.isFinite(ms)) {
    throw new UsageError(`${flag} ${text} is not a time`, {
      hint: 'give RFC 3339 with a zone (2026-03-01T09:00:00Z), a date (2026-03-01, midnight UTC) or epoch milliseconds',
    });
  }
  return ms;
}
