/**
 * HubSpot HubL on nunjucks, configured as template-dialects.md §3.2 measured: no autoescape, an
 * `unless` tag, `personalization_token()`, HubSpot's expression tests and filters, and a pre-pass that
 * puts test arguments in parentheses (`is string_containing '@x'` → `is string_containing('@x')`).
 * The parsed nunjucks AST is transformed before it is compiled: conditions get HubL truthiness
 * (`[]`, `{}` and the string "false" are false; `and`/`or` return an operand, as in Jinja), every
 * branch of `if`/`elif`/`else`/`unless`/`for…else` records itself with the tag's line, and printed
 * values report when they are undefined.
 */
import { createHash } from 'node:crypto';
import nunjucks from 'nunjucks';
import { strftime, toDate } from './dates';
import type { CompiledTemplate, ConditionUse, ConditionalBlock, Dialect, RenderResult, ScenarioData, TemplateAnalysis } from './dialect';
import { labelOf, positionOf, templateError } from './located';
import { nestingError } from './nesting';
import type { ScannedTag } from './nesting';
import { scopedPath } from './loops';
import type { LoopScope } from './loops';
import { RenderRecorder, activeRecorder, withRecorder } from './recorder';
import { deepMerge, isPlainObject, profileFields } from './shape';

/** The slice of nunjucks's (untyped) AST API this module uses. */
interface NjNode {
  typename: string;
  lineno: number;
  colno: number;
  fields: string[];
  children?: NjNode[];
  value?: unknown;
  [k: string]: unknown;
}
type NodeCtor = new (lineno: number, colno: number, ...fields: unknown[]) => NjNode;
interface NjInternals {
  nodes: Record<string, NodeCtor>;
  parser: { parse(src: string, extensions: unknown[], opts: unknown): NjNode };
  compiler: { Compiler: new (name: string, throwOnUndefined: boolean) => { compile(ast: NjNode): void; getCode(): string } };
}
const nj = nunjucks as unknown as NjInternals & typeof nunjucks;
const N = nj.nodes;

/** HubL truthiness (jinjava ObjectTruthValue): null, 0, '', empty list/map and "false" in any case are false. */
export function hublTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (typeof v === 'string') return v.toLowerCase() !== 'false';
  if (typeof v === 'number') return !Number.isNaN(v);
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** BooleanUtils.toBoolean, which jinjava's DefaultFilter applies to its second argument. */
function javaBoolean(v: unknown): boolean {
  return ['true', 'on', 'yes', 'y', 't'].includes(String(v).toLowerCase());
}

/**
 * jinjava's DefaultFilter: the fallback replaces undefined and null (jinjava has no separate
 * undefined), and with a true second argument any value HubL finds falsy (so the string "false" too).
 */
export function hublDefault(value: unknown, fallback: unknown = '', falsy?: unknown): unknown {
  const replace = falsy !== undefined && javaBoolean(falsy) ? !hublTruthy(value) : value === undefined || value === null;
  return replace ? fallback : value;
}

/** Java-style coercion of `needle` to the type of `element`, then equality (jinjava converts before equals). */
function sameValue(element: unknown, needle: unknown): boolean {
  if (element === needle) return true;
  if (element === null || element === undefined || needle === null || needle === undefined) return false;
  if (typeof element === 'number') return typeof needle === 'string' && needle.trim() !== '' && Number(needle) === element;
  if (typeof element === 'string') return typeof needle === 'number' || typeof needle === 'boolean' ? String(needle) === element : false;
  if (typeof element === 'boolean') return typeof needle === 'string' && needle.toLowerCase() === String(element);
  return false;
}

/**
 * jinjava's CollectionMembershipOperator: `x in null` (or a missing property) is false, `x in "text"`
 * is a substring test, `x in list` compares after converting `x` to each element's type, anything
 * else (a number, a map) is false. nunjucks would throw and lose the whole email.
 */
export function hublIn(needle: unknown, container: unknown): boolean {
  if (container === undefined || container === null) return false;
  if (typeof container === 'string') return container.includes(needle === undefined || needle === null ? '' : String(needle));
  if (Array.isArray(container)) return container.some((el) => sameValue(el, needle));
  return false;
}

/** `{% unless cond %}…{% else %}…{% endunless %}`: an `if not`, marked so the matrix says "unless". */
class UnlessExtension {
  tags = ['unless'];
  parse(parser: {
    nextToken(): { value: string; lineno: number; colno: number };
    parseExpression(): NjNode;
    advanceAfterBlockEnd(v?: string): void;
    parseUntilBlocks(...names: string[]): NjNode;
    skipSymbol(name: string): boolean;
    skip(type: string): boolean;
  }): NjNode {
    const tok = parser.nextToken();
    const cond = parser.parseExpression();
    parser.advanceAfterBlockEnd(tok.value);
    const body = parser.parseUntilBlocks('else', 'endunless');
    let elseBody: NjNode | null = null;
    if (parser.skipSymbol('else')) {
      parser.skip('block-end');
      elseBody = parser.parseUntilBlocks('endunless');
    }
    parser.advanceAfterBlockEnd();
    const node = new N.If!(tok.lineno, tok.colno, new N.Not!(tok.lineno, tok.colno, cond), body, elseBody);
    node.unless = true;
    return node;
  }
}

function createEnvironment(): nunjucks.Environment {
  const env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: false });
  env.addExtension('unless', new UnlessExtension());
  env.addGlobal('__t', hublTruthy);
  env.addGlobal('__in', hublIn);
  env.addGlobal('__br', (id: string, index: number, value: unknown) => {
    const ok = hublTruthy(value);
    if (ok) activeRecorder()?.branch(id, index);
    return ok;
  });
  env.addGlobal('__mark', (id: string, index: number, loop: boolean) => {
    const rec = activeRecorder();
    rec?.branch(id, index);
    if (loop) rec?.iterate(id);
    return '';
  });
  env.addGlobal('__out', (path: string, line: number, value: unknown) => {
    if (value === undefined || value === null) activeRecorder()?.miss(path, line);
    return value;
  });
  env.addGlobal('personalization_token', function (this: { ctx: Record<string, unknown> }, path: string, fallback = '') {
    const v = String(path)
      .split('.')
      .reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), this.ctx);
    return v === undefined || v === null || v === '' ? fallback : v;
  });
  env.addFilter('datetimeformat', (v: unknown, fmt = '%H:%M / %d-%m-%Y') => {
    const d = toDate(v);
    return d ? strftime(d, String(fmt)) : '';
  });
  env.addFilter('format_currency_value', (v: unknown, locale = 'en-US', currency = 'USD') => {
    const x = Number(v);
    return Number.isNaN(x) ? '' : new Intl.NumberFormat(String(locale), { style: 'currency', currency: String(currency) }).format(x);
  });
  env.addFilter('format_number', (v: unknown, locale = 'en-US') => {
    const x = Number(v);
    return Number.isNaN(x) ? '' : new Intl.NumberFormat(String(locale)).format(x);
  });
  env.addFilter('split', (v: unknown, sep = ' ') => String(v ?? '').split(String(sep)));
  env.addFilter('regex_replace', (v: unknown, pattern: string, repl = '') => String(v ?? '').replace(new RegExp(String(pattern), 'g'), String(repl)));
  env.addFilter('md5', (v: unknown) =>
    createHash('md5')
      .update(String(v ?? ''))
      .digest('hex'),
  );
  env.addFilter('unixtimestamp', (v: unknown) => toDate(v)?.getTime() ?? '');
  env.addFilter('bool', (v: unknown) => hublTruthy(v));
  env.addFilter('default', hublDefault);
  env.addFilter('d', hublDefault);
  const tests = env as unknown as { addTest(name: string, fn: (...a: unknown[]) => boolean): void };
  tests.addTest('string_containing', (v: unknown, s: unknown) => typeof v === 'string' && v.includes(String(s)));
  tests.addTest('string_startingwith', (v: unknown, s: unknown) => typeof v === 'string' && v.startsWith(String(s)));
  tests.addTest('truthy', (v: unknown) => hublTruthy(v));
  tests.addTest('within', (v: unknown, list: unknown) => Array.isArray(list) && list.includes(v));
  tests.addTest('containing', (list: unknown, v: unknown) => Array.isArray(list) && list.includes(v));
  tests.addTest('containingall', (list: unknown, vs: unknown) => Array.isArray(list) && Array.isArray(vs) && vs.every((x) => list.includes(x)));
  return env;
}

const env = createEnvironment();

/** `x is test 'arg'` → `x is test('arg')`: nunjucks only accepts test arguments in parentheses. */
export function parenthesizeTests(source: string): string {
  return source.replace(/(\bis\s+(?:not\s+)?[A-Za-z_]\w*)\s+('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|\[[^\]]*\])/g, '$1($2)');
}

const lit = (n: NjNode, v: unknown): NjNode => new N.Literal!(n.lineno, n.colno, v);
const call = (n: NjNode, name: string, args: NjNode[]): NjNode =>
  new N.FunCall!(n.lineno, n.colno, new N.Symbol!(n.lineno, n.colno, name), new N.NodeList!(n.lineno, n.colno, args));

/** The dotted path of a Symbol/LookupVal chain (`contact.firstname`), or undefined. */
function pathOf(n: NjNode | null | undefined): string | undefined {
  if (!n) return undefined;
  if (n.typename === 'Symbol') return String(n.value);
  if (n.typename === 'LookupVal') {
    const base = pathOf(n.target as NjNode);
    const key = n.val as NjNode;
    if (base && key.typename === 'Literal') return `${base}.${String(key.value)}`;
  }
  return undefined;
}

class Instrumenter {
  constructor(private readonly file: string) {}
  readonly analysis: TemplateAnalysis = { blocks: [], conditions: [], outputs: [] };
  private readonly loops: LoopScope[] = [];

  /** Rewrites and/or/not/inline-if everywhere for HubL truthiness. */
  truthiness(n: unknown): unknown {
    if (!n || typeof n !== 'object' || !('typename' in (n as object))) return n;
    const node = n as NjNode;
    if (node.children) node.children = node.children.map((c) => this.truthiness(c) as NjNode);
    for (const f of node.fields ?? []) node[f] = this.truthiness(node[f]);
    switch (node.typename) {
      case 'Or':
        return new N.InlineIf!(node.lineno, node.colno, call(node, '__t', [node.left as NjNode]), node.left, node.right);
      case 'And':
        return new N.InlineIf!(node.lineno, node.colno, call(node, '__t', [node.left as NjNode]), node.right, node.left);
      case 'Not':
        return new N.Not!(node.lineno, node.colno, call(node, '__t', [node.target as NjNode]));
      case 'InlineIf':
        node.cond = call(node, '__t', [node.cond as NjNode]);
        return node;
      default:
        return node;
    }
  }

  /** Adds branch markers and output checks; returns the (possibly replaced) node. */
  instrument(n: unknown): void {
    if (!n || typeof n !== 'object' || !('typename' in (n as object))) return;
    const node = n as NjNode;
    if (node.typename === 'If' || node.typename === 'IfAsync') return this.ifChain(node);
    if (node.typename === 'For') return this.forLoop(node);
    if (node.typename === 'Output') return this.output(node);
    if (node.typename === 'Filter') {
      const name = pathOf(node.name as NjNode) ?? '';
      try {
        env.getFilter(name);
      } catch {
        throw templateError(`hubl: unknown filter "${name}"`, this.file, node.lineno + 1, node.colno + 1, 'HubSpot would not render it; check the filter name');
      }
    }
    if (node.children) for (const c of node.children) this.instrument(c);
    for (const f of node.fields ?? []) this.instrument(node[f]);
  }

  private ifChain(head: NjNode): void {
    const line = head.lineno + 1;
    const id = `L${line}:${head.colno + 1}`;
    const block: ConditionalBlock = { id, kind: head.unless ? 'unless' : 'if', line, column: head.colno + 1, branches: [] };
    this.analysis.blocks.push(block);
    let node: NjNode = head;
    for (let i = 0; ; i++) {
      const cond = node.cond as NjNode;
      const word = i === 0 ? (head.unless ? 'unless' : 'if') : 'elif';
      const shown = head.unless && i === 0 && cond.typename === 'Not' ? (cond.target as NjNode) : cond;
      block.branches.push({ label: labelOf(`${word} ${exprText(shown)}`), line: node.lineno + 1 });
      const before = this.analysis.conditions.length;
      this.conditionUses(cond, node.lineno + 1);
      for (const u of this.analysis.conditions.slice(before)) u.path = scopedPath(u.path, this.loops);
      node.cond = call(node, '__br', [lit(node, id), lit(node, i), this.truthiness(cond) as NjNode]);
      this.instrument(node.body);
      const next = node.else_ as NjNode | null;
      if (next && (next.typename === 'If' || next.typename === 'IfAsync') && !next.unless) {
        node = next;
        continue;
      }
      const index = i + 1;
      if (next) {
        block.branches.push({ label: 'else', line: firstLine(next) ?? line });
        this.instrument(next);
        (next.children ??= []).unshift(this.marker(next, id, index, false));
      } else {
        block.branches.push({ label: '(no else)', line: node.lineno + 1, implicit: true });
        node.else_ = new N.NodeList!(node.lineno, node.colno, [this.marker(node, id, index, false)]);
      }
      return;
    }
  }

  private forLoop(node: NjNode): void {
    const line = node.lineno + 1;
    const id = `L${line}:${node.colno + 1}`;
    const arr = node.arr as NjNode;
    const block: ConditionalBlock = {
      id,
      kind: 'for',
      line,
      column: node.colno + 1,
      branches: [{ label: labelOf(`for ${exprText(node.name as NjNode)} in ${exprText(arr)}`), line }],
    };
    this.analysis.blocks.push(block);
    const p = pathOf(arr);
    const collection = p ? scopedPath(p, this.loops) : undefined;
    if (collection) this.analysis.conditions.push({ path: collection, line });
    const variable = pathOf(node.name as NjNode);
    if (collection && variable) this.loops.push({ variable, collection });
    this.instrument(node.body);
    if (collection && variable) this.loops.pop();
    ((node.body as NjNode).children ??= []).unshift(this.marker(node, id, 0, true));
    const elseBody = node.else_ as NjNode | null;
    if (elseBody) {
      block.branches.push({ label: 'else', line: firstLine(elseBody) ?? line });
      this.instrument(elseBody);
      (elseBody.children ??= []).unshift(this.marker(node, id, 1, false));
    } else {
      block.branches.push({ label: '(no items)', line, implicit: true });
      node.else_ = new N.NodeList!(node.lineno, node.colno, [this.marker(node, id, 1, false)]);
    }
  }

  private marker(n: NjNode, id: string, index: number, loop: boolean): NjNode {
    return new N.Output!(n.lineno, n.colno, [call(n, '__mark', [lit(n, id), lit(n, index), lit(n, loop)])]);
  }

  private output(node: NjNode): void {
    node.children = (node.children ?? []).map((child) => {
      if (child.typename === 'TemplateData') return child;
      this.instrument(child);
      const line = child.lineno + 1;
      const fallback = hasFallback(child);
      const t = this.truthiness(child) as NjNode;
      const p = pathOf(child);
      if (p) {
        this.analysis.outputs.push({ path: p, line, hasFallback: fallback });
        if (!fallback) return call(child, '__out', [lit(child, p), lit(child, line), t]);
      } else for (const q of pathsIn(child)) this.analysis.outputs.push({ path: q, line, hasFallback: fallback });
      // `{{ contact.total|format_currency_value }}`: check the filtered value itself.
      const input = t.typename === 'Filter' && !fallback ? ((t.args as NjNode).children ?? [])[0] : undefined;
      const inputPath = input ? pathOf(input) : undefined;
      if (input && inputPath) (t.args as NjNode).children![0] = call(input, '__out', [lit(input, inputPath), lit(input, line), input]);
      return t;
    });
  }

  private conditionUses(n: NjNode, line: number): void {
    if (n.typename === 'Compare') {
      const left = pathOf(n.expr as NjNode);
      for (const op of n.ops as NjNode[]) {
        const right = op.expr as NjNode;
        if (left && right.typename === 'Literal')
          this.analysis.conditions.push({ path: left, op: op.type as ConditionUse['op'], value: right.value as string, line });
      }
      if (left && !(n.ops as NjNode[]).some((o) => (o.expr as NjNode).typename === 'Literal')) this.analysis.conditions.push({ path: left, line });
      return;
    }
    if (n.typename === 'In') {
      const hay = pathOf(n.right as NjNode);
      const needle = n.left as NjNode;
      if (hay && needle.typename === 'Literal') this.analysis.conditions.push({ path: hay, op: 'contains', value: needle.value as string, line });
      const p = pathOf(needle);
      if (p && (n.right as NjNode).typename === 'Array')
        for (const c of (n.right as NjNode).children ?? [])
          if (c.typename === 'Literal') this.analysis.conditions.push({ path: p, op: '==', value: c.value as string, line });
      return;
    }
    const p = pathOf(n);
    if (p) {
      this.analysis.conditions.push({ path: p, line });
      return;
    }
    if (n.typename === 'Is') {
      const left = pathOf(n.left as NjNode);
      const test = n.right as NjNode;
      const arg = test.typename === 'FunCall' ? ((test.args as NjNode).children ?? [])[0] : undefined;
      if (left && arg?.typename === 'Literal') this.analysis.conditions.push({ path: left, op: 'contains', value: arg.value as string, line });
      else if (left) this.analysis.conditions.push({ path: left, line });
      return;
    }
    for (const f of n.fields ?? []) {
      const v = n[f] as NjNode | null;
      if (v && typeof v === 'object' && 'typename' in v) this.conditionUses(v, line);
    }
    for (const c of n.children ?? []) this.conditionUses(c, line);
  }
}

function firstLine(n: NjNode): number | undefined {
  const c = n.children?.[0];
  return c ? c.lineno + 1 : undefined;
}

function hasFallback(n: NjNode): boolean {
  if (n.typename === 'Filter' && ['default', 'd'].includes(pathOf(n.name as NjNode) ?? '')) return true;
  if (n.typename === 'FunCall' && pathOf(n.name as NjNode) === 'personalization_token') return true;
  if (n.typename === 'Or') return true;
  if (n.typename === 'Filter') return hasFallback(((n.args as NjNode).children ?? [])[0] ?? n);
  return false;
}

function pathsIn(n: NjNode): string[] {
  const p = pathOf(n);
  if (p) return [p];
  const out: string[] = [];
  for (const f of n.fields ?? []) {
    const v = n[f] as NjNode | null;
    if (v && typeof v === 'object' && 'typename' in v && f !== 'name') out.push(...pathsIn(v));
  }
  for (const c of n.children ?? []) out.push(...pathsIn(c));
  return out;
}

function exprText(n: NjNode): string {
  const p = pathOf(n);
  if (p) return p;
  switch (n.typename) {
    case 'Literal':
      return typeof n.value === 'string' ? `'${n.value}'` : String(n.value);
    case 'Not':
      return `not ${exprText(n.target as NjNode)}`;
    case 'And':
    case 'Or':
    case 'In':
    case 'Is':
      return `${exprText(n.left as NjNode)} ${n.typename.toLowerCase()} ${exprText(n.right as NjNode)}`;
    case 'Compare':
      return [exprText(n.expr as NjNode), ...(n.ops as NjNode[]).map((o) => `${String(o.type)} ${exprText(o.expr as NjNode)}`)].join(' ');
    case 'Filter':
      return `${exprText(((n.args as NjNode).children ?? [])[0] ?? n)}|${pathOf(n.name as NjNode) ?? '?'}`;
    case 'FunCall':
      return `${pathOf(n.name as NjNode) ?? '?'}(${((n.args as NjNode).children ?? []).map(exprText).join(', ')})`;
    case 'Array':
      return `[${(n.children ?? []).map(exprText).join(', ')}]`;
    default:
      return n.typename;
  }
}

/** Replaces every `a in b` (and `a not in b`) with `__in(a, b)`: jinjava's membership, not nunjucks's. */
function rewriteIn(n: unknown): unknown {
  if (!n || typeof n !== 'object' || !('typename' in (n as object))) return n;
  const node = n as NjNode;
  if (node.children) node.children = node.children.map((c) => rewriteIn(c) as NjNode);
  for (const f of node.fields ?? []) if (f !== 'children') node[f] = rewriteIn(node[f]);
  return node.typename === 'In' ? call(node, '__in', [node.left as NjNode, node.right as NjNode]) : node;
}

/** Names a template defines itself (macros, `set` targets, loop variables, macro arguments). */
function definedNames(n: unknown, out = new Set<string>(['caller', 'loop'])): Set<string> {
  if (!n || typeof n !== 'object' || !('typename' in (n as object))) return out;
  const node = n as NjNode;
  if (node.typename === 'Macro') {
    const name = pathOf(node.name as NjNode);
    if (name) out.add(name);
    for (const a of (node.args as NjNode).children ?? []) {
      const arg = pathOf(a);
      if (arg) out.add(arg);
    }
  }
  if (node.typename === 'Set') for (const t of (node.targets as NjNode[]) ?? []) out.add(pathOf(t) ?? '');
  if (node.typename === 'For') for (const q of [node.name as NjNode, ...((node.name as NjNode).children ?? [])]) out.add(pathOf(q) ?? '');
  for (const c of node.children ?? []) definedNames(c, out);
  for (const f of node.fields ?? []) if (f !== 'children') definedNames(node[f], out);
  return out;
}

/** Calls of functions HubSpot would not know (`{{ shout(name) }}`): a compile error, not a blank. */
function checkFunctions(n: unknown, known: Set<string>, file: string): void {
  if (!n || typeof n !== 'object' || !('typename' in (n as object))) return;
  const node = n as NjNode;
  if (node.typename === 'Is') {
    // `x is divisibleby(3)`: the call names a test, which nunjucks checks itself.
    const test = node.right as NjNode;
    const name = pathOf(test.typename === 'FunCall' ? (test.name as NjNode) : test);
    if (name && !(env as unknown as { tests: Record<string, unknown> }).tests[name])
      throw templateError(`hubl: unknown test "${name}"`, file, test.lineno + 1, test.colno + 1, 'check the name of the test after "is"');
    checkFunctions(node.left, known, file);
    checkFunctions(test.typename === 'FunCall' ? test.args : test, known, file);
    return;
  }
  if (node.typename === 'FunCall' && (node.name as NjNode).typename === 'Symbol') {
    const name = String((node.name as NjNode).value);
    const globals = (env as unknown as { globals: Record<string, unknown> }).globals;
    if (!known.has(name) && !(name in globals)) {
      const at = node.name as NjNode;
      throw templateError(
        `hubl: unknown function ${name}()`,
        file,
        at.lineno + 1,
        at.colno + 1,
        "segsync knows HubL's personalization_token() and Jinja's range(), cycler() and joiner(); check the name, or define it with {% macro %}",
      );
    }
  }
  for (const c of node.children ?? []) checkFunctions(c, known, file);
  for (const f of node.fields ?? []) if (f !== 'children') checkFunctions(node[f], known, file);
}

/** HubL block tags: what closes each and which middle tags it takes. */
const HUBL_BLOCKS: Record<string, string[]> = {
  if: ['elif', 'elseif', 'else'],
  unless: ['else'],
  for: ['else'],
  macro: [],
  call: [],
  filter: [],
  block: [],
  set: [],
};
const HUBL_MIDDLES = new Set(['elif', 'elseif', 'else']);

/** Every block tag of a HubL source with its position (comments and raw blocks skipped). */
export function scanHublTags(source: string): ScannedTag[] {
  const tags: ScannedTag[] = [];
  const re = /\{#[\s\S]*?#\}|\{%-?\s*raw\s*-?%\}[\s\S]*?\{%-?\s*endraw\s*-?%\}|\{%-?\s*([A-Za-z_]\w*)([\s\S]*?)-?%\}/g;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const word = m[1];
    if (!word) continue;
    const args = m[2] ?? '';
    const at = (): { line: number; column: number } => positionOf(source, m!.index);
    const text = labelOf(m[0]);
    if (HUBL_BLOCKS[word] && !(word === 'set' && args.includes('='))) tags.push({ role: 'open', name: word, text, ...at() });
    else if (HUBL_MIDDLES.has(word)) tags.push({ role: 'middle', name: word, text, ...at() });
    else if (word.startsWith('end') && HUBL_BLOCKS[word.slice(3)]) tags.push({ role: 'close', name: word.slice(3), text, ...at() });
  }
  return tags;
}

const HUBL_NESTING = { dialect: 'hubl', closeTag: (name: string) => `{% end${name} %}`, middles: HUBL_BLOCKS };

/** nunjucks's parser messages in plain words (its messages name its own functions: "parseIf: …"). */
function plainParseMessage(message: string): string {
  const m = message.replace(/^\w+: /, '');
  const tag = /^unknown block tag: (\S+)/.exec(m);
  if (tag) return `unknown tag {% ${tag[1]} %}`;
  return m.replace(/^unexpected token: (.*)$/, 'unexpected "$1" here').replace(/^expected (.*), got (.*)$/, 'expected $1 but found $2');
}

class HublTemplate implements CompiledTemplate {
  readonly dialect = 'hubl' as const;
  constructor(
    private readonly tmpl: nunjucks.Template,
    readonly analysis: TemplateAnalysis,
    private readonly file: string,
  ) {}

  render(context: Record<string, unknown>): RenderResult {
    const rec = new RenderRecorder();
    try {
      const html = withRecorder(rec, () => this.tmpl.render(context));
      return rec.result(html);
    } catch (err) {
      throw locate(err, this.file, 'render');
    }
  }
}

/**
 * A nunjucks error as a located TemplateError. Parse errors carry 1-based positions; render errors
 * carry the 0-based position of the last call the compiled code made, which segsync's instrumentation
 * puts on every condition and printed value, so it is the line of the tag that failed.
 */
function locate(err: unknown, file: string, phase: 'parse' | 'render'): Error {
  const message = (err as Error).message ?? String(err);
  const at = /\[Line (\d+)(?:, Column (\d+))?\]/.exec(message);
  const raw = message
    .replace(/^\([^)]*\)\s*/, '')
    .replace(/\[Line \d+(, Column \d+)?\]\s*/, '')
    .replace(/^(Template render error:|Error:)\s*/, '')
    .trim();
  const text = raw
    .split('\n')
    .map((x) => x.trim())
    .filter(Boolean)
    .join(' ');
  const shift = phase === 'render' ? 1 : 0;
  // The parser sets 1-based lineno/colno on the error; a render error's message carries 0-based ones
  // and leaves them out when they are 0, which at render time means the first line.
  const e = err as { lineno?: number; colno?: number };
  const line = at ? Number(at[1]) + shift : phase === 'render' ? 1 : e.lineno;
  const column = at ? (at[2] !== undefined ? Number(at[2]) + shift : undefined) : phase === 'parse' ? e.colno : undefined;
  return templateError(`hubl: ${phase === 'parse' ? plainParseMessage(text) : text.replace(/^Error: /, '')}`, file, line, column);
}

/** The first `{{`, `{%` or `{#` with no closing delimiter after it (nunjucks reports these without a position). */
function unclosedDelimiter(source: string, file: string): Error | undefined {
  const re = /\{\{|\{%|\{#/g;
  const closers: Record<string, string> = { '{{': '}}', '{%': '%}', '{#': '#}' };
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const end = source.indexOf(closers[m[0]]!, m.index + 2);
    if (end < 0) {
      const at = positionOf(source, m.index);
      return templateError(
        `hubl: ${labelOf(source.slice(m.index, m.index + 30))} is never closed with ${closers[m[0]]!}`,
        file,
        at.line,
        at.column,
        `add the closing ${closers[m[0]]!}`,
      );
    }
    re.lastIndex = end + 2;
  }
  return undefined;
}

/** Parses HubL; a nesting problem is reported at the tag that is wrong, before nunjucks's vaguer message. */
function parse(source: string, file: string): NjNode {
  try {
    return nj.parser.parse(
      parenthesizeTests(source),
      (env as unknown as { extensionsList: unknown[] }).extensionsList,
      (env as unknown as { opts: unknown }).opts,
    );
  } catch (err) {
    throw nestingError(scanHublTags(source), file, HUBL_NESTING) ?? unclosedDelimiter(source, file) ?? err;
  }
}

/**
 * HubL's datetime (jinjava's PyishDate): prints as `yyyy-MM-dd HH:mm:ss` in UTC and reads `year`,
 * `month`, `day`, `hour`, `minute` and `second`; filters take it as the date it is.
 */
class PyishDate extends Date {
  get year(): number {
    return this.getUTCFullYear();
  }
  get month(): number {
    return this.getUTCMonth() + 1;
  }
  get day(): number {
    return this.getUTCDate();
  }
  get hour(): number {
    return this.getUTCHours();
  }
  get minute(): number {
    return this.getUTCMinutes();
  }
  get second(): number {
    return this.getUTCSeconds();
  }
  override toString(): string {
    return this.toISOString().slice(0, 19).replace('T', ' ');
  }
}

export const hublDialect: Dialect = {
  name: 'hubl',
  compile(source: string, file: string): CompiledTemplate {
    const inst = new Instrumenter(file);
    let tmpl: nunjucks.Template;
    try {
      const ast = parse(source, file);
      checkFunctions(ast, definedNames(ast), file);
      inst.instrument(ast);
      rewriteIn(ast);
      const c = new nj.compiler.Compiler(file, false);
      c.compile(ast);
      const props = new Function(c.getCode())() as object;
      tmpl = new nunjucks.Template({ type: 'code', obj: props } as unknown as string, env, file, true);
    } catch (err) {
      if ((err as { location?: unknown }).location) throw err;
      throw locate(err, file, 'parse');
    }
    return new HublTemplate(tmpl, inst.analysis, file);
  },
  shapeContext(s: ScenarioData): Record<string, unknown> {
    const contact: Record<string, unknown> = {};
    const aliases: Record<string, string> = { first_name: 'firstname', last_name: 'lastname', phone_number: 'phone' };
    // HubSpot hands booleans and checkboxes to HubL as the strings "true"/"false".
    for (const [k, v] of Object.entries(profileFields(s))) contact[aliases[k] ?? k] = typeof v === 'boolean' ? String(v) : v;
    if (s.tags.length) contact.tags = s.tags.join(';');
    const base: Record<string, unknown> = {
      contact,
      company: {},
      // The sender's address, which HubSpot requires in a marketing email's footer (CAN-SPAM).
      site_settings: {
        company_name: 'Segsync Demo Store',
        company_street_address_1: '1 Example Street',
        company_street_address_2: '',
        company_city: 'Springfield',
        company_state: 'IL',
        company_zip: '12345',
        company_country: 'United States',
        company_phone: '+1 555 0100',
      },
      unsubscribe_link: 'https://unsubscribe.hubspot.invalid/',
      unsubscribe_link_all: 'https://unsubscribe.hubspot.invalid/all',
      view_as_page_url: 'https://view.hubspot.invalid/',
      // The send time, as HubSpot hands it (`{{ local_dt.year }}` in a copyright line).
      local_dt: new PyishDate((toDate(s.now) ?? new Date()).getTime()),
    };
    const ctx = deepMerge(base, s.context);
    ctx.local_dt = localDt(base.local_dt as PyishDate, s.context.local_dt);
    return ctx;
  },
};

/**
 * A scenario's `local_dt`: a date (text or epoch), or some of its parts (`{year: 2020}`, what --cover
 * varies) over the send time; anything else stays the send time.
 */
function localDt(sent: PyishDate, given: unknown): PyishDate {
  if (typeof given === 'string' || typeof given === 'number' || given instanceof Date) return new PyishDate((toDate(given) ?? sent).getTime());
  if (!isPlainObject(given)) return sent;
  const part = (k: keyof PyishDate & string, fallback: number): number =>
    Number.isFinite(Number(given[k])) && given[k] !== '' && given[k] !== null ? Number(given[k]) : fallback;
  return new PyishDate(
    Date.UTC(
      part('year', sent.year),
      part('month', sent.month) - 1,
      part('day', sent.day),
      part('hour', sent.hour),
      part('minute', sent.minute),
      part('second', sent.second),
    ),
  );
}
