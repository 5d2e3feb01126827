/**
 * Exact flip times from wake-ups. A segment's wake-up is when its answer *may* change (the oldest
 * counted event leaving a window, say); between two wake-ups it cannot change. So stepping from
 * wake-up to wake-up and evaluating finds the exact time an answer really differs: the next change
 * a user is shown, and the time a flip is stamped with when a due contact is caught up.
 */
import type { FieldValue } from '../model/types';
import { finite, sameAnswer } from './answers';
import type { Evaluation, RuleSet } from './ruleset';

/** Wake-ups stepped through at most (a rule re-checked every minute would otherwise step forever). */
export const MAX_STEPS = 1000;

/** When one segment's answer next changes by the clock alone. */
export interface NextChange {
  segment: string;
  /** The time its answer next differs; undefined when only new data can change it. */
  at: number | undefined;
  /**
   * `exact`: `at` is the flip itself. `continuous`: the answer moves with the clock (a duration or a
   * time computed from now), `at` is the next recheck. `beyond`: no flip within MAX_STEPS wake-ups;
   * `at` is the next time it could change.
   */
  kind: 'exact' | 'continuous' | 'beyond';
}

/** Each segment's next change after `now` (or only segment `only`'s), found by stepping through the wake-ups. */
export function nextChanges(rules: RuleSet, evaluate: (now: number) => Evaluation, now: number, only?: number): NextChange[] {
  const segs = rules.segments;
  const first = evaluate(now);
  const base = segs.map((_, i) => rules.stored(i, first.values[i]));
  const out: NextChange[] = segs.map((s, i) => ({ segment: s.name, at: finite(first.segmentNext[i]!), kind: s.continuous ? 'continuous' : 'exact' }));
  let pending = segs.map((_, i) => i).filter((i) => (only === undefined || i === only) && !segs[i]!.continuous && out[i]!.at !== undefined);
  let wake = [...first.segmentNext];
  for (let step = 0; pending.length && step < MAX_STEPS; step++) {
    const t = Math.min(...pending.map((i) => wake[i]!));
    const ev = evaluate(t);
    pending = pending.filter((i) => {
      if (wake[i]! > t) return true;
      if (!sameAnswer(base[i], rules.stored(i, ev.values[i]))) {
        out[i]!.at = t;
        return false;
      }
      out[i]!.at = finite(ev.segmentNext[i]!);
      return out[i]!.at !== undefined;
    });
    wake = [...ev.segmentNext];
  }
  for (const i of pending) out[i]!.kind = 'beyond';
  return out;
}

/**
 * Per segment, the time its answer last flipped between `from` and `now` (undefined: it did not),
 * starting from the answers `stored`.
 */
export function flipTimes(
  rules: RuleSet,
  evaluate: (now: number) => Evaluation,
  stored: (FieldValue | undefined)[],
  from: number,
  now: number,
): (number | undefined)[] {
  const current = [...stored];
  const flippedAt: (number | undefined)[] = stored.map(() => undefined);
  let t = from;
  for (let step = 0; t <= now && step < MAX_STEPS; step++) {
    const ev = evaluate(t);
    for (let i = 0; i < rules.segments.length; i++) {
      const v = rules.stored(i, ev.values[i]);
      if (!sameAnswer(current[i], v)) {
        current[i] = v;
        flippedAt[i] = t;
      }
    }
    if (!(ev.nextChangeAt > t)) break;
    t = ev.nextChangeAt;
  }
  return flippedAt;
}
