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
import { labelOf, templateError } from './located';
import { scopedPath } from './loops';
import type { LoopScope } from './loops';
import { RenderRecorder, activeRecorder, withRecorder } from './recorder';
import { deepMerge, profileFields } from './shape';

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

/** `{% unless cond %}…{% else %}…{% endunless %}`: an `if not`, marked so the matrix says "unless". */
class UnlessExtension {
  tags = ['unless'];
  parse(parser: { nextToken(): { value: string; lineno: number; colno: number }; parseExpression(): NjNode; advanceAfterBlockEnd(v?: string): void; parseUntilBlocks(...names: string[]): NjNode; skipSymbol(name: string): boolean; skip(type: string): boolean }): NjNode {
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
    const v = String(path).split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), this.ctx);
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
  env.addFilter('md5', (v: unknown) => createHash('md5').update(String(v ?? '')).digest('hex'));
  env.addFilter('unixtimestamp', (v: unknown) => toDate(v)?.getTime() ?? '');
  env.addFilter('bool', (v: unknown) => hublTruthy(v));
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
const call = (n: NjNode, name: string, args: NjNode[]): NjNode => new N.FunCall!(n.lineno, n.colno, new N.Symbol!(n.lineno, n.colno, name), new N.NodeList!(n.lineno, n.colno, args));

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
    const block: ConditionalBlock = { id, kind: 'for', line, column: node.colno + 1, branches: [{ label: labelOf(`for ${exprText(node.name as NjNode)} in ${exprText(arr)}`), line }] };
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
        if (left && right.typename === 'Literal') this.analysis.conditions.push({ path: left, op: op.type as ConditionUse['op'], value: right.value as string, line });
      }
      if (left && !(n.ops as NjNode[]).some((o) => (o.expr as NjNode).typename === 'Literal')) this.analysis.conditions.push({ path: left, line });
      return;
    }
    if (n.typename === 'In') {
      const hay = pathOf(n.right as NjNode);
      const needle = n.left as NjNode;
      if (hay && needle.typename === 'Literal') this.analysis.conditions.push({ path: hay, op: 'contains', value: needle.value as string, line });
      const p = pathOf(needle);
      if (p && (n.right as NjNode).typename === 'Array') for (const c of (n.right as NjNode).children ?? []) if (c.typename === 'Literal') this.analysis.conditions.push({ path: p, op: '==', value: c.value as string, line });
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
  if (n.typename === 'Filter' && pathOf(n.name as NjNode) === 'default') return true;
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
      throw locate(err, this.file);
    }
  }
}

/** nunjucks errors say "(file) [Line N, Column M]"; its lines and columns are 1-based there. */
function locate(err: unknown, file: string): Error {
  const e = err as Error & { lineno?: number; colno?: number };
  const message = e.message ?? String(err);
  const found = /\[Line (\d+), Column (\d+)\]/.exec(message);
  const m = found ?? (e.lineno !== undefined ? ['', String(e.lineno), String(e.colno ?? 1)] : undefined);
  const text = message.replace(/^\([^)]*\)\s*/, '').replace(/\[Line \d+, Column \d+\]\s*/, '').replace(/^Template render error:\s*/, '').trim();
  return templateError(`hubl: ${text.split('\n').map((s) => s.trim()).filter(Boolean).join(' ')}`, file, m ? Number(m[1]) : undefined, m ? Number(m[2]) : undefined);
}

export const hublDialect: Dialect = {
  name: 'hubl',
  compile(source: string, file: string): CompiledTemplate {
    const inst = new Instrumenter(file);
    let tmpl: nunjucks.Template;
    try {
      const ast = nj.parser.parse(parenthesizeTests(source), (env as unknown as { extensionsList: unknown[] }).extensionsList, (env as unknown as { opts: unknown }).opts);
      inst.instrument(ast);
      const c = new nj.compiler.Compiler(file, false);
      c.compile(ast);
      const props = new Function(c.getCode())() as object;
      tmpl = new nunjucks.Template({ type: 'code', obj: props } as unknown as string, env, file, true);
    } catch (err) {
      if ((err as { location?: unknown }).location) throw err;
      throw locate(err, file);
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
      site_settings: { company_name: 'Segsync Demo Store', company_street_address_1: '1 Example Street', company_city: 'Springfield' },
      unsubscribe_link: 'https://unsubscribe.hubspot.invalid/',
      unsubscribe_link_all: 'https://unsubscribe.hubspot.invalid/all',
      view_as_page_url: 'https://view.hubspot.invalid/',
    };
    return deepMerge(base, s.context);
  },
};
