/**
 * One share of a full recompute: evaluates a range of contacts from the caches, compares each answer
 * with the one stored before, and collects the changes, the per-segment figures and each contact's
 * next change time. Pure over its inputs, so the main thread and the sweep workers run the very same
 * loop over their shares of the contacts.
 */
import type { FieldValue } from '../model/types';
import type { AnswerTable } from './answer-table';
import { isDefault } from './answers';
import type { ContactCache } from './contact-cache';
import { FailedValue } from './context';
import type { EventCache } from './event-cache';
import type { RuleSet } from './ruleset';

/** Distinct values counted per value segment for the summary's "top values". */
const MAX_DISTINCT = 1000;

/** Value counts of one value segment (stringified objects as keys). */
export type ValueCounts = Map<string | number | boolean, number>;

/** What one share of a recompute found. */
export interface SweepPart {
  /** Per segment: contacts in it, entered, left, changed value, failed rule. */
  members: number[];
  entered: number[];
  left: number[];
  changed: number[];
  errors: number[];
  valueCounts: (ValueCounts | undefined)[];
  /** Contacts evaluated, ascending, with their next change time (Infinity: never). */
  ids: number[];
  next: number[];
  /** Changed answers in contact order: contact id, segment index, new value. */
  changeIds: number[];
  changeSegments: number[];
  changeValues: FieldValue[];
}

/** An empty part for a rule set. */
export function emptyPart(rules: RuleSet): SweepPart {
  const n = rules.segments.length;
  const zeros = (): number[] => new Array<number>(n).fill(0);
  return {
    members: zeros(),
    entered: zeros(),
    left: zeros(),
    changed: zeros(),
    errors: zeros(),
    // Most common values of value segments with few distinct values (stages, codes, scores 1–5);
    // doubles (sums, scores) have as many values as contacts and no useful "top".
    valueCounts: rules.segments.map((s) => (s.kind === 'value' && s.type !== 'double' ? new Map() : undefined)),
    ids: [],
    next: [],
    changeIds: [],
    changeSegments: [],
    changeValues: [],
  };
}

/**
 * Evaluates the contacts of `contacts` with ids in [lo, hi) as of `now`. With `save`, the new
 * answers replace the previous ones in `prev`. `onContact` sees every contact's answers.
 */
export function sweepRange(
  rules: RuleSet,
  contacts: ContactCache,
  events: EventCache,
  answers: AnswerTable,
  lo: number,
  hi: number,
  now: number,
  save: boolean,
  onContact?: (contactId: number, values: FieldValue[]) => void,
): SweepPart {
  const part = emptyPart(rules);
  const segs = rules.segments;
  const plain = rules.storesScalarsAsIs;
  const values: FieldValue[] = new Array<FieldValue>(segs.length).fill(null);
  // Counted in holders (one map lookup per value, not a get and a set), turned into counts at the end.
  const tallies = part.valueCounts.map((m) => m && new Map<string | number | boolean, { n: number }>());
  // One view and one slice, refilled per contact: a sweep reads them at once and keeps neither.
  const view = contacts.blankView();
  const slice = events.blankSlice();
  for (const id of contacts.ids(lo, hi)) {
    contacts.viewInto(view, id);
    events.sliceInto(slice, id);
    const ev = rules.evaluate(view, slice.cols, slice.start, slice.end, now, true);
    for (let i = 0; i < segs.length; i++) {
      const raw = ev.values[i];
      // Scalars of most segments are stored as they are: the storer is only called for the rest.
      const value = typeof raw !== 'object' && plain[i] ? (raw === undefined ? null : (raw as FieldValue)) : rules.stored(i, raw);
      values[i] = value;
      const member = !isDefault(value);
      if (member) {
        part.members[i]!++;
        const tally = tallies[i];
        if (tally !== undefined) {
          const key = typeof value === 'object' ? JSON.stringify(value) : value;
          const t = tally.get(key);
          if (t !== undefined) t.n++;
          else if (tally.size < MAX_DISTINCT) tally.set(key, { n: 1 });
        }
      }
      if (typeof raw === 'object' && raw instanceof FailedValue) part.errors[i]!++;
      if (answers.same(i, id, value)) continue;
      if (!answers.isMember(i, id)) part.entered[i]!++;
      else if (!member) part.left[i]!++;
      else part.changed[i]!++;
      if (save) answers.set(i, id, value);
      part.changeIds.push(id);
      part.changeSegments.push(i);
      part.changeValues.push(value);
    }
    part.ids.push(id);
    part.next.push(ev.nextChangeAt);
    onContact?.(id, values);
  }
  tallies.forEach((tally, i) => {
    if (tally) for (const [k, t] of tally) part.valueCounts[i]!.set(k, t.n);
  });
  return part;
}

/** Adds part `b`'s figures into `a` (value counts merged, capped like one part's). */
export function mergeFigures(a: SweepPart, b: SweepPart): void {
  for (let i = 0; i < a.members.length; i++) {
    a.members[i]! += b.members[i]!;
    a.entered[i]! += b.entered[i]!;
    a.left[i]! += b.left[i]!;
    a.changed[i]! += b.changed[i]!;
    a.errors[i]! += b.errors[i]!;
    const into = a.valueCounts[i];
    const from = b.valueCounts[i];
    if (!into || !from) continue;
    for (const [k, n] of from) {
      const m = into.get(k);
      if (m !== undefined) into.set(k, m + n);
      else if (into.size < MAX_DISTINCT) into.set(k, n);
    }
  }
}
