/**
 * Which rules the stored answers follow. A daemon that starts with other rules than those (a segment
 * added, renamed or edited in segsync.yaml) evaluates every contact again and pushes what flips;
 * without it, an idle contact kept the old rules' answer, and a new segment tagged nobody, until the
 * contact next changed.
 */
import { createHash } from 'node:crypto';
import type { RuleSet } from './ruleset';

/** Bumped when a segsync release changes what a rule evaluates to: stored answers are then recomputed. */
const RULES_SEMANTICS = 1;

/** A short hash of the segments' names, kinds and rule texts, in order. */
export function rulesFingerprint(rules: RuleSet): string {
  const segments = rules.origin.sources.map((s) => [s.segment, s.kind, s.text]);
  return createHash('sha256')
    .update(JSON.stringify({ v: RULES_SEMANTICS, segments }))
    .digest('hex')
    .slice(0, 32);
}
