/**
 * `explain`: one segment's rule for one contact as a tree of sub-expressions, each with its value
 * (or "not evaluated" where logic short-circuited), the events that decided each event function,
 * and when the answer will next change by the clock alone.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import type { SourceLocation } from '../errors';
import type { FieldValue, SegsyncEvent } from '../model/types';
import { children, durationLiteral, mapLiteral, rolesOf, stringLiteral, typeOf } from './check';
import { compileRule } from './compile';
import { contactView } from './contact-cache';
import { FailedValue } from './context';
import type { EvalCtx } from './context';
import { columnsFromEvents } from './event-cache';
import { formatDuration } from './durations';
import { nextChanges } from './next-change';
import type { NextChange } from './next-change';
import { DURATION, EVENT_FUNCTIONS } from './functions';
import type { RuleSet } from './ruleset';
import { toFieldValue } from './ruleset';
import type { Store } from '../store/store';
import { SLOTS } from './aggregates';

export interface ExplainNode {
  /** The sub-expression as written in the rule. */
  text: string;
  /** Its value for this contact, `undefined` when it was not evaluated (short-circuit). */
  value: FieldValue | undefined;
  evaluated: boolean;
  /** Why it failed, when it did. */
  error?: string;
  /** For event functions: the events that decided it (most recent last, at most 10). */
  events?: { name: string; time: string; properties: Record<string, FieldValue> }[];
  /** How many matching events there were in all (when more than listed). */
  eventCount?: number;
  children: ExplainNode[];
}

export interface Explanation {
  segment: string;
  kind: 'flag' | 'value';
  rule: string;
  location: SourceLocation;
  contact: { id: number; email: string };
  at: string;
  value: FieldValue;
  error?: string;
  /** When this segment's answer next changes by the clock alone (undefined: only new data can change it). */
  nextChangeAt: string | undefined;
  /** `exact`, `continuous` (the value moves with the clock; the time is its next recheck) or `beyond` (no flip found; the time is the next that could change it). */
  nextChangeKind: NextChange['kind'];
  tree: ExplainNode;
}

const EVENT_FN = new Set(EVENT_FUNCTIONS.map((f) => f.name));
const MAX_EVENTS = 10;

/** Explains `segment` for a stored contact at `now`. */
export function explainSegment(rules: RuleSet, store: Store, contactId: number, segment: string, now: number): Explanation | undefined {
  const contact = store.getContact(contactId);
  const index = rules.indexOf(segment);
  if (!contact || index < 0) return undefined;
  const seg = rules.segments[index]!;
  const events = store.eventsOf(contactId);
  const view = contactView(contact);
  const cols = columnsFromEvents(rules.plan, events);
  const all = rules.evaluate(view, cols, 0, events.length, now);
  const rule = seg.rule;
  const { fn: traced } = compileRule(rule.ast, {
    plan: rules.plan,
    segmentIndex: new Map(rules.segments.map((s, i) => [s.name, i])),
    locate: (n) => rule.source.locate(rule.rewritten.originalOffset(n.start)),
    trace: true,
  });
  const agg = new Float64Array(rules.plan.specs.length * SLOTS);
  rules.plan.run(cols, 0, events.length, now, agg);
  const ctx: EvalCtx = {
    now,
    contact: view,
    agg,
    segments: all.values,
    segmentNext: all.segmentNext,
    cols,
    start: 0,
    end: events.length,
    locals: [],
    next: Infinity,
    trace: new Map(),
  };
  try {
    traced(ctx);
  } catch {
    // The failure is recorded in the trace and shown on the node that failed.
  }
  const text = (n: ASTNode): string => {
    const from = rule.rewritten.originalOffset(n.start);
    const to = rule.rewritten.originalOffset(Math.max(n.start, n.end - 1)) + 1;
    return rule.source.text.slice(from, to);
  };
  const build = (n: ASTNode): ExplainNode => {
    const evaluated = ctx.trace!.has(n);
    const raw = ctx.trace!.get(n);
    const node: ExplainNode = { text: text(n), evaluated, value: undefined, children: [] };
    if (raw instanceof FailedValue) node.error = raw.error.message;
    else if (evaluated) node.value = display(raw, typeOf(n));
    if (n.op === 'call' && EVENT_FN.has(n.args[0])) {
      const decided = decidingEvents(n, events, now);
      node.eventCount = decided.length;
      node.events = decided.slice(-MAX_EVENTS).map((e) => ({ name: e.name, time: new Date(e.time).toISOString(), properties: e.properties }));
      return node;
    }
    // `segments.x` and `contact.x` are read as one step: their bare variable has no value of its own.
    const selects = n.op === '.' || n.op === '.?';
    node.children = children(n)
      .filter((c) => interesting(c) && !(selects && c.op === 'id' && !ctx.trace!.has(c)))
      .map(build);
    return node;
  };
  const raw = all.values[index];
  const next = nextChanges(rules, (t) => rules.evaluate(view, cols, 0, events.length, t), now, index)[index]!;
  return {
    segment,
    kind: seg.kind,
    rule: rule.source.text.trim(),
    location: rule.source.locate(0),
    contact: { id: contact.id, email: contact.email },
    at: new Date(now).toISOString(),
    value: rules.stored(index, raw),
    ...(raw instanceof FailedValue ? { error: raw.error.message } : {}),
    nextChangeAt: next.at === undefined ? undefined : new Date(next.at).toISOString(),
    nextChangeKind: next.kind,
    tree: build(rule.ast),
  };
}

/** Literals and duration literals add nothing to the tree. */
function interesting(n: ASTNode): boolean {
  if (n.op === 'value') return false;
  if (durationLiteral(n) !== undefined) return false;
  if (n.op === 'list' || n.op === 'map') return n.args.some((a) => (Array.isArray(a) ? a.some(interesting) : interesting(a)));
  return true;
}

function display(v: unknown, type: string): FieldValue {
  if (type === DURATION && typeof v === 'number') return formatDuration(v);
  return toFieldValue(v, type);
}

/** The events an event-function call looked at: its names, within its window, matching its filter. */
function decidingEvents(n: ASTNode, events: SegsyncEvent[], now: number): SegsyncEvent[] {
  if (n.op !== 'call') return [];
  const fn = EVENT_FUNCTIONS.find((f) => f.name === n.args[0])!;
  const args = n.args[1];
  const roles = rolesOf(fn, args) ?? [];
  const names = new Set<string>();
  let window = Infinity;
  let filter: [string, unknown[]][] = [];
  roles.forEach((role, i) => {
    const a = args[i]!;
    if (role === 'event') names.add(stringLiteral(a)!);
    // within / none_within's D is a span after the Y, not a window back from now.
    if (role === 'window' && !/^(none_)?within/.test(fn.name)) window = durationLiteral(a)!;
    if (role === 'filter') filter = mapLiteral(a)!.map(([k, v]) => [k, Array.isArray(v) ? v : [v]]);
    if (role === 'points') for (const [k] of mapLiteral(a)!) names.add(k);
  });
  return events.filter(
    (e) =>
      names.has(e.name) &&
      e.time <= now &&
      e.time > now - window &&
      filter.every(([k, allowed]) => Object.hasOwn(e.properties, k) && allowed.includes(e.properties[k] as never)),
  );
}

/** Renders an explanation as an indented tree for a terminal. */
export function renderExplanation(x: Explanation): string {
  const lines: string[] = [];
  const fmt = (v: FieldValue | undefined): string => (v === undefined ? 'not evaluated' : JSON.stringify(v));
  lines.push(`${x.segment} = ${fmt(x.value)}${x.error ? `   (rule failed: ${x.error})` : ''}`);
  lines.push(`  contact ${x.contact.email} (#${x.contact.id}) at ${x.at}`);
  lines.push(`  rule at ${x.location.file}:${x.location.line ?? '?'}:${x.location.column ?? '?'}`);
  lines.push(`  next change by the clock alone: ${describeNextChange(x.nextChangeAt, x.nextChangeKind)}`);
  lines.push('');
  const walkTree = (n: ExplainNode, prefix: string, last: boolean, root: boolean): void => {
    const branch = root ? '' : last ? '└─ ' : '├─ ';
    const value = n.error ? `error: ${n.error}` : n.evaluated ? fmt(n.value) : 'not evaluated';
    lines.push(`${prefix}${branch}${oneLine(n.text)}  →  ${value}`);
    const childPrefix = root ? '' : prefix + (last ? '   ' : '│  ');
    if (n.events) {
      const more = (n.eventCount ?? 0) - n.events.length;
      if (!n.events.length) lines.push(`${childPrefix}   (no matching events)`);
      if (more > 0) lines.push(`${childPrefix}   … ${more} earlier matching events`);
      for (const e of n.events) {
        const props = Object.keys(e.properties).length ? `  ${JSON.stringify(e.properties)}` : '';
        lines.push(`${childPrefix}   · ${e.time}  ${e.name}${props}`);
      }
    }
    n.children.forEach((c, i) => walkTree(c, childPrefix, i === n.children.length - 1, false));
  };
  walkTree(x.tree, '', true, true);
  return lines.join('\n');
}

/** A next change for a terminal. */
export function describeNextChange(at: string | undefined, kind: NextChange['kind']): string {
  if (at === undefined) return 'never (only new data can change it)';
  if (kind === 'continuous') return `continuously (the value moves with the clock; rechecked at ${at})`;
  if (kind === 'beyond') return `not found within the next wake-ups; it can change from ${at}`;
  return at;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}...` : flat;
}
