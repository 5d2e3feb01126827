/**
 * Compiles a checked CEL AST to plain JS closures. Values inside: numbers for int, double, timestamps
 * (epoch ms) and durations (ms); strings, booleans, null, arrays and null-prototype objects. Event
 * functions read the shared aggregates. Each node also has a static "slope": how fast its value moves
 * with the clock (1 for `now` and `since()`, 0 for most), so comparisons against the clock can say
 * exactly when they will flip. Hand-written because cel-js's interpreter is 4–10× slower per call and
 * knows nothing of aggregates or next-change times (it stays the test oracle).
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import { RuleError } from '../errors';
import type { SourceLocation } from '../errors';
import type { AggSpec, AggregatePlan, FilterScalar } from './aggregates';
import { SLOTS } from './aggregates';
import { durationLiteral, mapLiteral, rolesOf, stringLiteral, typeOf } from './check';
import { FailedValue, OPAQUE_RECHECK_MS, RuleEvalError } from './context';
import type { EvalCtx } from './context';
import { parseDurationText } from './durations';
import { DURATION, EVENT_FUNCTIONS, TIMESTAMP } from './functions';
import type { ParamRole } from './functions';

export type Fn = (c: EvalCtx) => unknown;
export const OPAQUE = 'opaque';
export type Slope = number | typeof OPAQUE;

interface Node {
  fn: Fn;
  slope: Slope;
  /** Set when the node is a constant (a literal): its value, the same on every call. */
  constant?: { value: unknown };
}

export interface CompileOptions {
  plan: AggregatePlan;
  /** Segment name → index into ctx.segments. */
  segmentIndex: ReadonlyMap<string, number>;
  /** Where a node is in the file (for unsupported-construct errors). */
  locate(node: ASTNode): SourceLocation;
  /** Record every node's value in ctx.trace. */
  trace?: boolean;
}

/** Maximum length of a `matches()` pattern: JS regexes can backtrack, so user patterns are kept short. */
const MAX_PATTERN = 200;

const fail = (message: string): never => {
  throw new RuleEvalError(message);
};

/** The literal arguments of an event function call, by role; undefined for a form the checker does not know. */
export interface EventCallArgs {
  roles: ParamRole[];
  events: string[];
  window: number;
  halfLife: number;
  property: string | undefined;
  filter: [string, FilterScalar[]][] | undefined;
  points: [string, number][] | undefined;
}

/** Reads an event function's literal arguments (the checker made sure they are literals). */
export function eventCallArgs(name: string, args: ASTNode[]): EventCallArgs | undefined {
  const fn = EVENT_FUNCTIONS.find((f) => f.name === name)!;
  const roles = rolesOf(fn, args);
  if (!roles) return undefined;
  const out: EventCallArgs = { roles, events: [], window: Infinity, halfLife: Infinity, property: undefined, filter: undefined, points: undefined };
  roles.forEach((role, i) => {
    const arg = args[i]!;
    if (role === 'event') out.events.push(stringLiteral(arg)!);
    else if (role === 'property') out.property = stringLiteral(arg);
    else if (role === 'window') out.window = durationLiteral(arg)!;
    else if (role === 'halfLife') out.halfLife = durationLiteral(arg)!;
    else if (role === 'filter') {
      const filter: [string, FilterScalar[]][] = mapLiteral(arg)!.map(([k, v]) => [k, (Array.isArray(v) ? v : [v]) as FilterScalar[]]);
      filter.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      out.filter = filter;
    } else if (role === 'points') out.points = mapLiteral(arg)!.map(([k, v]) => [k, v as number]);
  });
  return out;
}

/** The offset in the aggregate results of the spec an event call reads (added to the plan, or found there). */
export function specOffset(plan: AggregatePlan, a: EventCallArgs, kind: AggSpec['kind']): number {
  const { events, window, property, filter } = a;
  return plan.add({ kind, events, window, ...(property === undefined ? {} : { property }), ...(filter ? { filter } : {}) }) * SLOTS;
}

/** The offset of a score() call's spec. */
export function scoreOffset(plan: AggregatePlan, a: EventCallArgs): number {
  const list = a.points!;
  return plan.add({ kind: 'score', events: list.map(([e]) => e), points: list.map(([, p]) => p), window: a.window, halfLife: a.halfLife }) * SLOTS;
}

/** The offset of a sequence function's spec (X after Y, optionally with ties not counting). */
export function sequenceOffset(plan: AggregatePlan, events: string[], strict: boolean): number {
  return plan.add({ kind: strict ? 'firstAfterStrict' : 'firstAfter', events: [events[0]!, events[1]!], window: Infinity }) * SLOTS;
}

/**
 * Compiles a checked rule to a closure; an unsupported construct is a RuleError at its position.
 * `continuous`: the answer itself moves with the clock (a value such as `since(E)` or `now - created_at`),
 * so it is rechecked periodically rather than at an exact flip time.
 */
export function compileRule(ast: ASTNode, options: CompileOptions): { fn: Fn; continuous: boolean } {
  const compiler = new Compiler(options);
  const root = compiler.node(ast);
  if (root.slope === 0) return { fn: root.fn, continuous: false };
  const inner = root.fn;
  return {
    fn: (c) => {
      c.next = Math.min(c.next, c.now + OPAQUE_RECHECK_MS);
      return inner(c);
    },
    continuous: true,
  };
}

/**
 * Compiles one sub-expression of a checked rule to a closure and its slope (1: moves with the clock,
 * "opaque": moves in a way no flip time is solved for). The rule-set generator runs what it does not
 * generate itself through this, with the same meaning as inside a whole rule.
 */
export function compileExpression(ast: ASTNode, options: CompileOptions): { fn: Fn; slope: Slope } {
  const { fn, slope } = new Compiler(options).node(ast);
  return { fn, slope };
}

class Compiler {
  private readonly locals = new Map<string, number>();

  constructor(private readonly o: CompileOptions) {}

  private unsupported(n: ASTNode, what: string): never {
    throw new RuleError(`${what} is not supported in segment rules`, {
      location: this.o.locate(n),
      hint: 'see docs/rules.md for the functions and operators rules can use',
    });
  }

  node(n: ASTNode): Node {
    const compiled = this.build(n);
    if (!this.o.trace) return compiled;
    const inner = compiled.fn;
    return {
      slope: compiled.slope,
      fn: (c) => {
        try {
          const v = inner(c);
          c.trace?.set(n, v);
          return v;
        } catch (err) {
          c.trace?.set(n, err instanceof RuleEvalError ? new FailedValue(err) : err);
          throw err;
        }
      },
    };
  }

  /** A child that must not move with the clock unless the parent handles it; otherwise rechecked. */
  private staticChild(n: ASTNode): Fn {
    return this.asStatic(this.node(n));
  }

  /** A compiled child as a time-static value: one that moves with the clock is rechecked periodically. */
  private asStatic(child: Node): Fn {
    if (child.slope === 0) return child.fn;
    const inner = child.fn;
    return (c) => {
      c.next = Math.min(c.next, c.now + OPAQUE_RECHECK_MS);
      return inner(c);
    };
  }

  private build(n: ASTNode): Node {
    switch (n.op) {
      case 'value':
        return constant(literal(n.args, (what) => this.unsupported(n, what)));
      case 'id':
        return this.identifier(n, n.args);
      case '.':
        return this.field(n, n.args[0], n.args[1]);
      case '[]':
        return this.index(n);
      case 'list': {
        const nodes = n.args.map((a) => this.node(a));
        // A list of constants is built once: rules never mutate lists, and `x in [...]` or tier()
        // thresholds would otherwise allocate one per contact.
        if (nodes.every((x) => x.constant)) return constant(nodes.map((x) => x.constant!.value));
        const items = nodes.map((x) => this.asStatic(x));
        return { slope: 0, fn: (c) => items.map((f) => f(c)) };
      }
      case 'map': {
        const entries = n.args.map(([k, v]) => {
          if (typeOf(k) !== 'string') this.unsupported(k, 'a map key that is not a string');
          return [this.staticChild(k), this.staticChild(v)] as const;
        });
        return {
          slope: 0,
          fn: (c) => {
            const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
            for (const [k, v] of entries) out[k(c) as string] = v(c);
            return out;
          },
        };
      }
      case '&&':
      case '||':
        return this.logical(n.op, n.args[0], n.args[1]);
      case '!_': {
        const a = this.staticChild(n.args);
        return { slope: 0, fn: (c) => !(a(c) as boolean) };
      }
      case '-_': {
        const a = this.node(n.args);
        const f = a.fn;
        return { slope: a.slope === OPAQUE ? OPAQUE : -a.slope, fn: (c) => -(f(c) as number) };
      }
      case '?:': {
        const cond = this.staticChild(n.args[0]);
        const a = this.node(n.args[1]);
        const b = this.node(n.args[2]);
        const fa = a.fn;
        const fb = b.fn;
        if (a.slope === b.slope) return { slope: a.slope, fn: (c) => ((cond(c) as boolean) ? fa(c) : fb(c)) };
        const sa = this.asStatic(a);
        const sb = this.asStatic(b);
        return { slope: 0, fn: (c) => ((cond(c) as boolean) ? sa(c) : sb(c)) };
      }
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.comparison(n.op, n.args[0], n.args[1]);
      case 'in': {
        const itemNode = this.node(n.args[0]);
        const item = this.asStatic(itemNode);
        const collNode = this.node(n.args[1]);
        const list = collNode.constant?.value;
        // Against a constant list of scalars, or for a scalar literal (`"vip" in tags`), CEL equality
        // is strict equality: indexOf (NaN equals nothing either way).
        if (Array.isArray(list) && list.every(isScalar)) return { slope: 0, fn: (c) => list.indexOf(item(c)) >= 0 };
        const coll = this.asStatic(collNode);
        const key = itemNode.constant?.value;
        if (itemNode.constant && isScalar(key)) {
          return {
            slope: 0,
            fn: (c) => {
              const v = coll(c);
              return Array.isArray(v) ? v.indexOf(key) >= 0 : contains(v, key);
            },
          };
        }
        return { slope: 0, fn: (c) => contains(coll(c), item(c)) };
      }
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
        return this.arithmetic(n, n.op, n.args[0], n.args[1]);
      case 'call':
        return this.call(n, n.args[0], n.args[1]);
      case 'rcall':
        return this.method(n, n.args[0], n.args[1], n.args[2]);
      default:
        return this.unsupported(n, `the operator ${n.op}`);
    }
  }

  private identifier(n: ASTNode, name: string): Node {
    const slot = this.locals.get(name);
    if (slot !== undefined) return { slope: 0, fn: (c) => c.locals[slot] };
    switch (name) {
      case 'now':
        return { slope: 1, fn: (c) => c.now };
      case 'contact':
        return { slope: 0, fn: (c) => c.contact.properties };
      case 'email':
        return { slope: 0, fn: (c) => c.contact.email };
      case 'tags':
        return { slope: 0, fn: (c) => c.contact.tags };
      case 'consent':
        return { slope: 0, fn: (c) => c.contact.consent };
      case 'created_at':
        return { slope: 0, fn: (c) => c.contact.createdAt };
      default:
        return this.unsupported(n, `the variable ${name}`);
    }
  }

  private field(n: ASTNode, target: ASTNode, name: string): Node {
    if (target.op === 'id' && target.args === 'segments' && !this.locals.has('segments')) {
      const index = this.o.segmentIndex.get(name);
      if (index === undefined) return this.unsupported(n, `segments.${name}`);
      return {
        slope: 0,
        fn: (c) => {
          const at = c.segmentNext[index]!;
          if (at < c.next) c.next = at;
          const v = c.segments[index];
          if (v instanceof FailedValue) throw v.error;
          return v;
        },
      };
    }
    if (target.op === 'id' && target.args === 'contact' && !this.locals.has('contact')) {
      return { slope: 0, fn: (c) => (Object.hasOwn(c.contact.properties, name) ? c.contact.properties[name] : null) };
    }
    const obj = this.staticChild(target);
    return { slope: 0, fn: (c) => getKey(obj(c), name) };
  }

  private index(n: ASTNode): Node {
    const [target, key] = n.args as [ASTNode, ASTNode];
    if (target.op === 'id' && target.args === 'contact' && !this.locals.has('contact')) {
      const k = this.staticChild(key);
      return {
        slope: 0,
        fn: (c) => {
          const name = k(c);
          if (typeof name !== 'string') return fail('contact properties are indexed by strings');
          return Object.hasOwn(c.contact.properties, name) ? c.contact.properties[name] : null;
        },
      };
    }
    const obj = this.staticChild(target);
    const k = this.staticChild(key);
    return {
      slope: 0,
      fn: (c) => {
        const o = obj(c);
        const i = k(c);
        if (Array.isArray(o)) {
          if (typeof i !== 'number' || !Number.isInteger(i)) return fail('list index must be an int');
          if (i < 0 || i >= o.length) return fail(`index ${i} out of range`);
          return o[i];
        }
        if (typeof i !== 'string') return fail('map keys are strings');
        return getKey(o, i);
      },
    };
  }

  private logical(op: '&&' | '||', left: ASTNode, right: ASTNode): Node {
    const a = this.staticChild(left);
    const b = this.staticChild(right);
    // CEL's commutative logic: an error on one side is absorbed when the other side decides.
    const decisive = op === '||';
    return {
      slope: 0,
      fn: (c) => {
        let err: unknown;
        try {
          if (a(c) === decisive) return decisive;
        } catch (e) {
          if (!(e instanceof RuleEvalError)) throw e;
          err = e;
        }
        if (b(c) === decisive) return decisive;
        if (err) throw err;
        return !decisive;
      },
    };
  }

  private comparison(op: string, left: ASTNode, right: ASTNode): Node {
    const a = this.node(left);
    const b = this.node(right);
    const cmp = comparator(op);
    if (a.slope === OPAQUE || b.slope === OPAQUE) {
      const fa = this.asStatic(a);
      const fb = this.asStatic(b);
      return { slope: 0, fn: (c) => cmp(fa(c), fb(c)) };
    }
    const fa = a.fn;
    const fb = b.fn;
    const s = a.slope - b.slope;
    const numeric = NUMERIC.has(typeOf(left)) && NUMERIC.has(typeOf(right));
    if (s === 0 && numeric) return { slope: 0, fn: numericComparison(op, fa, fb) };
    if (s === 0) return { slope: 0, fn: (c) => cmp(fa(c), fb(c)) };
    const pred = numeric ? signTest(op) : (x: number): boolean => cmp(x, 0);
    return {
      slope: 0,
      fn: (c) => {
        const va = fa(c) as number;
        const vb = fb(c) as number;
        const d = va - vb;
        const now = pred(d);
        const flip = flipAfter(pred, d, s, now);
        note(c, c.now + flip);
        return now;
      },
    };
  }

  private arithmetic(n: ASTNode, op: '+' | '-' | '*' | '/' | '%', left: ASTNode, right: ASTNode): Node {
    const a = this.node(left);
    const b = this.node(right);
    const type = typeOf(n);
    if (op === '+' || op === '-') {
      const slope: Slope = a.slope === OPAQUE || b.slope === OPAQUE ? OPAQUE : op === '+' ? a.slope + b.slope : a.slope - b.slope;
      const fa = a.fn;
      const fb = b.fn;
      if (op === '-') {
        if (type === 'int') return { slope, fn: (c) => checkInt((fa(c) as number) - (fb(c) as number)) };
        if (type === 'uint') return { slope, fn: (c) => checkUint((fa(c) as number) - (fb(c) as number)) };
        if (NUMERIC.has(typeOf(left)) && NUMERIC.has(typeOf(right))) return { slope, fn: (c) => (fa(c) as number) - (fb(c) as number) };
        return { slope, fn: (c) => minus(fa(c), fb(c)) };
      }
      if (type === 'string') return { slope, fn: (c) => (fa(c) as string) + (fb(c) as string) };
      if (type.startsWith('list')) return { slope, fn: (c) => [...(fa(c) as unknown[]), ...(fb(c) as unknown[])] };
      if (type === 'int') return { slope, fn: (c) => checkInt((fa(c) as number) + (fb(c) as number)) };
      if (type === 'uint') return { slope, fn: (c) => checkUint((fa(c) as number) + (fb(c) as number)) };
      if (type === 'double' || type === TIMESTAMP || type === DURATION) return { slope, fn: (c) => (fa(c) as number) + (fb(c) as number) };
      return { slope, fn: (c) => plusDyn(fa(c), fb(c)) };
    }
    const fa = this.asStatic(a);
    const fb = this.asStatic(b);
    const int = type === 'int' || type === 'uint';
    const check = type === 'uint' ? checkUint : checkInt;
    switch (op) {
      case '*':
        return { slope: 0, fn: int ? (c) => check((fa(c) as number) * (fb(c) as number)) : (c) => times(fa(c), fb(c)) };
      case '/':
        return {
          slope: 0,
          fn: int
            ? (c) => {
                const d = fb(c) as number;
                if (d === 0) return fail('division by zero');
                return check(Math.trunc((fa(c) as number) / d));
              }
            : (c) => divide(fa(c), fb(c)),
        };
      default:
        return {
          slope: 0,
          fn: (c) => {
            const [x, d] = numbers(fa(c), fb(c), '%');
            if (d === 0) return fail('modulus by zero');
            return x % d;
          },
        };
    }
  }

  private call(n: ASTNode, name: string, args: ASTNode[]): Node {
    const fn = EVENT_FUNCTIONS.find((f) => f.name === name);
    if (fn) return this.eventCall(n, name, args);
    const arg = args[0];
    switch (name) {
      case 'has':
        return this.has(n, args[0]!);
      case 'tier':
        return this.tier(args[0]!, args[1]!, false);
      case 'tier_strict':
        return this.tier(args[0]!, args[1]!, true);
      case 'size': {
        const f = this.staticChild(arg!);
        return { slope: 0, fn: (c) => sizeOf(f(c)) };
      }
      case 'dyn': {
        return this.node(arg!);
      }
      case 'duration': {
        const ms = durationLiteral(n);
        if (ms !== undefined) return constant(ms);
        const f = this.staticChild(arg!);
        return { slope: 0, fn: (c) => parseDurationText(f(c) as string) ?? fail(`invalid duration "${String(f(c))}"`) };
      }
      case 'timestamp': {
        const f = this.staticChild(arg!);
        if (typeOf(arg!) === 'int') return { slope: 0, fn: (c) => (f(c) as number) * 1000 };
        const lit = stringLiteral(arg!);
        if (lit !== undefined) {
          const ms = parseTimestamp(lit);
          if (ms === undefined)
            throw new RuleError(`invalid timestamp "${lit}"`, { location: this.o.locate(arg!), hint: 'use RFC 3339, e.g. "2026-01-31T00:00:00Z"' });
          return constant(ms);
        }
        return { slope: 0, fn: (c) => parseTimestamp(f(c) as string) ?? fail(`invalid timestamp "${String(f(c))}"`) };
      }
      case 'string':
        return this.convert(arg!, celStringOf(typeOf(arg!)));
      case 'int':
        return this.convert(arg!, intOf(typeOf(arg!)));
      case 'double':
        return this.convert(arg!, (v) => toDouble(v));
      case 'bool':
        return this.convert(arg!, (v) => toBool(v));
      case 'matches':
        return this.matches(args[0]!, args[1]!);
      default:
        return this.unsupported(n, `the function ${name}()`);
    }
  }

  private convert(arg: ASTNode, f: (v: unknown) => unknown): Node {
    const a = this.staticChild(arg);
    return { slope: 0, fn: (c) => f(a(c)) };
  }

  private has(n: ASTNode, arg: ASTNode): Node {
    if (arg.op !== '.') return this.unsupported(n, 'has() of anything but a field');
    const [target, name] = arg.args;
    if (target.op === 'id' && target.args === 'contact' && !this.locals.has('contact')) {
      return { slope: 0, fn: (c) => Object.hasOwn(c.contact.properties, name) && c.contact.properties[name] !== null };
    }
    const obj = this.staticChild(target);
    return {
      slope: 0,
      fn: (c) => {
        const o = obj(c);
        if (o === null || typeof o !== 'object' || Array.isArray(o)) return fail(`has() needs a map, got ${kindOf(o)}`);
        return Object.hasOwn(o, name);
      },
    };
  }

  private tier(valueNode: ASTNode, thresholdsNode: ASTNode, strict: boolean): Node {
    const v = this.node(valueNode);
    const ts = this.staticChild(thresholdsNode);
    const fv = v.fn;
    const passes = strict ? (d: number): boolean => d > 0 : reached;
    const tierOf = (x: unknown, list: unknown[]): number => {
      let t = 1;
      for (const th of list) {
        if (typeof th !== typeof x || (typeof x !== 'number' && typeof x !== 'string')) fail('tier() compares numbers, durations or strings of one kind');
        if (strict ? (x as number) > (th as number) : (x as number) >= (th as number)) t++;
      }
      return t;
    };
    if (v.slope === OPAQUE) {
      const fs = this.asStatic(v);
      return { slope: 0, fn: (c) => tierOf(fs(c), ts(c) as unknown[]) };
    }
    const s = v.slope;
    return {
      slope: 0,
      fn: (c) => {
        const x = fv(c);
        const list = ts(c) as unknown[];
        const t = tierOf(x, list);
        if (s !== 0) {
          for (const th of list) {
            const d = (x as number) - (th as number);
            const flip = flipAfter(passes, d, s, passes(d));
            if (c.now + flip < c.next) c.next = c.now + flip;
          }
        }
        return t;
      },
    };
  }

  private matches(target: ASTNode, pattern: ASTNode): Node {
    const s = this.staticChild(target);
    const lit = stringLiteral(pattern);
    if (lit !== undefined) {
      const re = this.regex(lit, pattern);
      return { slope: 0, fn: (c) => re.test(s(c) as string) };
    }
    const p = this.staticChild(pattern);
    const cache = new Map<string, RegExp>();
    return {
      slope: 0,
      fn: (c) => {
        const src = p(c) as string;
        let re = cache.get(src);
        if (!re) {
          if (src.length > MAX_PATTERN) fail(`matches(): pattern longer than ${MAX_PATTERN} characters`);
          try {
            re = new RegExp(src, 'u');
          } catch {
            return fail(`matches(): invalid pattern ${JSON.stringify(src)}`);
          }
          cache.set(src, re);
        }
        return re.test(s(c) as string);
      },
    };
  }

  private regex(src: string, at: ASTNode): RegExp {
    if (src.length > MAX_PATTERN) throw new RuleError(`matches(): pattern longer than ${MAX_PATTERN} characters`, { location: this.o.locate(at) });
    try {
      return new RegExp(src, 'u');
    } catch (err) {
      throw new RuleError(`matches(): invalid pattern: ${(err as Error).message}`, {
        location: this.o.locate(at),
        hint: 'patterns are JavaScript regular expressions',
      });
    }
  }

  private method(n: ASTNode, name: string, target: ASTNode, args: ASTNode[]): Node {
    if (['exists', 'all', 'exists_one', 'map', 'filter'].includes(name)) return this.comprehension(n, name, target, args);
    const recvType = typeOf(target);
    if (name === 'matches' && args.length === 1) return this.matches(target, args[0]!);
    const r = this.node(target);
    const recv = this.asStatic(r);
    const a = args.map((x) => this.staticChild(x));
    const a0 = a[0];
    if (recvType === TIMESTAMP || recvType === DURATION) {
      if (args.length) return this.unsupported(n, `${name}() with a time zone`);
      const getter = recvType === TIMESTAMP ? timestampGetter(name) : durationGetter(name);
      if (!getter) return this.unsupported(n, `the method ${name}()`);
      const fr = r.fn;
      // A clock-driven receiver (now.getHours()) changes continuously: recheck periodically.
      const f: Fn = r.slope === 0 ? (c) => getter(fr(c) as number) : (c) => getter(recv(c) as number);
      return { slope: 0, fn: f };
    }
    switch (name) {
      case 'size':
        return { slope: 0, fn: (c) => sizeOf(recv(c)) };
      case 'contains':
        return { slope: 0, fn: (c) => (recv(c) as string).includes(a0!(c) as string) };
      case 'startsWith':
        return { slope: 0, fn: (c) => (recv(c) as string).startsWith(a0!(c) as string) };
      case 'endsWith':
        return { slope: 0, fn: (c) => (recv(c) as string).endsWith(a0!(c) as string) };
      case 'lowerAscii':
        return { slope: 0, fn: (c) => (recv(c) as string).replace(/[A-Z]/g, (ch) => ch.toLowerCase()) };
      case 'upperAscii':
        return { slope: 0, fn: (c) => (recv(c) as string).replace(/[a-z]/g, (ch) => ch.toUpperCase()) };
      default:
        return this.unsupported(n, `the method ${name}()`);
    }
  }

  private comprehension(n: ASTNode, name: string, target: ASTNode, args: ASTNode[]): Node {
    const iterVar = args[0];
    if (!iterVar || iterVar.op !== 'id') return this.unsupported(n, `${name}() without a variable`);
    const coll = this.staticChild(target);
    const slot = this.locals.size;
    const shadowed = this.locals.get(iterVar.args);
    this.locals.set(iterVar.args, slot);
    const rest = args.slice(1).map((x) => this.staticChild(x));
    if (shadowed === undefined) this.locals.delete(iterVar.args);
    else this.locals.set(iterVar.args, shadowed);
    const [p, q] = rest;
    const items = (c: EvalCtx): unknown[] => {
      const v = coll(c);
      if (Array.isArray(v)) return v;
      if (v !== null && typeof v === 'object') return Object.keys(v);
      return fail(`${name}() needs a list or map, got ${kindOf(v)}`);
    };
    const pred = (c: EvalCtx, item: unknown, f: Fn): unknown => {
      c.locals[slot] = item;
      return f(c);
    };
    switch (name) {
      case 'exists':
      case 'all': {
        const want = name === 'exists';
        return {
          slope: 0,
          fn: (c) => {
            let err: unknown;
            for (const item of items(c)) {
              try {
                if (pred(c, item, p!) === want) return want;
              } catch (e) {
                if (!(e instanceof RuleEvalError)) throw e;
                err ??= e;
              }
            }
            if (err) throw err;
            return !want;
          },
        };
      }
      case 'exists_one':
        return { slope: 0, fn: (c) => items(c).filter((item) => pred(c, item, p!) === true).length === 1 };
      case 'filter':
        return { slope: 0, fn: (c) => items(c).filter((item) => pred(c, item, p!) === true) };
      default:
        if (q)
          return {
            slope: 0,
            fn: (c) =>
              items(c)
                .filter((item) => pred(c, item, p!) === true)
                .map((item) => pred(c, item, q)),
          };
        return { slope: 0, fn: (c) => items(c).map((item) => pred(c, item, p!)) };
    }
  }

  private eventCall(n: ASTNode, name: string, args: ASTNode[]): Node {
    const parsed = eventCallArgs(name, args);
    if (!parsed) return this.unsupported(n, `this form of ${name}()`);
    const { roles, events, window, property, filter } = parsed;
    const plan = this.o.plan;
    const spec = (kind: AggSpec['kind']): number => specOffset(plan, parsed, kind);
    const noEvent = (what: string): never => fail(`no "${events[0]}" event${what}`);
    const w = window;
    const windowed = w !== Infinity;
    // Each reader notes when what it read can next change: slot 3 (future events, halvings) and,
    // for windows, the exit of the counted event that matters to it.
    switch (name) {
      case 'count': {
        const o = spec('count');
        if (!windowed) return { slope: 0, fn: (c) => (note(c, c.agg[o + 3]!), c.agg[o]!) };
        return { slope: 0, fn: (c) => (note(c, c.agg[o + 3]!), c.agg[o]! > 0 && note(c, c.agg[o + 2]! + w), c.agg[o]!) };
      }
      case 'exists': {
        const o = spec('count');
        // exists() changes when the newest counted event leaves, not the oldest.
        if (!windowed) return { slope: 0, fn: (c) => (note(c, c.agg[o + 3]!), c.agg[o]! > 0) };
        return { slope: 0, fn: (c) => (note(c, c.agg[o + 3]!), c.agg[o]! > 0 && note(c, c.agg[o + 1]! + w), c.agg[o]! > 0) };
      }
      case 'sum':
      case 'avg':
      case 'max':
      case 'min': {
        const o = spec(name === 'avg' ? 'sum' : name);
        const read: (c: EvalCtx) => number =
          name === 'sum'
            ? (c) => c.agg[o]! / 1e6
            : name === 'avg'
              ? (c) => (c.agg[o + 1]! > 0 ? c.agg[o]! / 1e6 / c.agg[o + 1]! : noEvent(` with "${property}"`))
              : (c) => (c.agg[o + 1]! > 0 ? c.agg[o]! / 1e6 : noEvent(` with "${property}"`));
        if (!windowed) return { slope: 0, fn: (c) => (note(c, c.agg[o + 3]!), read(c)) };
        return { slope: 0, fn: (c) => (note(c, c.agg[o + 3]!), c.agg[o + 1]! > 0 && note(c, c.agg[o + 2]! + w), read(c)) };
      }
      case 'first':
      case 'last': {
        const o = spec(name);
        // Windowed, the answer holds until that very event leaves the window.
        return {
          slope: 0,
          fn: (c) => {
            note(c, c.agg[o + 3]!);
            const t = c.agg[o]!;
            if (t !== t) return noEvent(windowed ? ' in the window' : '');
            if (windowed) note(c, t + w);
            return t;
          },
        };
      }
      case 'since': {
        const o = spec('last');
        return { slope: 1, fn: (c) => (note(c, c.agg[o + 3]!), c.agg[o] === c.agg[o] ? c.now - c.agg[o]! : noEvent('')) };
      }
      case 'score': {
        const o = scoreOffset(plan, parsed);
        if (!windowed) return { slope: 0, fn: (c) => (note(c, c.agg[o + 3]!), c.agg[o]!) };
        return { slope: 0, fn: (c) => (note(c, c.agg[o + 3]!), c.agg[o + 2] === c.agg[o + 2] && note(c, c.agg[o + 2]! + w), c.agg[o]!) };
      }
      case 'count_since':
      case 'count_since_strict':
        return this.countSince(args, roles, events[0]!, filter, name === 'count_since_strict');
      case 'after':
      case 'after_strict':
      case 'within':
      case 'within_strict':
      case 'none_within':
      case 'none_within_strict': {
        // X is events[0], Y is events[1].
        const strict = name.endsWith('_strict');
        const fa = sequenceOffset(plan, events, strict);
        const d = window;
        const base = strict ? name.slice(0, -'_strict'.length) : name;
        if (base === 'after') return { slope: 0, fn: (c) => (note(c, c.agg[fa + 3]!), c.agg[fa] === c.agg[fa]) };
        if (base === 'within') return { slope: 0, fn: (c) => (note(c, c.agg[fa + 3]!), c.agg[fa]! <= c.agg[fa + 1]! + d) };
        return {
          slope: 0,
          fn: (c) => {
            note(c, c.agg[fa + 3]!);
            const lastY = c.agg[fa + 1]!;
            if (lastY !== lastY) return false;
            const closes = lastY + d;
            // An X already came within D: settled, whatever the clock does.
            if (c.agg[fa]! <= closes) return false;
            if (c.now < closes) {
              note(c, closes);
              return false;
            }
            return true;
          },
        };
      }
      default:
        // A function the checker knows but no branch here compiles: an error, never some other function's meaning.
        return this.unsupported(n, `the event function ${name}()`);
    }
  }

  /**
   * count_since(E, T [, F]): T is computed by the rule (e.g. `first("Viewed Product", 48h)`), so this
   * is no shared aggregate: it scans the contact's events of that name. A count spec with the same
   * name and filter is registered so the event cache keeps the filtered property, and its slot 3
   * says when a future-dated event arrives.
   */
  private countSince(args: ASTNode[], roles: ParamRole[], event: string, filter: [string, FilterScalar[]][] | undefined, strict: boolean): Node {
    const plan = this.o.plan;
    const o = plan.add({ kind: 'count', events: [event], window: Infinity, ...(filter ? { filter } : {}) }) * SLOTS;
    const from = this.staticChild(args[roles.indexOf('time')]!);
    const code = plan.nameCode(event);
    const tests = (filter ?? []).map(([prop, values]): [number, Set<number>] => {
      const col = plan.categoricalProps.indexOf(prop);
      return [col, new Set(values.map((v) => plan.encode(col, v)))];
    });
    return {
      slope: 0,
      fn: (c) => {
        note(c, c.agg[o + 3]!);
        const t0 = from(c) as number;
        const { names, times, categorical } = c.cols;
        let n = 0;
        for (let i = c.start; i < c.end; i++) {
          const t = times[i]!;
          if (t > c.now) break;
          if (names[i] !== code || (strict ? t <= t0 : t < t0)) continue;
          if (tests.every(([col, codes]) => codes.has(categorical[col]![i]!))) n++;
        }
        return n;
      },
    };
  }
}

/** Records that what a rule read can change at `at` (the earliest such time wins). */
function note(c: EvalCtx, at: number): true {
  if (at < c.next) c.next = at;
  return true;
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function constant(v: unknown): Node {
  return { slope: 0, fn: () => v, constant: { value: v } };
}

/** A literal's runtime value (integers as JS numbers); `unsupported` for bytes and integers beyond ±2^53. */
export function literal(v: unknown, unsupported: (what: string) => never): unknown {
  if (v instanceof Uint8Array) return unsupported('a bytes literal');
  const big = typeof v === 'bigint' ? v : v !== null && typeof v === 'object' && 'value' in v ? (v as { value: bigint }).value : undefined;
  if (big === undefined) return v;
  // Integers are JS numbers inside: exact up to 2^53, which covers counts, money in minor units and times.
  if (!Number.isSafeInteger(Number(big))) return unsupported('an integer literal beyond ±2^53');
  return Number(big);
}

/** An int result, or a RuleEvalError when it left the exactly representable range. */
export function checkInt(n: number): number {
  return Number.isSafeInteger(n) ? n : fail('integer overflow');
}

/** A uint result, or a RuleEvalError when negative or beyond 2^53. */
export function checkUint(n: number): number {
  return Number.isSafeInteger(n) && n >= 0 ? n : fail('unsigned integer overflow');
}

function numbers(a: unknown, b: unknown, op: string): [number, number] {
  if (typeof a !== 'number' || typeof b !== 'number') return fail(`no such overload: ${kindOf(a)} ${op} ${kindOf(b)}`);
  return [a, b];
}

/** `a - b` for values of types only known at run time. */
export function minus(a: unknown, b: unknown): number {
  const [x, y] = numbers(a, b, '-');
  return x - y;
}

function times(a: unknown, b: unknown): number {
  const [x, y] = numbers(a, b, '*');
  return x * y;
}

function divide(a: unknown, b: unknown): number {
  const [x, y] = numbers(a, b, '/');
  return x / y;
}

/** `a + b` for values of types only known at run time: numbers, strings or lists. */
export function plusDyn(a: unknown, b: unknown): unknown {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  return fail(`no such overload: ${kindOf(a)} + ${kindOf(b)}`);
}

/** The kind of a runtime value, for messages. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'map';
  if (typeof v === 'number') return 'number';
  return typeof v;
}

/** `o.key` for a map known only at run time; a missing key is a RuleEvalError. */
export function getKey(o: unknown, key: string): unknown {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return fail(`cannot read "${key}" of ${kindOf(o)}`);
  if (!Object.hasOwn(o, key)) return fail(`no such key: ${key}`);
  return (o as Record<string, unknown>)[key];
}

/** CEL equality: by value, lists and maps deeply; values of different kinds are unequal. */
export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => celEquals(x, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && celEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** CEL `item in coll` for a list or map known only at run time. */
export function contains(coll: unknown, item: unknown): boolean {
  if (Array.isArray(coll)) {
    for (let i = 0; i < coll.length; i++) if (celEquals(coll[i], item)) return true;
    return false;
  }
  if (coll !== null && typeof coll === 'object') return typeof item === 'string' && Object.hasOwn(coll, item);
  return fail(`"in" needs a list or map, got ${kindOf(coll)}`);
}

/** The CEL comparison `op` for values of any kind (ordering across kinds is a RuleEvalError). */
export function comparator(op: string): (a: unknown, b: unknown) => boolean {
  const order = (a: unknown, b: unknown): number => {
    if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string' && typeof a !== 'boolean')) {
      return fail(`no such overload: ${kindOf(a)} ${op} ${kindOf(b)}`);
    }
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  };
  switch (op) {
    case '==':
      return celEquals;
    case '!=':
      return (a, b) => !celEquals(a, b);
    case '<':
      return (a, b) => order(a, b) < 0;
    case '<=':
      return (a, b) => order(a, b) <= 0;
    case '>':
      return (a, b) => order(a, b) > 0;
    default:
      return (a, b) => order(a, b) >= 0;
  }
}

/** Static types whose values are always JS numbers. */
export const NUMERIC = new Set(['int', 'uint', 'double', TIMESTAMP, DURATION]);

/**
 * A comparison of two numbers without the type checks of `comparator` (the hot case: counts, sums
 * and times against literals). Same answers, NaN included: `>=` is "not less", as `order` has it.
 */
function numericComparison(op: string, fa: Fn, fb: Fn): Fn {
  switch (op) {
    case '==':
      return (c) => fa(c) === fb(c);
    case '!=':
      return (c) => fa(c) !== fb(c);
    case '<':
      return (c) => (fa(c) as number) < (fb(c) as number);
    case '<=':
      return (c) => !((fa(c) as number) > (fb(c) as number));
    case '>':
      return (c) => (fa(c) as number) > (fb(c) as number);
    default:
      return (c) => !((fa(c) as number) < (fb(c) as number));
  }
}

/** `comparator(op)(x, 0)` for a number x, without the type checks. */
function signTest(op: string): (x: number) => boolean {
  switch (op) {
    case '==':
      return (x) => x === 0;
    case '!=':
      return (x) => x !== 0;
    case '<':
      return (x) => x < 0;
    case '<=':
      return (x) => !(x > 0);
    case '>':
      return (x) => x > 0;
    default:
      return (x) => !(x < 0);
  }
}

const reached = (y: number): boolean => y >= 0;

/**
 * For a value that moves linearly (x = d + s·Δ after Δ ms), the smallest Δ ≥ 1 at which `pred`
 * differs from `current`; Infinity when it never does. Monotone, so only the steps around the
 * root can flip.
 */
export function flipAfter(pred: (x: number) => boolean, d: number, s: number, current: boolean): number {
  const root = -d / s;
  if (!Number.isFinite(root)) return Infinity;
  const base = Math.floor(root);
  for (let delta = Math.max(1, base - 1); delta <= Math.max(1, base + 2); delta++) {
    if (pred(d + s * delta) !== current) return delta;
  }
  return Infinity;
}

/** CEL size(): characters of a string, items of a list or map. */
export function sizeOf(v: unknown): number {
  if (typeof v === 'string') return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  return fail(`size() of ${kindOf(v)}`);
}

/** Parses an RFC 3339 timestamp to epoch ms. */
export function parseTimestamp(s: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}

// The converters are chosen by the argument's static type when compiling, not per call: the type
// names are imports, which tsx reads through getters, and a full recompute converts millions of values.
export function celStringOf(type: string): (v: unknown) => string {
  if (type === TIMESTAMP) return (v) => new Date(v as number).toISOString().replace('.000Z', 'Z');
  if (type === DURATION) return (v) => `${(v as number) / 1000}s`;
  return toCelString;
}

/** CEL string() of a scalar. */
export function toCelString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fail(`cannot convert ${kindOf(v)} to string`);
}

function intOf(type: string): (v: unknown) => number {
  return type === TIMESTAMP ? (v) => Math.floor((v as number) / 1000) : toInt;
}

function toInt(v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return fail('cannot convert a non-finite double to int');
    return checkInt(Math.trunc(v));
  }
  if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) return checkInt(Number(v));
  return fail(`cannot convert ${JSON.stringify(v)} to int`);
}

const TRUE_STRINGS = new Set(['1', 't', 'true', 'TRUE', 'True']);
const FALSE_STRINGS = new Set(['0', 'f', 'false', 'FALSE', 'False']);

function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && TRUE_STRINGS.has(v)) return true;
  if (typeof v === 'string' && FALSE_STRINGS.has(v)) return false;
  return fail(`cannot convert ${JSON.stringify(v)} to bool`);
}

function toDouble(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return fail(`cannot convert ${JSON.stringify(v)} to double`);
}

function timestampGetter(name: string): ((ms: number) => number) | undefined {
  const d = (ms: number): Date => new Date(ms);
  switch (name) {
    case 'getFullYear':
      return (ms) => d(ms).getUTCFullYear();
    case 'getMonth':
      return (ms) => d(ms).getUTCMonth();
    case 'getDayOfMonth':
      return (ms) => d(ms).getUTCDate() - 1;
    case 'getDate':
      return (ms) => d(ms).getUTCDate();
    case 'getDayOfWeek':
      return (ms) => d(ms).getUTCDay();
    case 'getDayOfYear':
      return (ms) => Math.floor((ms - Date.UTC(d(ms).getUTCFullYear(), 0, 1)) / 86_400_000);
    case 'getHours':
      return (ms) => d(ms).getUTCHours();
    case 'getMinutes':
      return (ms) => d(ms).getUTCMinutes();
    case 'getSeconds':
      return (ms) => d(ms).getUTCSeconds();
    case 'getMilliseconds':
      return (ms) => d(ms).getUTCMilliseconds();
    default:
      return undefined;
  }
}

function durationGetter(name: string): ((ms: number) => number) | undefined {
  switch (name) {
    case 'getHours':
      return (ms) => Math.trunc(ms / 3_600_000);
    case 'getMinutes':
      return (ms) => Math.trunc(ms / 60_000);
    case 'getSeconds':
      return (ms) => Math.trunc(ms / 1000);
    case 'getMilliseconds':
      return (ms) => Math.trunc(ms % 1000);
    default:
      return undefined;
  }
}
