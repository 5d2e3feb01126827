/**
 * A whole rule set as one generated JS function, as pass.ts does for the aggregates: it evaluates
 * every segment in dependency order into the values / segmentNext arrays, with each aggregate slot,
 * window, threshold and constant written in as a literal, each segment's answer kept in a local for
 * the rules that read it, and the next-change bookkeeping done inline in a local. A tree of closures
 * costs an indirect call per node, and those call sites see every rule's closures: V8 can inline none
 * of them, which made the closures most of a warm recompute's time.
 *
 * The meaning is compile.ts's, node for node (values, errors, which notes are made before an error);
 * any node the generator does not handle runs as compile.ts's closure for that sub-expression, so
 * every rule is supported. Nothing from a rule's text reaches the source except as a
 * JSON.stringify'd string literal; numbers are written by `num`.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import type { AggregatePlan } from './aggregates';
import { durationLiteral, stringLiteral, typeOf } from './check';
import type { CheckedRule } from './check';
import {
  celEquals,
  celStringOf,
  checkInt,
  checkUint,
  comparator,
  compileExpression,
  contains,
  eventCallArgs,
  getKey,
  literal,
  minus,
  NUMERIC,
  OPAQUE,
  parseTimestamp,
  plusDyn,
  scoreOffset,
  sequenceOffset,
  sizeOf,
  specOffset,
  toCelString,
} from './compile';
import type { CompileOptions, Fn, Slope } from './compile';
import { FailedValue, OPAQUE_RECHECK_MS, RuleEvalError } from './context';
import type { EvalCtx } from './context';
import { DURATION, EVENT_FUNCTIONS, TIMESTAMP } from './functions';
import { num } from './pass';

/**
 * Evaluates every segment for the contact in `c` (its aggregates already in c.agg) into c.segments
 * and c.segmentNext; returns the earliest of the next-change times.
 */
export type RuleSetEvaluator = (c: EvalCtx) => number;

export interface GeneratedRuleSet {
  evaluate: RuleSetEvaluator;
  /** Per segment: how many of its sub-expressions run as closures (0: all of it is generated). */
  fallbacks: number[];
  /** The generated function's source (for tests and profiling). */
  source: string;
}

export interface GenerateOptions {
  plan: AggregatePlan;
  /** Segment name → index, in evaluation order. */
  segmentIndex: ReadonlyMap<string, number>;
  /** Where a node of a rule is in the file (for the closures' compile errors, which cannot happen: the rules compiled before). */
  locate(rule: CheckedRule, node: ASTNode): ReturnType<CompileOptions['locate']>;
}

/** A generated node: statements to run first, then an expression for its value. */
interface Gen {
  pre: string[];
  expr: string;
  slope: Slope;
  /** Set for a constant: its value. */
  constant?: { value: unknown };
  /** It cannot throw a RuleEvalError (lets `&&` and `||` skip their try / catch). */
  safe: boolean;
  /** Its value is always a JS boolean. */
  bool: boolean;
}

/** Thrown by a builder for a node it does not generate: the node runs as a closure instead. */
const NOT_GENERATED = Symbol('not generated');

const notGenerated = (): never => {
  throw NOT_GENERATED;
};

const OPAQUE_NOTE = `if (now + ${num(OPAQUE_RECHECK_MS)} < nx) nx = now + ${num(OPAQUE_RECHECK_MS)};`;

/** What the generated source calls by name. */
const HELPERS = {
  RuleEvalError,
  FailedValue,
  fail: (message: string): never => {
    throw new RuleEvalError(message);
  },
  thrw: (v: FailedValue): never => {
    throw v.error;
  },
  contains,
  celEquals,
  getKey,
  checkInt,
  checkUint,
  minus,
  plusDyn,
  sizeOf,
  toCelString,
};

/**
 * Source length after which the next segment starts a new function: V8 optimizes no function beyond
 * a bytecode size (60 KB in TurboFan), and an unoptimized evaluator would be slower than the closures.
 * Segments read the answers of another function's segments from the arrays, as the closures do.
 */
const CHUNK_CHARS = 20_000;

/** Generates the evaluator of a rule set whose rules compiled (as closures) without error. */
export function generateRuleSet(rules: readonly CheckedRule[], options: GenerateOptions): GeneratedRuleSet {
  const g = new Generator(options);
  const chunks: string[] = [];
  let code: string[] = [];
  let size = 0;
  let first = 0;
  const close = (end: number): void => {
    const locals = [...g.takeTemps(), ...Array.from({ length: end - first }, (_, k) => [`s${first + k}`, `n${first + k}`, `ok${first + k}`]).flat()];
    chunks.push(
      [
        `function chunk${chunks.length}(c) {`,
        'const now = c.now, agg = c.agg, contact = c.contact, props = contact.properties, values = c.segments, segNext = c.segmentNext;',
        `let all = Infinity, nx = Infinity${locals.map((l) => `, ${l}`).join('')};`,
        ...code,
        'return all;',
        '}',
      ].join('\n'),
    );
  };
  rules.forEach((rule, i) => {
    if (size > CHUNK_CHARS) {
      close(i);
      code = [];
      size = 0;
      first = i;
      g.startChunk(i);
    }
    const segment = g.segment(rule, i);
    code.push(segment);
    size += segment.length;
  });
  close(rules.length);
  const calls = chunks.map((_, k) => (k === 0 ? 'let all = chunk0(c);' : `const a${k} = chunk${k}(c); if (a${k} < all) all = a${k};`));
  const source = [
    '"use strict";',
    `const { ${Object.keys(HELPERS).join(', ')} } = h;`,
    ...chunks,
    chunks.length === 1 ? 'return chunk0;' : ['return function evaluateRuleSet(c) {', ...calls, 'return all;', '};'].join('\n'),
  ].join('\n');
  const factory = new Function('h', 'K', 'fb', source) as (h: typeof HELPERS, k: unknown[], fb: Fn[]) => RuleSetEvaluator;
  return { evaluate: factory(HELPERS, g.constants, g.closures), fallbacks: g.fallbacks, source };
}

class Generator {
  private temps = 0;
  /** Temporaries of the current function start here. */
  private firstTemp = 0;
  /** Segments of the current function start here: earlier ones are read from the arrays. */
  private firstSegment = 0;
  readonly constants: unknown[] = [];
  readonly closures: Fn[] = [];
  readonly fallbacks: number[] = [];
  private index = 0;
  private rule: CheckedRule | undefined;
  /** Per segment generated so far: it cannot fail / its answer is always a boolean. */
  private readonly segSafe: boolean[] = [];
  private readonly segBool: boolean[] = [];

  constructor(private readonly o: GenerateOptions) {}

  /** The statements evaluating segment `i` into s<i>, n<i>, ok<i>, values[i] and segNext[i]. */
  segment(rule: CheckedRule, i: number): string {
    this.index = i;
    this.rule = rule;
    this.fallbacks[i] = 0;
    // As compileRule: an answer that moves with the clock is rechecked periodically.
    const root = this.asStatic(this.gen(rule.ast));
    const code = [...root.pre, `s${i} = ${root.expr};`].join('\n');
    const closures = code.includes('fb[');
    this.segSafe[i] = root.safe;
    this.segBool[i] = root.bool;
    return [
      'nx = Infinity;',
      // A closure that throws leaves the notes it made in c.next: the catch takes them over.
      closures ? 'c.next = Infinity;' : '',
      `try {\n${code}\nok${i} = true;\n} catch (x) {`,
      `if (!(x instanceof RuleEvalError)) throw x;${closures ? ' if (c.next < nx) nx = c.next;' : ''}`,
      `s${i} = new FailedValue(x); ok${i} = false;`,
      '}',
      `values[${i}] = s${i}; segNext[${i}] = nx; n${i} = nx; if (nx < all) all = nx;`,
    ].join('\n');
  }

  /** Starts a new function at segment `i`. */
  startChunk(i: number): void {
    this.firstSegment = i;
  }

  /** The temporaries the current function declares (the next function declares its own). */
  takeTemps(): string[] {
    const names = Array.from({ length: this.temps - this.firstTemp }, (_, k) => `t${this.firstTemp + k}`);
    this.firstTemp = this.temps;
    return names;
  }

  private tmp(): string {
    return `t${this.temps++}`;
  }

  private gen(n: ASTNode): Gen {
    const closures = this.fallbacks[this.index]!;
    try {
      return this.build(n);
    } catch (err) {
      if (err !== NOT_GENERATED) throw err;
      // Closures made for children of this node are not used: the whole node is one.
      this.fallbacks[this.index] = closures;
      return this.fallback(n);
    }
  }

  /** The node as compile.ts's closure, called with the notes so far handed over in c.next and taken back. */
  private fallback(n: ASTNode): Gen {
    const rule = this.rule!;
    const { fn, slope } = compileExpression(n, { plan: this.o.plan, segmentIndex: this.o.segmentIndex, locate: (node) => this.o.locate(rule, node) });
    const k = this.closures.push(fn) - 1;
    this.fallbacks[this.index]!++;
    const t = this.tmp();
    return { pre: [], expr: `(c.next = nx, ${t} = fb[${k}](c), nx = c.next, ${t})`, slope, safe: false, bool: false };
  }

  /** A child that must not move with the clock: one that does is rechecked periodically (noted before it runs). */
  private asStatic(g: Gen): Gen {
    if (g.slope === 0) return g;
    return { ...g, pre: [OPAQUE_NOTE, ...g.pre], slope: 0 };
  }

  /**
   * Children evaluated in order: an expression followed by a child with statements is kept in a
   * temporary first, so its evaluation (and its notes and errors) stays before that child's.
   */
  private seq(parts: Gen[]): { pre: string[]; exprs: string[] } {
    const pre: string[] = [];
    const exprs = parts.map((p, i) => {
      pre.push(...p.pre);
      if (p.constant || !parts.slice(i + 1).some((q) => q.pre.length > 0)) return p.expr;
      const t = this.tmp();
      pre.push(`${t} = ${p.expr};`);
      return t;
    });
    return { pre, exprs };
  }

  private constant(v: unknown): Gen {
    const lit = scalarLiteral(v);
    const expr = lit ?? `K[${this.constants.push(v) - 1}]`;
    return { pre: [], expr, slope: 0, constant: { value: v }, safe: true, bool: typeof v === 'boolean' };
  }

  private build(n: ASTNode): Gen {
    switch (n.op) {
      case 'value':
        return this.constant(literal(n.args, notGenerated));
      case 'id':
        return this.identifier(n.args);
      case '.':
        return this.field(n.args[0], n.args[1]);
      case 'list': {
        const items = n.args.map((a) => this.gen(a));
        // Built once, as the closures do: rules never mutate lists.
        if (!items.every((x) => x.constant)) return notGenerated();
        return this.constant(items.map((x) => x.constant!.value));
      }
      case '&&':
      case '||':
        return this.logical(n.op, n.args[0], n.args[1]);
      case '!_': {
        const a = this.asStatic(this.gen(n.args));
        return { pre: a.pre, expr: `(!${a.expr})`, slope: 0, safe: a.safe, bool: true };
      }
      case '-_': {
        const a = this.gen(n.args);
        return { pre: a.pre, expr: `(-(${a.expr}))`, slope: a.slope === OPAQUE ? OPAQUE : -a.slope, safe: a.safe, bool: false };
      }
      case '?:':
        return this.ternary(n.args[0], n.args[1], n.args[2]);
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.comparison(n.op, n.args[0], n.args[1]);
      case 'in':
        return this.membership(n.args[0], n.args[1]);
      case '+':
      case '-':
        return this.arithmetic(n, n.op, n.args[0], n.args[1]);
      case '*':
        return this.product(n, n.args[0], n.args[1]);
      case 'call':
        return this.call(n, n.args[0], n.args[1]);
      case 'rcall':
        return this.method(n.args[0], n.args[1], n.args[2]);
      default:
        return notGenerated();
    }
  }

  private identifier(name: string): Gen {
    const plain = (expr: string): Gen => ({ pre: [], expr, slope: 0, safe: true, bool: false });
    switch (name) {
      case 'now':
        return { ...plain('now'), slope: 1 };
      case 'contact':
        return plain('props');
      case 'email':
        return plain('contact.email');
      case 'tags':
        return plain('contact.tags');
      case 'consent':
        return plain('contact.consent');
      case 'created_at':
        return plain('contact.createdAt');
      default:
        return notGenerated();
    }
  }

  private field(target: ASTNode, name: string): Gen {
    if (target.op === 'id' && target.args === 'segments') {
      const k = this.o.segmentIndex.get(name) ?? notGenerated();
      if (k < this.index && k >= this.firstSegment) {
        return {
          pre: [],
          expr: `(n${k} < nx && (nx = n${k}), ok${k} ? s${k} : thrw(s${k}))`,
          slope: 0,
          safe: this.segSafe[k]!,
          bool: this.segBool[k]!,
        };
      }
      // A segment of an earlier function, or one not evaluated before this one: read as the closures do, from the arrays.
      const t = this.tmp();
      return {
        pre: [],
        expr: `(segNext[${k}] < nx && (nx = segNext[${k}]), (${t} = values[${k}]) instanceof FailedValue ? thrw(${t}) : ${t})`,
        slope: 0,
        safe: false,
        bool: false,
      };
    }
    const key = JSON.stringify(name);
    if (target.op === 'id' && target.args === 'contact') {
      return { pre: [], expr: `(Object.hasOwn(props, ${key}) ? props[${key}] : null)`, slope: 0, safe: true, bool: false };
    }
    const obj = this.asStatic(this.gen(target));
    return { pre: obj.pre, expr: `getKey(${obj.expr}, ${key})`, slope: 0, safe: false, bool: false };
  }

  /** CEL's commutative `&&` / `||`: an error on one side is absorbed when the other side decides. */
  private logical(op: '&&' | '||', left: ASTNode, right: ASTNode): Gen {
    const a = this.asStatic(this.gen(left));
    const b = this.asStatic(this.gen(right));
    const and = op === '&&';
    // As a boolean "not decided yet" for &&, "decided" for ||, whatever the value's kind.
    const coerce = (g: Gen): string => (g.bool ? g.expr : and ? `(${g.expr} !== false)` : `(${g.expr} === true)`);
    const safe = a.safe && b.safe;
    if (a.safe) {
      if (!b.pre.length) return { pre: a.pre, expr: `(${coerce(a)} ${op} ${coerce(b)})`, slope: 0, safe, bool: true };
      const t = this.tmp();
      return {
        pre: [...a.pre, `${t} = ${coerce(a)};`, `if (${and ? '' : '!'}${t}) {`, ...b.pre, `${t} = ${coerce(b)};`, '}'],
        expr: t,
        slope: 0,
        safe,
        bool: true,
      };
    }
    const t = this.tmp();
    const e = this.tmp();
    const x = `x${this.temps++}`;
    const closures = [...a.pre, a.expr].some((s) => s.includes('fb['));
    return {
      pre: [
        `${e} = undefined;`,
        'try {',
        ...a.pre,
        `${t} = ${coerce(a)};`,
        `} catch (${x}) {`,
        `if (!(${x} instanceof RuleEvalError)) throw ${x};${closures ? ' if (c.next < nx) nx = c.next;' : ''}`,
        `${e} = ${x}; ${t} = ${and};`,
        '}',
        `if (${and ? '' : '!'}${t}) {`,
        ...b.pre,
        `${t} = ${coerce(b)};`,
        `if (${t} === ${and} && ${e} !== undefined) throw ${e};`,
        '}',
      ],
      expr: t,
      slope: 0,
      safe,
      bool: true,
    };
  }

  private ternary(condNode: ASTNode, left: ASTNode, right: ASTNode): Gen {
    const cond = this.asStatic(this.gen(condNode));
    let a = this.gen(left);
    let b = this.gen(right);
    let slope = a.slope;
    if (a.slope !== b.slope) {
      a = this.asStatic(a);
      b = this.asStatic(b);
      slope = 0;
    }
    const safe = cond.safe && a.safe && b.safe;
    const bool = a.bool && b.bool;
    if (!a.pre.length && !b.pre.length) return { pre: cond.pre, expr: `(${cond.expr} ? ${a.expr} : ${b.expr})`, slope, safe, bool };
    const t = this.tmp();
    return {
      pre: [...cond.pre, `if (${cond.expr}) {`, ...a.pre, `${t} = ${a.expr};`, '} else {', ...b.pre, `${t} = ${b.expr};`, '}'],
      expr: t,
      slope,
      safe,
      bool,
    };
  }

  private comparator(op: string): string {
    return `K[${this.constants.push(comparator(op)) - 1}]`;
  }

  private comparison(op: string, left: ASTNode, right: ASTNode): Gen {
    let a = this.gen(left);
    let b = this.gen(right);
    const equality = op === '==' || op === '!=';
    if (a.slope === OPAQUE || b.slope === OPAQUE) {
      a = this.asStatic(a);
      b = this.asStatic(b);
      const { pre, exprs } = this.seq([a, b]);
      return { pre, expr: `${this.comparator(op)}(${exprs[0]}, ${exprs[1]})`, slope: 0, safe: equality && a.safe && b.safe, bool: true };
    }
    const s = a.slope - b.slope;
    const numeric = NUMERIC.has(typeOf(left)) && NUMERIC.has(typeOf(right));
    const { pre, exprs } = this.seq([a, b]);
    const [x, y] = exprs as [string, string];
    const safe = a.safe && b.safe;
    if (s === 0 && numeric) return { pre, expr: numericTest(op, x, y), slope: 0, safe, bool: true };
    if (s === 0) {
      // CEL equality with a scalar constant on either side is strict equality (celEquals's first test).
      if (equality && (isScalarConstant(a) || isScalarConstant(b)))
        return { pre, expr: `(${x} ${op === '==' ? '===' : '!=='} ${y})`, slope: 0, safe, bool: true };
      if (equality) return { pre, expr: `(${op === '==' ? '' : '!'}celEquals(${x}, ${y}))`, slope: 0, safe, bool: true };
      return { pre, expr: `${this.comparator(op)}(${x}, ${y})`, slope: 0, safe: false, bool: true };
    }
    // The difference moves with the clock: the answer flips when it crosses zero (flipAfter, inlined).
    const d = this.tmp();
    const r = this.tmp();
    const cmp = numeric ? undefined : this.comparator(op);
    const pred = (v: string): string => (cmp ? `${cmp}(${v}, 0)` : numericTest(op, v, '0'));
    pre.push(`${d} = ${x} - ${y};`, `${r} = ${pred(d)};`, flipLoop(d, s, r, pred));
    return { pre, expr: r, slope: 0, safe: numeric && safe, bool: true };
  }

  private membership(itemNode: ASTNode, collNode: ASTNode): Gen {
    const itemGen = this.gen(itemNode);
    const collGen = this.gen(collNode);
    const list = collGen.constant?.value;
    if (Array.isArray(list) && list.every(isScalar)) {
      const item = this.asStatic(itemGen);
      if (!list.length) return { pre: item.pre, expr: `(${item.expr}, false)`, slope: 0, safe: item.safe, bool: true };
      const t = this.tmp();
      const tests = list.map((v) => `${t} === ${scalarLiteral(v) ?? notGenerated()}`).join(' || ');
      return { pre: item.pre, expr: `(${t} = ${item.expr}, ${tests})`, slope: 0, safe: item.safe, bool: true };
    }
    const coll = this.asStatic(collGen);
    const key = itemGen.constant ? scalarLiteral(itemGen.constant.value) : undefined;
    if (key !== undefined) {
      const t = this.tmp();
      return {
        pre: coll.pre,
        expr: `(${t} = ${coll.expr}, Array.isArray(${t}) ? ${t}.indexOf(${key}) >= 0 : contains(${t}, ${key}))`,
        slope: 0,
        safe: coll.safe && typeOf(collNode).startsWith('list'),
        bool: true,
      };
    }
    const { pre, exprs } = this.seq([coll, this.asStatic(itemGen)]);
    return { pre, expr: `contains(${exprs[0]}, ${exprs[1]})`, slope: 0, safe: false, bool: true };
  }

  private arithmetic(n: ASTNode, op: '+' | '-', left: ASTNode, right: ASTNode): Gen {
    const type = typeOf(n);
    if (op === '+' && type.startsWith('list')) return notGenerated();
    const a = this.gen(left);
    const b = this.gen(right);
    const slope: Slope = a.slope === OPAQUE || b.slope === OPAQUE ? OPAQUE : op === '+' ? a.slope + b.slope : a.slope - b.slope;
    const { pre, exprs } = this.seq([a, b]);
    const plain = `(${exprs[0]} ${op} ${exprs[1]})`;
    const out = (expr: string, safe: boolean): Gen => ({ pre, expr, slope, safe: safe && a.safe && b.safe, bool: false });
    if (type === 'int') return out(`checkInt${plain}`, false);
    if (type === 'uint') return out(`checkUint${plain}`, false);
    const numeric = NUMERIC.has(typeOf(left)) && NUMERIC.has(typeOf(right));
    if (op === '-') return numeric ? out(plain, true) : out(`minus(${exprs[0]}, ${exprs[1]})`, false);
    if (type === 'string' || type === 'double' || type === TIMESTAMP || type === DURATION) return out(plain, true);
    return out(`plusDyn(${exprs[0]}, ${exprs[1]})`, false);
  }

  /** `*` of ints (overflow checked) or of numbers; other operands run as closures. */
  private product(n: ASTNode, left: ASTNode, right: ASTNode): Gen {
    const type = typeOf(n);
    const int = type === 'int' || type === 'uint';
    if (!int && !(NUMERIC.has(typeOf(left)) && NUMERIC.has(typeOf(right)))) return notGenerated();
    const a = this.asStatic(this.gen(left));
    const b = this.asStatic(this.gen(right));
    const { pre, exprs } = this.seq([a, b]);
    const plain = `(${exprs[0]} * ${exprs[1]})`;
    if (!int) return { pre, expr: plain, slope: 0, safe: a.safe && b.safe, bool: false };
    return { pre, expr: `${type === 'uint' ? 'checkUint' : 'checkInt'}${plain}`, slope: 0, safe: false, bool: false };
  }

  /** The string tests `contains`, `startsWith`, `endsWith` and `matches` with a literal pattern; other methods run as closures. */
  private method(name: string, target: ASTNode, args: ASTNode[]): Gen {
    if (name === 'matches' && args.length === 1) return this.matches(target, args[0]!);
    const js = STRING_TESTS.get(name);
    const type = typeOf(target);
    if (!js || args.length !== 1 || type === TIMESTAMP || type === DURATION) return notGenerated();
    const recv = this.asStatic(this.gen(target));
    const arg = this.asStatic(this.gen(args[0]!));
    const { pre, exprs } = this.seq([recv, arg]);
    return { pre, expr: `(${exprs[0]}).${js}(${exprs[1]})`, slope: 0, safe: recv.safe && arg.safe, bool: true };
  }

  private matches(target: ASTNode, pattern: ASTNode): Gen {
    const lit = stringLiteral(pattern);
    if (lit === undefined) return notGenerated();
    const s = this.asStatic(this.gen(target));
    // compile.ts checked the pattern (its length, its syntax) when the rule compiled.
    const re = `K[${this.constants.push(new RegExp(lit, 'u')) - 1}]`;
    return { pre: s.pre, expr: `${re}.test(${s.expr})`, slope: 0, safe: s.safe, bool: true };
  }

  private call(n: ASTNode, name: string, args: ASTNode[]): Gen {
    if (EVENT_FUNCTIONS.some((f) => f.name === name)) return this.eventCall(name, args);
    const arg = args[0]!;
    switch (name) {
      case 'has': {
        if (arg.op !== '.' || arg.args[0].op !== 'id' || arg.args[0].args !== 'contact') return notGenerated();
        const key = JSON.stringify(arg.args[1]);
        return { pre: [], expr: `(Object.hasOwn(props, ${key}) && props[${key}] !== null)`, slope: 0, safe: true, bool: true };
      }
      case 'tier':
      case 'tier_strict':
        return this.tier(args[0]!, args[1]!, name === 'tier_strict');
      case 'size': {
        const a = this.asStatic(this.gen(arg));
        return { pre: a.pre, expr: `sizeOf(${a.expr})`, slope: 0, safe: false, bool: false };
      }
      case 'dyn':
        return this.gen(arg);
      case 'duration':
        return this.constant(durationLiteral(n) ?? notGenerated());
      case 'timestamp': {
        if (typeOf(arg) === 'int') {
          const a = this.asStatic(this.gen(arg));
          return { pre: a.pre, expr: `(${a.expr} * 1000)`, slope: 0, safe: a.safe, bool: false };
        }
        const lit = stringLiteral(arg);
        return this.constant((lit === undefined ? undefined : parseTimestamp(lit)) ?? notGenerated());
      }
      case 'string': {
        const type = typeOf(arg);
        const a = this.asStatic(this.gen(arg));
        if (type === 'int' || type === 'uint' || type === 'double') return { pre: a.pre, expr: `("" + ${a.expr})`, slope: 0, safe: a.safe, bool: false };
        const convert = type === TIMESTAMP || type === DURATION ? `K[${this.constants.push(celStringOf(type)) - 1}]` : 'toCelString';
        return { pre: a.pre, expr: `${convert}(${a.expr})`, slope: 0, safe: false, bool: false };
      }
      default:
        return notGenerated();
    }
  }

  /** tier() against a constant list of numbers, unrolled; other forms run as closures. */
  private tier(valueNode: ASTNode, thresholdsNode: ASTNode, strict: boolean): Gen {
    const thresholds = this.gen(thresholdsNode).constant?.value;
    if (!Array.isArray(thresholds) || !thresholds.every((t) => typeof t === 'number') || !NUMERIC.has(typeOf(valueNode))) return notGenerated();
    let v = this.gen(valueNode);
    if (v.slope === OPAQUE) v = this.asStatic(v);
    const x = this.tmp();
    const pre = [...v.pre, `${x} = ${v.expr};`];
    const passes = (d: string): string => (strict ? `(${d} > 0)` : `(${d} >= 0)`);
    const s = v.slope as number;
    if (s !== 0) {
      const d = this.tmp();
      const r = this.tmp();
      for (const th of thresholds as number[]) pre.push(`${d} = ${x} - ${scalarLiteral(th)!};`, `${r} = ${passes(d)};`, flipLoop(d, s, r, passes));
    }
    const steps = (thresholds as number[]).map((th) => ` + (${x} ${strict ? '>' : '>='} ${scalarLiteral(th)!})`).join('');
    return { pre, expr: `(1${steps})`, slope: 0, safe: v.safe, bool: false };
  }

  /** Event functions read the shared aggregates at literal offsets, noting when what they read can change. */
  private eventCall(name: string, args: ASTNode[]): Gen {
    const a = eventCallArgs(name, args) ?? notGenerated();
    const plan = this.o.plan;
    const w = num(a.window);
    const windowed = a.window !== Infinity;
    const noEvent = (what: string): string => `fail(${JSON.stringify(`no "${a.events[0]}" event${what}`)})`;
    const value = (expr: string, safe: boolean, bool = false): Gen => ({ pre: [], expr: `(${expr})`, slope: 0, safe, bool });
    switch (name) {
      case 'count': {
        const o = specOffset(plan, a, 'count');
        return value(`${note(`agg[${o + 3}]`)}, ${windowed ? `agg[${o}] > 0 && ${noteSum(`agg[${o + 2}]`, w)}, ` : ''}agg[${o}]`, true);
      }
      case 'exists': {
        const o = specOffset(plan, a, 'count');
        return value(`${note(`agg[${o + 3}]`)}, ${windowed ? `agg[${o}] > 0 && ${noteSum(`agg[${o + 1}]`, w)}, ` : ''}agg[${o}] > 0`, true, true);
      }
      case 'sum':
      case 'avg':
      case 'max':
      case 'min': {
        const o = specOffset(plan, a, name === 'avg' ? 'sum' : name);
        const missing = noEvent(` with "${a.property}"`);
        const read =
          name === 'sum'
            ? `agg[${o}] / 1000000`
            : name === 'avg'
              ? `agg[${o + 1}] > 0 ? agg[${o}] / 1000000 / agg[${o + 1}] : ${missing}`
              : `agg[${o + 1}] > 0 ? agg[${o}] / 1000000 : ${missing}`;
        return value(`${note(`agg[${o + 3}]`)}, ${windowed ? `agg[${o + 1}] > 0 && ${noteSum(`agg[${o + 2}]`, w)}, ` : ''}${read}`, name === 'sum');
      }
      case 'first':
      case 'last': {
        const o = specOffset(plan, a, name);
        const t = this.tmp();
        // Windowed, the answer holds until that very event leaves the window.
        const found = windowed ? `(${noteSum(t, w)}, ${t})` : t;
        return value(`${note(`agg[${o + 3}]`)}, ${t} = agg[${o}], ${t} !== ${t} ? ${noEvent(windowed ? ' in the window' : '')} : ${found}`, false);
      }
      case 'since': {
        const o = specOffset(plan, a, 'last');
        return { ...value(`${note(`agg[${o + 3}]`)}, agg[${o}] === agg[${o}] ? now - agg[${o}] : ${noEvent('')}`, false), slope: 1 };
      }
      case 'score': {
        const o = scoreOffset(plan, a);
        return value(`${note(`agg[${o + 3}]`)}, ${windowed ? `agg[${o + 2}] === agg[${o + 2}] && ${noteSum(`agg[${o + 2}]`, w)}, ` : ''}agg[${o}]`, true);
      }
      case 'after':
      case 'after_strict':
      case 'within':
      case 'within_strict':
      case 'none_within':
      case 'none_within_strict': {
        const strict = name.endsWith('_strict');
        const base = strict ? name.slice(0, -'_strict'.length) : name;
        // X is events[0], Y is events[1]: slots are the first X after the last Y, the last Y.
        const o = sequenceOffset(plan, a.events, strict);
        const seen = note(`agg[${o + 3}]`);
        if (base === 'after') return value(`${seen}, agg[${o}] === agg[${o}]`, true, true);
        if (base === 'within') return value(`${seen}, agg[${o}] <= agg[${o + 1}] + ${w}`, true, true);
        const y = this.tmp();
        // No X within D of the last Y: settled once an X came in time; else it turns true when D has passed.
        return value(
          `${seen}, ${y} = agg[${o + 1}], ${y} !== ${y} ? false : agg[${o}] <= ${y} + ${w} ? false : now < ${y} + ${w} ? (${noteSum(y, w)}, false) : true`,
          true,
          true,
        );
      }
      default:
        return notGenerated();
    }
  }
}

/** CEL string methods generated as the JS method of the same meaning (as compile.ts calls them). */
const STRING_TESTS = new Map([
  ['contains', 'includes'],
  ['startsWith', 'startsWith'],
  ['endsWith', 'endsWith'],
]);

/** A scalar as a JS literal (strings through JSON.stringify, numbers through `num`); undefined for anything else. */
function scalarLiteral(v: unknown): string | undefined {
  if (typeof v === 'number') return v < 0 || Object.is(v, -0) || v === -Infinity ? `(${num(v)})` : num(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean' || v === null) return String(v);
  return undefined;
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function isScalarConstant(g: Gen): boolean {
  return g.constant !== undefined && isScalar(g.constant.value) && scalarLiteral(g.constant.value) !== undefined;
}

/** Records an at-time (a side-effect-free expression) as the segment's next change if it is the earliest. */
function note(at: string): string {
  return `(${at} < nx && (nx = ${at}))`;
}

/** `note(at + w)`. */
function noteSum(at: string, w: string): string {
  return `(${at} + ${w} < nx && (nx = ${at} + ${w}))`;
}

/** A comparison of two numbers, NaN included as compile.ts's numericComparison has it (`>=` is "not less"). */
function numericTest(op: string, a: string, b: string): string {
  switch (op) {
    case '==':
      return `(${a} === ${b})`;
    case '!=':
      return `(${a} !== ${b})`;
    case '<':
      return `(${a} < ${b})`;
    case '<=':
      return `(!(${a} > ${b}))`;
    case '>':
      return `(${a} > ${b})`;
    default:
      return `(!(${a} < ${b}))`;
  }
}

/**
 * compile.ts's flipAfter inlined for a difference `d` moving at `s` per ms whose test is now `r`:
 * notes now + the first step at which `pred` differs (none when it never does).
 */
function flipLoop(d: string, s: number, r: string, pred: (v: string) => string): string {
  const sl = scalarLiteral(s)!;
  return (
    `{ const root = -${d} / ${sl}; if (Number.isFinite(root)) { const base = Math.floor(root); const hi = Math.max(1, base + 2);` +
    ` for (let delta = Math.max(1, base - 1); delta <= hi; delta++) { if (${pred(`(${d} + ${sl} * delta)`)} !== ${r}) { if (now + delta < nx) nx = now + delta; break; } } } }`
  );
}
