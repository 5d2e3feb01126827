/**
 * Parsing and type-checking of segment rules with cel-js, plus segsync's own checks: event-function
 * arguments are literals, event names and properties are ones the store has seen (or close to none),
 * segment references exist and do not form a cycle. Every problem carries the rule's file, line and
 * column in segsync.yaml.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { ASTNode } from '@marcbachmann/cel-js';
import { closest } from '../config/closest';
import { RuleError, formatLocation } from '../errors';
import type { SourceLocation } from '../errors';
import { parseDurationText, rewriteDurationLiterals } from './durations';
import type { RewrittenRule } from './durations';
import { DURATION, EVENT_FUNCTIONS, EXTRA_FUNCTIONS, RULE_VARIABLES, signatures } from './functions';
import type { EventFunction, ParamRole } from './functions';

/** One rule as written, with the way from an offset in it to a place in a file. */
export interface RuleSource {
  segment: string;
  text: string;
  /** `flag` rules must be boolean; `value` rules may have any type. */
  kind: 'flag' | 'value';
  locate(offset: number): SourceLocation;
}

/** What the store has seen, to catch misspelt names. */
export interface Knowledge {
  eventNames: readonly string[];
  /** Properties seen per event name (a sample is enough: only close misspellings are errors). */
  eventProperties: ReadonlyMap<string, ReadonlySet<string>>;
  /** Contact property names: declared fields and those stored. */
  propertyNames: readonly string[];
}

export const NO_KNOWLEDGE: Knowledge = { eventNames: [], eventProperties: new Map(), propertyNames: [] };

/** A problem found in a rule. */
export interface RuleIssue {
  segment: string;
  location: SourceLocation;
  message: string;
  hint?: string;
}

/** Thrown when rules do not compile; `issues` lists every problem. */
export class RuleSetError extends RuleError {
  constructor(readonly issues: RuleIssue[]) {
    const first = issues[0]!;
    super(issues.map((i) => `${formatLocation(i.location)}: ${i.message}${i.hint ? `\n  hint: ${i.hint}` : ''}`).join('\n'), {
      location: first.location,
    });
  }

  override describe(): string {
    return this.message;
  }
}

/** A rule that parsed and type-checked. */
export interface CheckedRule {
  source: RuleSource;
  rewritten: RewrittenRule;
  ast: ASTNode;
  /** The CEL type of the rule's value. */
  type: string;
  /** Segments this rule reads. */
  references: string[];
  /** Contact properties read with a literal name; `undefined` when a key is computed. */
  properties: Set<string> | undefined;
  /** Whether the rule reads the contact's email. */
  readsEmail: boolean;
}

/** Builds the CEL environment: variables, segsync's functions, and optionally their implementations. */
export function createEnvironment(impl?: (fn: string, args: unknown[]) => unknown): Environment {
  const env = new Environment({ homogeneousAggregateLiterals: false });
  for (const v of RULE_VARIABLES) env.registerVariable(v.name, v.type);
  const unavailable = (fn: string) => (): never => {
    throw new RuleError(`${fn}() is evaluated by segsync's compiler, not by cel-js`);
  };
  for (const fn of EVENT_FUNCTIONS) {
    for (const sig of signatures(fn)) env.registerFunction(sig, impl ? (...args: unknown[]) => impl(fn.name, args) : unavailable(fn.name));
  }
  for (const f of EXTRA_FUNCTIONS) {
    const name = f.signature.slice(0, f.signature.indexOf('('));
    env.registerFunction(f.signature, impl ? (...args: unknown[]) => impl(name, args) : unavailable(name));
  }
  return env;
}

const baseEnvironment = createEnvironment();
const leafEnvironment = baseEnvironment.clone({ homogeneousAggregateLiterals: false });
leafEnvironment.registerType('Segments', { fields: {} });
leafEnvironment.registerVariable('segments', 'Segments');

/** Where an offset of the rewritten rule is in the file. */
function locateNode(rule: { source: RuleSource; rewritten: RewrittenRule }, offset: number | undefined): SourceLocation {
  return rule.source.locate(rule.rewritten.originalOffset(offset ?? 0));
}

interface Parsed {
  source: RuleSource;
  rewritten: RewrittenRule;
  ast: ASTNode;
  references: { name: string; node: ASTNode }[];
}

/** Parses and checks a rule set, in dependency order; throws RuleSetError listing every problem. */
export function checkRules(sources: RuleSource[], knowledge: Knowledge = NO_KNOWLEDGE): { rules: CheckedRule[]; warnings: RuleIssue[] } {
  const issues: RuleIssue[] = [];
  const warnings: RuleIssue[] = [];
  const parsed = new Map<string, Parsed>();
  for (const source of sources) {
    const rewritten = rewriteDurationLiterals(source.text);
    try {
      const ast = baseEnvironment.parse(rewritten.text).ast;
      parsed.set(source.segment, { source, rewritten, ast, references: segmentReferences(ast) });
    } catch (err) {
      issues.push(celIssue(err, { source, rewritten }));
    }
  }
  const names = sources.map((s) => s.segment);
  for (const p of parsed.values()) {
    for (const ref of p.references) {
      if (!names.includes(ref.name)) {
        const near = closest(ref.name, names);
        issues.push({
          segment: p.source.segment,
          location: locateNode(p, ref.node.start),
          message: `unknown segment "${ref.name}"`,
          hint: near ? `did you mean segments.${near}?` : `segments defined here: ${names.join(', ') || 'none'}`,
        });
      }
    }
  }
  const order = topologicalOrder([...parsed.values()], issues);
  const types = new Map<string, string>();
  const rules: CheckedRule[] = [];
  for (const p of order) {
    // Cloning an environment is costly: only rules that read other segments get their own.
    let env = leafEnvironment;
    if (p.references.length) {
      env = baseEnvironment.clone({ homogeneousAggregateLiterals: false });
      const fields: Record<string, string> = {};
      for (const ref of p.references) {
        const t = types.get(ref.name);
        if (t) fields[ref.name] = t;
      }
      env.registerType('Segments', { fields });
      env.registerVariable('segments', 'Segments');
    }
    let ast: ASTNode;
    let type: string;
    try {
      const expr = env.parse(p.rewritten.text);
      const result = expr.check();
      if (!result.valid) throw result.error;
      ast = expr.ast;
      type = result.type ?? 'dyn';
    } catch (err) {
      if (p.references.some((r) => !types.has(r.name))) continue; // already reported: the referenced rule is broken
      issues.push(celIssue(err, p));
      continue;
    }
    if (p.source.kind === 'flag' && type !== 'bool') {
      issues.push({
        segment: p.source.segment,
        location: locateNode(p, 0),
        message: `segment "${p.source.segment}" is a flag but its rule gives ${type}, not bool`,
        hint: 'compare the value (e.g. `... > 70`), or declare the segment with `type: value`',
      });
      continue;
    }
    const before = issues.length;
    const properties = checkNames(p, ast, knowledge, issues, warnings);
    if (issues.length > before) continue;
    types.set(p.source.segment, type);
    let readsEmail = false;
    walk(ast, (n) => {
      if (n.op === 'id' && n.args === 'email') readsEmail = true;
    });
    rules.push({ source: p.source, rewritten: p.rewritten, ast, type, references: p.references.map((r) => r.name), properties, readsEmail });
  }
  if (issues.length) throw new RuleSetError(issues.sort(byLocation));
  return { rules, warnings };
}

function byLocation(a: RuleIssue, b: RuleIssue): number {
  return (a.location.line ?? 0) - (b.location.line ?? 0) || (a.location.column ?? 0) - (b.location.column ?? 0);
}

const HINTS: Record<string, string> = {
  no_matching_overload: 'check the argument types; int and double do not mix (write 1000.0 or double(x)), durations are written 24h or 7d',
  unknown_variable: `rules can read ${RULE_VARIABLES.map((v) => v.name).join(', ')} and segments.<name>`,
  expected_token: 'check parentheses, quotes and operators (and, or, not are written &&, ||, !)',
  unexpected_character: 'and, or, not are written &&, ||, !; text is written in double quotes',
  unexpected_token: 'something is missing before it (a value after an operator, a closing bracket or quote); and, or, not are written &&, ||, !',
};

/** cel-js names a token by its kind (AND, EOF): what the user wrote instead. */
const TOKEN_TEXT: Record<string, string> = {
  EOF: 'the end of the rule',
  NUMBER: 'a number',
  STRING: 'a string',
  BYTES: 'a bytes literal',
  BOOLEAN: 'true or false',
  NULL: 'null',
  IDENTIFIER: 'a name',
  PLUS: '"+"',
  MINUS: '"-"',
  MULTIPLY: '"*"',
  DIVIDE: '"/"',
  MODULO: '"%"',
  EQ: '"=="',
  NE: '"!="',
  LT: '"<"',
  LE: '"<="',
  GT: '">"',
  GE: '">="',
  AND: '"&&"',
  OR: '"||"',
  NOT: '"!"',
  IN: '"in"',
  LPAREN: '"("',
  RPAREN: '")"',
  LBRACKET: '"["',
  RBRACKET: '"]"',
  LBRACE: '"{"',
  RBRACE: '"}"',
  DOT: '"."',
  COMMA: '","',
  COLON: '":"',
  QUESTION: '"?"',
};

/** cel-js's first message line, with tokens named as they are written. */
function celMessage(first: string): string {
  const text = (kind: string): string => TOKEN_TEXT[kind] ?? kind;
  return first
    .replace(/^Unexpected token: ([A-Z]+)$/, (_m, kind: string) => `${text(kind)} was not expected here`)
    .replace(/^Expected ([A-Z]+), got ([A-Z]+)$/, (_m, want: string, got: string) => `expected ${text(want)}, found ${text(got)}`);
}

const EVENT_FUNCTION_NAMES = EVENT_FUNCTIONS.map((f) => f.name);
const KNOWN_FUNCTIONS = [
  ...EVENT_FUNCTION_NAMES,
  'tier',
  'tier_strict',
  'size',
  'string',
  'int',
  'double',
  'bool',
  'duration',
  'timestamp',
  'has',
  'matches',
  'dyn',
];

/** True when every letter of `short` appears in `name` in order, starting with its first letter (cnt → count). */
function abbreviates(short: string, name: string): boolean {
  if (short[0] !== name[0]) return false;
  let i = 0;
  for (const ch of name) if (ch === short[i]) i++;
  return i === short.length;
}

/**
 * The function a misspelt call most likely meant. Rules are mostly event functions, so an
 * abbreviation (`cnt` → count) or a near miss of one beats a closer conversion (`cnt` → int).
 */
export function suggestFunction(called: string): string | undefined {
  const word = called.toLowerCase();
  const abbreviated = KNOWN_FUNCTIONS.filter((f) => abbreviates(word, f)).sort((a, b) => a.length - b.length);
  return (
    abbreviated.find((f) => EVENT_FUNCTION_NAMES.includes(f)) ?? abbreviated[0] ?? closest(called, EVENT_FUNCTION_NAMES) ?? closest(called, KNOWN_FUNCTIONS)
  );
}

const UNIT_WORDS: [RegExp, string][] = [
  [/^(ms|msecs?|millis(econds?)?|milliseconds?)$/i, 'ms'],
  [/^(secs?|seconds?)$/i, 's'],
  [/^(mins?|minutes?)$/i, 'm'],
  [/^(hrs?|hours?)$/i, 'h'],
  [/^(days?)$/i, 'd'],
  [/^(wks?|weeks?)$/i, 'w'],
];
const SPELT_DURATION = /(?<![A-Za-z0-9_."'])(\d+(?:\.\d+)?)\s?([A-Za-z]+)\b/g;

/** A duration written with a unit word (`180days`, `2 hours`, `3months`): where, and how to write it. */
export function speltDuration(text: string): { offset: number; hint: string } | undefined {
  for (const m of text.matchAll(SPELT_DURATION)) {
    const [, n, word] = m as unknown as [string, string, string];
    if (/^(ms|s|m|h|d|w)$/.test(word)) continue;
    if (/^(months?|mos?|years?|yrs?|y)$/i.test(word)) {
      const days = Number(n) * (/^y/i.test(word) ? 365 : 30);
      return { offset: m.index, hint: `durations have no months or years (their length varies): write ${days}d or another length in d or w` };
    }
    const unit = UNIT_WORDS.find(([re]) => re.test(word))?.[1];
    if (unit) return { offset: m.index, hint: `durations are written ${n}${unit} (units: ms, s, m, h, d, w; e.g. 30m, 24h, 180d)` };
  }
  return undefined;
}

function celIssue(err: unknown, rule: { source: RuleSource; rewritten: RewrittenRule }): RuleIssue {
  const e = err as { summary?: string; message?: string; code?: string; range?: { start: number } };
  const message = celMessage((e.summary ?? e.message ?? String(err)).split('\n')[0]!);
  const called = /no matching overload for '([A-Za-z_][A-Za-z0-9_]*)\(/.exec(message)?.[1];
  if (called && !KNOWN_FUNCTIONS.includes(called)) {
    const near = suggestFunction(called);
    return {
      segment: rule.source.segment,
      location: locateNode(rule, e.range?.start),
      message: `segment "${rule.source.segment}": unknown function ${called}()`,
      hint: near ? `did you mean ${near}()?` : 'see docs/rules.md for the functions rules can use',
    };
  }
  const spelt = speltDuration(rule.source.text);
  if (spelt) {
    return {
      segment: rule.source.segment,
      location: rule.source.locate(spelt.offset),
      message: `segment "${rule.source.segment}": ${message}`,
      hint: spelt.hint,
    };
  }
  return {
    segment: rule.source.segment,
    location: locateNode(rule, e.range?.start),
    message: `segment "${rule.source.segment}": ${message}`,
    hint: (e.code && HINTS[e.code]) ?? (/Unknown variable/.test(message) ? HINTS.unknown_variable : undefined),
  };
}

/** `segments.<name>` nodes in a parsed rule. */
function segmentReferences(ast: ASTNode): { name: string; node: ASTNode }[] {
  const out: { name: string; node: ASTNode }[] = [];
  walk(ast, (n) => {
    if ((n.op === '.' || n.op === '.?') && n.args[0].op === 'id' && n.args[0].args === 'segments') out.push({ name: n.args[1], node: n });
  });
  return out;
}

/** Calls `visit` on every AST node, parents first. */
export function walk(node: ASTNode, visit: (n: ASTNode) => void): void {
  visit(node);
  for (const child of children(node)) walk(child, visit);
}

/** The child nodes of an AST node, in source order. */
export function children(node: ASTNode): ASTNode[] {
  switch (node.op) {
    case 'value':
    case 'id':
      return [];
    case '.':
    case '.?':
      return [node.args[0]];
    case 'call':
      return node.args[1];
    case 'rcall':
      return [node.args[1], ...node.args[2]];
    case 'list':
      return node.args;
    case 'map':
      return node.args.flat();
    case '!_':
    case '-_':
      return [node.args];
    default:
      return node.args as ASTNode[];
  }
}

function topologicalOrder(rules: Parsed[], issues: RuleIssue[]): Parsed[] {
  const byName = new Map(rules.map((r) => [r.source.segment, r]));
  const state = new Map<string, 'visiting' | 'done'>();
  const out: Parsed[] = [];
  const visit = (r: Parsed, path: string[]): void => {
    const name = r.source.segment;
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      issues.push({
        segment: name,
        location: locateNode(r, r.references[0]?.node.start),
        message: `segments refer to each other in a cycle: ${cycle.join(' → ')}`,
        hint: 'a segment can only read segments that do not read it back',
      });
      return;
    }
    state.set(name, 'visiting');
    for (const ref of r.references) {
      const dep = byName.get(ref.name);
      if (dep) visit(dep, [...path, name]);
    }
    state.set(name, 'done');
    out.push(r);
  };
  for (const r of rules) visit(r, []);
  return out;
}

const EVENT_FN = new Map<string, EventFunction>(EVENT_FUNCTIONS.map((f) => [f.name, f]));

/** The roles of the arguments of an event-function call, by the overload cel-js chose (arity decides it). */
export function rolesOf(fn: EventFunction, args: ASTNode[]): ParamRole[] | undefined {
  const candidates = fn.overloads.filter((o) => o.params.length === args.length);
  if (candidates.length === 1) return candidates[0]!.params;
  // Same arity: `count(E, 7d)` vs `count(E, {…})` differ by the argument's type.
  return candidates.find((o) => o.params.every((p, i) => (p === 'window' || p === 'halfLife') === (typeOf(args[i]!) === DURATION)))?.params;
}

/** The type cel-js's checker inferred for a node. */
export function typeOf(node: ASTNode): string {
  return (node as { checkedType?: { name: string } }).checkedType?.name ?? 'dyn';
}

/** Checks literal arguments and names; returns the contact properties read (undefined if computed). */
function checkNames(p: Parsed, ast: ASTNode, knowledge: Knowledge, issues: RuleIssue[], warnings: RuleIssue[]): Set<string> | undefined {
  let properties: Set<string> | undefined = new Set<string>();
  const segment = p.source.segment;
  const issue = (node: ASTNode, message: string, hint?: string): void => {
    issues.push({ segment, location: locateNode(p, node.start), message, hint });
  };
  const unknownName = (node: ASTNode, kind: string, name: string, known: readonly string[], hint: string): void => {
    const near = closest(name, known);
    const message = `${kind} "${name}" has not been seen yet`;
    if (near) issue(node, `unknown ${kind} "${name}"`, `did you mean "${near}"?`);
    else if (!warnings.some((w) => w.message === message)) warnings.push({ segment, location: locateNode(p, node.start), message, hint });
  };
  const checkEvent = (node: ASTNode, name: string): void => {
    if (!knowledge.eventNames.includes(name))
      unknownName(node, 'event', name, knowledge.eventNames, 'check the spelling; the rule counts it once such events arrive');
  };
  walk(ast, (n) => {
    if ((n.op === '.' || n.op === '[]') && n.args[0].op === 'id' && n.args[0].args === 'contact') {
      const key = n.op === '.' ? n.args[1] : n.args[1].op === 'value' && typeof n.args[1].args === 'string' ? n.args[1].args : undefined;
      if (key === undefined) properties = undefined;
      else {
        properties?.add(key);
        if (!knowledge.propertyNames.includes(key)) {
          unknownName(n, 'contact property', key, knowledge.propertyNames, 'declare it under fields: in segsync.yaml; contacts without it read null');
        }
      }
    }
    if (n.op !== 'call') return;
    const fn = EVENT_FN.get(n.args[0]);
    if (!fn) return;
    const args = n.args[1];
    const roles = rolesOf(fn, args);
    if (!roles) return;
    let eventName: string | undefined;
    roles.forEach((role, i) => {
      const arg = args[i]!;
      switch (role) {
        case 'event': {
          const name = stringLiteral(arg);
          if (name === undefined) return issue(arg, `${fn.name}(): the event name must be a string literal`, 'write the name in quotes, e.g. "Placed Order"');
          eventName ??= name;
          checkEvent(arg, name);
          return;
        }
        case 'property': {
          const prop = stringLiteral(arg);
          if (prop === undefined) return issue(arg, `${fn.name}(): the property name must be a string literal`, 'e.g. sum("Placed Order", "value")');
          const seen = eventName === undefined ? undefined : knowledge.eventProperties.get(eventName);
          if (seen && !seen.has(prop)) unknownName(arg, `property of "${eventName}"`, prop, [...seen], 'events without it are skipped');
          return;
        }
        case 'window':
        case 'halfLife':
          if (durationLiteral(arg) === undefined)
            issue(arg, `${fn.name}(): the ${role === 'window' ? 'window' : 'half-life'} must be a duration literal such as 24h or 7d`);
          else if (durationLiteral(arg)! <= 0) issue(arg, `${fn.name}(): the ${role === 'window' ? 'window' : 'half-life'} must be positive`);
          return;
        case 'filter':
        case 'points': {
          const entries = mapLiteral(arg);
          if (!entries) {
            return issue(
              arg,
              `${fn.name}(): the ${role} must be a map literal`,
              role === 'filter' ? 'e.g. {"category": "shoes"} or {"category": ["shoes", "bags"]}' : 'e.g. {"Opened Email": 1, "Clicked Email": 3}',
            );
          }
          for (const [key, value, keyNode] of entries) {
            if (role === 'points') {
              checkEvent(keyNode, key);
              if (typeof value !== 'number') issue(keyNode, `score(): the points for "${key}" must be a number`);
            } else {
              const seen = eventName === undefined ? undefined : knowledge.eventProperties.get(eventName);
              if (seen && !seen.has(key)) unknownName(keyNode, `property of "${eventName}"`, key, [...seen], 'events without it never match the filter');
              if (value === NOT_LITERAL) issue(keyNode, `${fn.name}(): filter values must be literals (or lists of literals)`);
            }
          }
        }
      }
    });
  });
  return properties;
}

const NOT_LITERAL = Symbol('not a literal');
type Literal = string | number | boolean | null | Literal[] | typeof NOT_LITERAL;

/** The value of a string literal node. */
export function stringLiteral(node: ASTNode): string | undefined {
  return node.op === 'value' && typeof node.args === 'string' ? node.args : undefined;
}

/** Milliseconds of a `duration("…")` node with a literal argument (24h literals are rewritten to it). */
export function durationLiteral(node: ASTNode): number | undefined {
  if (node.op !== 'call' || node.args[0] !== 'duration' || node.args[1].length !== 1) return undefined;
  const text = stringLiteral(node.args[1][0]!);
  return text === undefined ? undefined : parseDurationText(text);
}

/** The entries of a map literal with string keys: [key, literal value, key node]. */
export function mapLiteral(node: ASTNode): [string, Literal, ASTNode][] | undefined {
  if (node.op !== 'map') return undefined;
  const out: [string, Literal, ASTNode][] = [];
  for (const [k, v] of node.args) {
    const key = stringLiteral(k);
    if (key === undefined) return undefined;
    out.push([key, literalValue(v), k]);
  }
  return out;
}

function literalValue(node: ASTNode): Literal {
  if (node.op === 'value') {
    const v = node.args;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
    return NOT_LITERAL;
  }
  if (node.op === '-_' && node.args.op === 'value' && (typeof node.args.args === 'number' || typeof node.args.args === 'bigint'))
    return -Number(node.args.args);
  if (node.op === 'list') {
    const items = node.args.map(literalValue);
    return items.includes(NOT_LITERAL) ? NOT_LITERAL : (items as Literal[]);
  }
  return NOT_LITERAL;
}
