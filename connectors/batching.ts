/**
 * How a vendor's calls are sized, and sized again when a vendor refuses one: the shared steps of every
 * connector's batch calls, so a vendor folder writes only its routes and its answer format.
 */
import { EspPermanentError } from '../src/errors';

/** How large one call may be: at most `maxItems`, and with `sizeOf`, at most `maxBytes` including `envelopeBytes`. */
export interface ChunkLimits<T> {
  maxItems: number;
  maxBytes?: number;
  sizeOf?: (item: T) => number;
  envelopeBytes?: number;
}

/** Splits `items`, in order, into the fewest consecutive chunks within `limits` (an item larger than `maxBytes` goes alone). */
export function splitChunks<T>(items: T[], limits: ChunkLimits<T>): T[][] {
  const { maxItems, maxBytes = Infinity, sizeOf = () => 0, envelopeBytes = 0 } = limits;
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = envelopeBytes;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = envelopeBytes;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The steps of one batch call for `sendIsolating`. */
export interface IsolatedCall<T, R> {
  /** The vendor call for `items`. */
  call(items: T[]): Promise<R>;
  /** What to do with the call's answer (its per-item results). */
  then(items: T[], answer: R): Promise<void> | void;
  /** Fails `items` with `err`: any error of the call but a refusal, or a refused item found alone. */
  fail(items: T[], err: unknown): void;
  /** The items (positions in `items`) a refusal names, each with its own error; absent or none: halving finds them. */
  named?(err: EspPermanentError, items: T[]): Map<number, unknown>;
}

/**
 * Sends `items` in one call. A vendor that refuses a whole batch (HTTP 400) for one bad item in it would
 * otherwise sink every other item: the items its refusal names fail alone and the rest is sent again,
 * or, when it names none, each half is sent again (in order), down to the bad item alone.
 */
export async function sendIsolating<T, R>(items: T[], steps: IsolatedCall<T, R>): Promise<void> {
  if (items.length === 0) return;
  let answer: R;
  try {
    answer = await steps.call(items);
  } catch (err) {
    if (!(err instanceof EspPermanentError && err.status === 400)) return steps.fail(items, err);
    const named = steps.named?.(err, items) ?? new Map<number, unknown>();
    if (named.size > 0) {
      for (const [i, error] of named) steps.fail([items[i]!], error);
      return sendIsolating(
        items.filter((_, i) => !named.has(i)),
        steps,
      );
    }
    if (items.length === 1) return steps.fail(items, err);
    const half = Math.ceil(items.length / 2);
    await sendIsolating(items.slice(0, half), steps);
    return sendIsolating(items.slice(half), steps);
  }
  await steps.then(items, answer);
}
