/**
 * A compiled rule set: every segment's rule as a closure over one shared aggregate plan, in
 * dependency order, so one pass over a contact's events answers every segment and says when any
 * answer can next change.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import type { LoadedConfig } from '../config/load';
import type { SegmentConfig } from '../config/schema';
import { RuleError } from '../errors';
import type { SourceLocation } from '../errors';
import type { FieldValue } from '../model/types';
import { AggregatePlan, SLOTS } from './aggregates';
import type { EventColumns } from './aggregates';
import { checkRules, NO_KNOWLEDGE, RuleSetError } from './check';
import type { CheckedRule, Knowledge, RuleIssue, RuleSource } from './check';
import { compileRule } from './compile';
import type { Fn } from './compile';
import { FailedValue, RuleEvalError } from './context';
import type { ContactView, EvalCtx } from './context';
import { formatDuration } from './durations';
import { DURATION, TIMESTAMP } from './functions';
import { generateRuleSet } from './generate';
import type { RuleSetEvaluator } from './generate';

/** A compiled segment. */
export interface CompiledSegment {
  name: string;
  kind: 'flag' | 'value';
  /** The CEL type of its value. */
  type: string;
  rule: CheckedRule;
  fn: Fn;
  /** The answer moves with the clock itself (e.g. a duration value): it has no exact next change. */
  continuous: boolean;
}

/** One contact's answers: a value (or FailedValue) per segment, in `RuleSet.segments` order. */
export interface Evaluation {
  values: unknown[];
  /** Per segment: the earliest time after `now` at which its answer can change with no new data; Infinity if never. */
  segmentNext: Float64Array;
  /** The earliest of `segmentNext`: when any answer can change (the contact's wake-up). */
  nextChangeAt: number;
}

/** Rule texts and knowledge, without the location functions: what a worker needs to compile the same set. */
export interface RuleOrigin {
  sources: { segment: string; text: string; kind: 'flag' | 'value' }[];
  knowledge: Knowledge;
}

/** How a rule set is compiled. */
export interface RuleSetOptions {
  /**
   * Evaluate with the closures of compile.ts only, not the generated function (which is the same
   * meaning, several times faster): tests compare the two.
   */
  closuresOnly?: boolean;
}

/** Which contact attributes the rules read (the caches load only these). */
export interface Needs {
  /** Property names read, or undefined when a rule computes property names. */
  properties: Set<string> | undefined;
  /** Whether any rule reads the contact's email (a sweep worker then needs the emails of its range). */
  email: boolean;
}

/** Rule sources from a loaded segsync.yaml, located in the file. */
export function sourcesFromConfig(loaded: LoadedConfig): RuleSource[] {
  return Object.entries(loaded.config.segments).map(([name, seg]: [string, SegmentConfig]) => ({
    segment: name,
    text: seg.rule,
    kind: seg.type,
    locate: (offset: number) => loaded.source.locateInString(['segments', name, 'rule'], offset),
  }));
}

/** Rule sources for rules given inline (tests, `--rule`): positions are line/column inside the text. */
export function inlineSources(rules: Record<string, string | { rule: string; type?: 'flag' | 'value' }>, file = '<rule>'): RuleSource[] {
  return Object.entries(rules).map(([name, r]) => {
    const text = typeof r === 'string' ? r : r.rule;
    return {
      segment: name,
      text,
      kind: typeof r === 'string' ? 'flag' : (r.type ?? 'flag'),
      locate: (offset: number): SourceLocation => {
        const before = text.slice(0, offset);
        const line = before.split('\n').length;
        return { file: `${file}:${name}`, line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
      },
    };
  });
}

export class RuleSet {
  readonly plan = new AggregatePlan();
  readonly segments: CompiledSegment[];
  readonly warnings: RuleIssue[];
  readonly needs: Needs;
  private readonly agg: Float64Array;
  private readonly scratch: unknown[];
  private readonly segmentNext: Float64Array;
  private readonly ctx: EvalCtx;
  private readonly result: Evaluation;
  /** Per segment: its value as stored (see `stored`). */
  private readonly storers: ((value: unknown) => FieldValue)[];
  /** Per segment: its scalar values (not timestamps or durations) are stored as they are. */
  readonly storesScalarsAsIs: boolean[];
  /** Every segment as one generated function (undefined: the closures are called one by one). */
  private readonly generated: RuleSetEvaluator | undefined;
  /** Per segment: how many of its sub-expressions the generated function runs as closures. */
  readonly closureNodes: number[];

  private constructor(rules: CheckedRule[], warnings: RuleIssue[], options: RuleSetOptions) {
    const index = new Map(rules.map((r, i) => [r.source.segment, i]));
    const issues: RuleIssue[] = [];
    const locate = (rule: CheckedRule, n: ASTNode): SourceLocation => rule.source.locate(rule.rewritten.originalOffset(n.start));
    this.segments = [];
    for (const rule of rules) {
      try {
        const { fn, continuous } = compileRule(rule.ast, { plan: this.plan, segmentIndex: index, locate: (n: ASTNode) => locate(rule, n) });
        this.segments.push({ name: rule.source.segment, kind: rule.source.kind, type: rule.type, rule, fn, continuous });
      } catch (err) {
        if (!(err instanceof RuleError)) throw err;
        issues.push({ segment: rule.source.segment, location: err.location ?? rule.source.locate(0), message: err.message, hint: err.hint });
      }
    }
    if (issues.length) throw new RuleSetError(issues);
    const generated = options.closuresOnly ? undefined : generateRuleSet(rules, { plan: this.plan, segmentIndex: index, locate });
    this.generated = generated?.evaluate;
    this.closureNodes = generated?.fallbacks ?? rules.map(() => 1);
    this.plan.freeze();
    this.warnings = warnings;
    let properties: Set<string> | undefined = new Set();
    for (const r of rules) {
      if (!r.properties) properties = undefined;
      else for (const p of r.properties) properties?.add(p);
    }
    this.needs = { properties, email: rules.some((r) => r.readsEmail) };
    this.storers = this.segments.map((s) => storerOf(s.kind, s.type));
    this.storesScalarsAsIs = this.segments.map((s) => s.type !== TIMESTAMP && s.type !== DURATION);
    this.agg = new Float64Array(this.plan.specs.length * SLOTS);
    this.scratch = new Array(this.segments.length).fill(null);
    this.segmentNext = new Float64Array(this.segments.length);
    this.result = { values: this.scratch, segmentNext: this.segmentNext, nextChangeAt: Infinity };
    const noEvents: EventColumns = { names: new Int32Array(0), times: new Float64Array(0), numeric: [], categorical: [] };
    this.ctx = {
      now: 0,
      contact: undefined as unknown as ContactView,
      agg: this.agg,
      segments: this.scratch,
      segmentNext: this.segmentNext,
      cols: noEvents,
      start: 0,
      end: 0,
      locals: [],
      next: Infinity,
      trace: undefined,
    };
  }

  /** Checks and compiles rules; throws RuleSetError listing every problem with its location. */
  static compile(sources: RuleSource[], knowledge: Knowledge = NO_KNOWLEDGE, options: RuleSetOptions = {}): RuleSet {
    const { rules, warnings } = checkRules(sources, knowledge);
    const set = new RuleSet(rules, warnings, options);
    set.origin = { sources: sources.map((s) => ({ segment: s.segment, text: s.text, kind: s.kind })), knowledge };
    return set;
  }

  /** What the set was compiled from (a sweep worker compiles the same set again). */
  origin: RuleOrigin = { sources: [], knowledge: NO_KNOWLEDGE };

  /** Compiles the set a `RuleOrigin` describes (its rules compiled before, so locations are not needed). */
  static fromOrigin(origin: RuleOrigin): RuleSet {
    const locate = (): SourceLocation => ({ file: '<worker>', line: 1, column: 1 });
    return RuleSet.compile(
      origin.sources.map((s) => ({ ...s, locate })),
      origin.knowledge,
    );
  }

  /** Per segment: whether it holds values (numbers, strings) rather than true / false. */
  get valued(): boolean[] {
    return this.segments.map((s) => s.kind === 'value');
  }

  /** Index of a segment by name. */
  indexOf(name: string): number {
    return this.segments.findIndex((s) => s.name === name);
  }

  /**
   * Evaluates every segment for one contact whose events are [start, end) of `cols`. With `reuse`,
   * the returned evaluation is recycled by the next call (a full recompute reads it at once).
   */
  evaluate(contact: ContactView, cols: EventColumns, start: number, end: number, now: number, reuse = false): Evaluation {
    const agg = this.agg;
    this.plan.run(cols, start, end, now, agg);
    const values: unknown[] = reuse ? this.scratch : new Array(this.segments.length);
    const segmentNext = reuse ? this.segmentNext : new Float64Array(this.segments.length);
    const ctx: EvalCtx = reuse
      ? this.ctx
      : { now, contact, agg, segments: values, segmentNext, cols, start, end, locals: [], next: Infinity, trace: undefined };
    ctx.now = now;
    ctx.contact = contact;
    ctx.cols = cols;
    ctx.start = start;
    ctx.end = end;
    const next = this.generated ? this.generated(ctx) : this.evaluateClosures(ctx);
    if (!reuse) return { values, segmentNext, nextChangeAt: next };
    this.result.nextChangeAt = next;
    return this.result;
  }

  /** Every segment's closure in turn, into ctx.segments and ctx.segmentNext; returns the earliest next change. */
  private evaluateClosures(ctx: EvalCtx): number {
    const values = ctx.segments;
    const segmentNext = ctx.segmentNext;
    let next = Infinity;
    const segments = this.segments;
    for (let i = 0; i < segments.length; i++) {
      ctx.next = Infinity;
      try {
        values[i] = segments[i]!.fn(ctx);
      } catch (err) {
        if (!(err instanceof RuleEvalError)) throw err;
        values[i] = new FailedValue(err);
      }
      segmentNext[i] = ctx.next;
      if (ctx.next < next) next = ctx.next;
    }
    return next;
  }

  /** The value to store for a segment: flags are true/false (false on error), values JSON (null on error). */
  stored(index: number, value: unknown): FieldValue {
    return this.storers[index]!(value);
  }
}

/**
 * How a segment's values are stored, chosen once by its kind and type: a full recompute stores
 * every segment of every contact, and scalars (nearly all values) need no conversion.
 */
function storerOf(kind: 'flag' | 'value', type: string): (value: unknown) => FieldValue {
  const failed = kind === 'flag' ? false : null;
  if (type === TIMESTAMP || type === DURATION) {
    return (v) => (v instanceof FailedValue ? failed : toFieldValue(v, type));
  }
  return (v) => {
    if (typeof v !== 'object') return v === undefined ? null : (v as FieldValue);
    return v instanceof FailedValue ? failed : toFieldValue(v, type);
  };
}

/** A runtime value as a JSON value: timestamps as RFC 3339, durations as `1d2h`. */
export function toFieldValue(value: unknown, type: string): FieldValue {
  if (type === TIMESTAMP && typeof value === 'number') return new Date(value).toISOString();
  if (type === DURATION && typeof value === 'number') return formatDuration(value);
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => toFieldValue(v, 'dyn'));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, FieldValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toFieldValue(v, 'dyn');
    return out;
  }
  return value as FieldValue;
}
