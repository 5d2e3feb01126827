/**
 * What a compiled rule reads while it runs: the contact, the shared aggregates of its events, the
 * values of segments evaluated before it, and `now`; and where it records when its answer can next
 * change by the clock alone.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import { RuleError } from '../errors';
import type { FieldValue } from '../model/types';
import type { EventColumns } from './aggregates';

/** The contact as rules see it. */
export interface ContactView {
  id: number;
  email: string;
  /** Properties present on the contact (a missing one reads as null). */
  properties: Record<string, FieldValue>;
  tags: string[];
  /** Consent status, or "" when unknown. */
  consent: string;
  /** Epoch ms. */
  createdAt: number;
}

export interface EvalCtx {
  now: number;
  contact: ContactView;
  /** Aggregate results, SLOTS per spec (see aggregates.ts). */
  agg: Float64Array;
  /** Values of the segments evaluated so far, by segment index. */
  segments: unknown[];
  /** When each segment evaluated so far can next change by the clock alone (Infinity: never). */
  segmentNext: Float64Array;
  /** The contact's events, [start, end) of `cols` (for functions that take a time computed by the rule). */
  cols: EventColumns;
  start: number;
  end: number;
  /** Comprehension variables, by slot. */
  locals: unknown[];
  /** Earliest time after `now` at which what the current segment read so far can change. */
  next: number;
  /** When set, every node's value is recorded (for `explain`). */
  trace: Map<ASTNode, unknown> | undefined;
}

/**
 * A rule failed for this contact (a missing event, a type mismatch in dynamic data, …): the
 * segment's answer is false / null for the contact, and `explain` shows this message.
 */
export class RuleEvalError extends RuleError {
  constructor(message: string) {
    super(message, { hint: 'guard the sub-expression, e.g. exists("E") && since("E") < 30d, or has(contact.p) && …' });
  }
}

/** A segment whose rule failed: reading it from another rule fails with the same error. */
export class FailedValue {
  constructor(readonly error: RuleEvalError) {}
}

/** How often a rule that reads the clock in a way segsync cannot solve for is re-checked. */
export const OPAQUE_RECHECK_MS = 60_000;
