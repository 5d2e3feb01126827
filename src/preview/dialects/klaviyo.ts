/**
 * Klaviyo's template language: Django's template language plus Klaviyo's tags and filters, rendered by
 * a dedicated interpreter. Why not liquidjs: the measurements in template-dialects.md §2.3 show that
 * even a tuned liquidjs renders 1 of 32 cases wrongly (empty lists are truthy) and needs regex
 * pre-passes for the rest; Django's grammar is small, and interpreting it directly gives Python
 * truthiness, `and`-before-`or` precedence, per-operand filters and autoescaping exactly.
 * Branches are recorded by the interpreter itself, with each tag's line.
 */
import type { FieldValue } from '../../model/types';
import { renderNow, strftime } from './dates';
import type { Branch, CompiledTemplate, ConditionUse, ConditionalBlock, Dialect, RenderResult, ScenarioData, TemplateAnalysis } from './dialect';
import { SafeString, djangoEscape, pyCompare, pyEquals, pyIn, pyStr, pyTruthy, plain } from './django-values';
import { KLAVIYO_FILTERS, currencyFormat } from './klaviyo-filters';
import type { FilterContext } from './klaviyo-filters';
import { labelOf, positionOf, templateError } from './located';
import { scopedPath } from './loops';
import type { LoopScope } from './loops';
import { RenderRecorder, withRecorder } from './recorder';
import { deepMerge, profileFields, triggerEvent } from './shape';

// ---------------------------------------------------------------- lexing

interface RawToken {
  type: 'text' | 'var' | 'tag';
  content: string;
  line: number;
  column: number;
}

function lex(source: string, file: string): RawToken[] {
  const out: RawToken[] = [];
  const re = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}|\{#([\s\S]*?)#\}/g;
  let last = 0;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const { line, column } = positionOf(source, m.index);
    if (m.index > last) out.push({ type: 'text', content: source.slice(last, m.index), ...positionOf(source, last) });
    if (m[3] !== undefined) {
      if (m[3].includes('\n'))
        throw templateError(
          'a {# #} comment cannot span lines in Django templates',
          file,
          line,
          column,
          'use {% comment %} … {% endcomment %} for multi-line comments',
        );
    } else out.push({ type: m[1] !== undefined ? 'var' : 'tag', content: (m[1] ?? m[2] ?? '').trim(), line, column });
    last = re.lastIndex;
  }
  if (last < source.length) out.push({ type: 'text', content: source.slice(last), ...positionOf(source, last) });
  for (const t of out) {
    if (t.type !== 'text') continue;
    const stray = /\{\{|\{%/.exec(t.content);
    if (stray) {
      const p = positionOf(t.content, stray.index);
      throw templateError(
        `unclosed "${stray[0]}"`,
        file,
        t.line + p.line - 1,
        p.line === 1 ? t.column + p.column - 1 : p.column,
        `close it with "${stray[0] === '{{' ? '}}' : '%}'}" on the same tag`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------- expressions

type Expr =
  { t: 'lit'; value: unknown } | { t: 'var'; path: string[]; text: string } | { t: 'filter'; input: Expr; name: string; arg: Expr | undefined; text: string };

type Cond =
  | { t: 'or' | 'and'; a: Cond; b: Cond }
  | { t: 'not'; a: Cond }
  | { t: 'cmp'; op: '==' | '!=' | '<' | '>' | '<=' | '>=' | 'in' | 'not in' | 'is' | 'is not'; a: Expr; b: Expr }
  | { t: 'val'; e: Expr };

interface ExprToken {
  kind: 'str' | 'num' | 'name' | 'op' | 'punct';
  text: string;
  value?: unknown;
  pos: number;
  /** Whitespace precedes it. */
  spaced: boolean;
}

function tokenizeExpr(src: string, where: Where): ExprToken[] {
  const out: ExprToken[] = [];
  let i = 0;
  while (i < src.length) {
    const start = i;
    while (i < src.length && /\s/.test(src[i]!)) i++;
    const spaced = i > start;
    if (i >= src.length) break;
    const c = src[i]!;
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) j++;
        s += src[j++];
      }
      if (j >= src.length) throw where.error(`unterminated string starting ${src.slice(i, i + 12)}`, i);
      out.push({ kind: 'str', text: src.slice(i, j + 1), value: s, pos: i, spaced });
      i = j + 1;
    } else if (
      /[0-9]/.test(c) ||
      (c === '-' && /[0-9]/.test(src[i + 1] ?? '') && (out.length === 0 || out[out.length - 1]!.kind === 'op' || out[out.length - 1]!.text === ':'))
    ) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i))!;
      out.push({ kind: 'num', text: m[0], value: Number(m[0]), pos: i, spaced });
      i += m[0].length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z0-9_$]+(\.[A-Za-z0-9_$]+)*/.exec(src.slice(i))!;
      const word = m[0];
      out.push({ kind: ['and', 'or', 'not', 'in', 'is'].includes(word) ? 'op' : 'name', text: word, pos: i, spaced });
      i += word.length;
    } else {
      const two = src.slice(i, i + 2);
      if (['==', '!=', '<=', '>='].includes(two)) {
        out.push({ kind: 'op', text: two, pos: i, spaced });
        i += 2;
      } else if ('<>'.includes(c)) {
        out.push({ kind: 'op', text: c, pos: i, spaced });
        i++;
      } else if ('|:,='.includes(c)) {
        out.push({ kind: 'punct', text: c, pos: i, spaced });
        i++;
      } else
        throw where.error(
          `unexpected character "${c}"`,
          i,
          c === '(' ? 'Django conditions take no parentheses: `and` binds tighter than `or`; nest {% if %} blocks instead' : undefined,
        );
    }
  }
  return out;
}

/** Where an expression sits, to locate its errors. */
interface Where {
  error(message: string, offset?: number, hint?: string): Error;
}

class ExprParser {
  private i = 0;
  constructor(
    private readonly toks: ExprToken[],
    private readonly where: Where,
    private readonly src: string,
  ) {}

  done(): boolean {
    return this.i >= this.toks.length;
  }

  peek(): ExprToken | undefined {
    return this.toks[this.i];
  }

  next(): ExprToken {
    const t = this.toks[this.i++];
    if (!t) throw this.where.error(`unexpected end of expression "${this.src}"`);
    return t;
  }

  expectEnd(): void {
    const t = this.peek();
    if (t) throw this.where.error(`unexpected "${t.text}" in "${this.src}"`, t.pos, 'Django rejects leftover tokens: check the operator and quoting');
  }

  /** var|filter:arg|filter … */
  filterExpr(): Expr {
    let e = this.primary();
    while (this.peek()?.text === '|') {
      this.next();
      const name = this.next();
      if (name.kind !== 'name' || name.spaced) throw this.where.error(`expected a filter name after "|"`, name.pos);
      if (!KLAVIYO_FILTERS[name.text])
        throw this.where.error(
          `unknown filter "${name.text}"`,
          name.pos,
          'Klaviyo would refuse the template; see the filter glossary for the supported filters',
        );
      let arg: Expr | undefined;
      if (this.peek()?.text === ':') {
        const colon = this.next();
        if (colon.spaced) throw this.where.error('no space is allowed before ":" in a filter argument', colon.pos);
        const a = this.peek();
        if (!a || a.spaced)
          throw this.where.error(
            `no space is allowed after ":" in a filter argument ("|${name.text}:'x'")`,
            colon.pos,
            "write var|filter:'arg' with no spaces, as Klaviyo requires",
          );
        arg = this.primary();
      }
      e = { t: 'filter', input: e, name: name.text, arg, text: `${exprText(e)}|${name.text}` };
    }
    return e;
  }

  primary(): Expr {
    const t = this.next();
    if (t.kind === 'str') return { t: 'lit', value: new SafeString(String(t.value)) };
    if (t.kind === 'num') return { t: 'lit', value: t.value };
    if (t.kind === 'name') {
      if (t.text === 'True' || t.text === 'False') return { t: 'lit', value: t.text === 'True' };
      if (t.text === 'None') return { t: 'lit', value: null };
      return { t: 'var', path: t.text.split('.'), text: t.text };
    }
    throw this.where.error(`expected a value, found "${t.text}"`, t.pos);
  }

  condition(): Cond {
    let a = this.andCond();
    while (this.peek()?.text === 'or') {
      this.next();
      a = { t: 'or', a, b: this.andCond() };
    }
    return a;
  }

  private andCond(): Cond {
    let a = this.notCond();
    while (this.peek()?.text === 'and') {
      this.next();
      a = { t: 'and', a, b: this.notCond() };
    }
    return a;
  }

  private notCond(): Cond {
    if (this.peek()?.text === 'not') {
      this.next();
      return { t: 'not', a: this.notCond() };
    }
    const a = this.filterExpr();
    const op = this.peek();
    if (!op || op.kind !== 'op' || op.text === 'and' || op.text === 'or') return { t: 'val', e: a };
    this.next();
    let name = op.text as Extract<Cond, { t: 'cmp' }>['op'] | 'not';
    if (name === 'not') {
      const n = this.next();
      if (n.text !== 'in') throw this.where.error(`expected "in" after "not", found "${n.text}"`, n.pos);
      name = 'not in';
    } else if (name === 'is' && this.peek()?.text === 'not') {
      this.next();
      name = 'is not';
    }
    if (this.done()) throw this.where.error(`missing right-hand side of "${name}"`, op.pos);
    return { t: 'cmp', op: name, a, b: this.filterExpr() };
  }
}

function exprText(e: Expr): string {
  if (e.t === 'lit') return e.value instanceof SafeString ? `'${e.value.value}'` : pyStr(e.value);
  return e.text;
}

// ---------------------------------------------------------------- template nodes

type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; e: Expr; line: number; fallback: boolean }
  | { t: 'if'; id: string; branches: { cond: Cond; body: Node[] }[]; else: Node[] }
  | { t: 'for'; id: string; vars: string[]; iter: Expr; reversed: boolean; body: Node[]; empty: Node[] }
  | { t: 'with'; assigns: [string, Expr][]; body: Node[] }
  | { t: 'autoescape'; on: boolean; body: Node[] }
  | { t: 'assignTag'; name: string; as: string | undefined; args: Expr[]; line: number }
  | { t: 'firstof'; args: Expr[]; line: number };

const KLAVIYO_LINK_TAGS: Record<string, { href: string; text: string }> = {
  unsubscribe: { href: 'https://unsubscribe.klaviyo.invalid/', text: 'Unsubscribe' },
  manage_preferences: { href: 'https://preferences.klaviyo.invalid/', text: 'Manage Preferences' },
  web_view: { href: 'https://view.klaviyo.invalid/', text: 'View in browser' },
};

class TemplateParser {
  private i = 0;
  readonly analysis: TemplateAnalysis = { blocks: [], conditions: [], outputs: [] };
  private readonly loops: LoopScope[] = [];

  constructor(
    private readonly toks: RawToken[],
    private readonly file: string,
  ) {}

  parse(): Node[] {
    const { nodes, end } = this.until([]);
    if (end) throw this.err(end, `unexpected {% ${end.content} %}`);
    return nodes;
  }

  private err(t: RawToken, message: string, hint?: string): Error {
    return templateError(message, this.file, t.line, t.column, hint);
  }

  private where(t: RawToken, offsetBase: number): Where {
    return {
      error: (message, offset, hint) => templateError(message, this.file, t.line, offset === undefined ? t.column : t.column + offsetBase + offset, hint),
    };
  }

  private expr(t: RawToken, src: string, base: number): ExprParser {
    return new ExprParser(tokenizeExpr(src, this.where(t, base)), this.where(t, base), src);
  }

  /** Parses nodes until one of `ends` (tag names); returns the closing token. */
  private until(ends: string[]): { nodes: Node[]; end: RawToken | undefined; endName: string | undefined } {
    const nodes: Node[] = [];
    while (this.i < this.toks.length) {
      const t = this.toks[this.i++]!;
      if (t.type === 'text') nodes.push({ t: 'text', s: t.content });
      else if (t.type === 'var') nodes.push(this.output(t));
      else {
        const name = /^\S*/.exec(t.content)![0];
        if (ends.includes(name)) return { nodes, end: t, endName: name };
        nodes.push(...this.tag(t, name));
      }
    }
    return { nodes, end: undefined, endName: undefined };
  }

  private output(t: RawToken): Node {
    if (!t.content) throw this.err(t, 'empty variable tag {{ }}');
    const p = this.expr(t, t.content, 3);
    const e = p.filterExpr();
    p.expectEnd();
    const fallback = hasFilter(e, 'default') || hasFilter(e, 'default_if_none');
    for (const path of varsOf(e)) this.analysis.outputs.push({ path, line: t.line, hasFallback: fallback });
    return { t: 'out', e, line: t.line, fallback };
  }

  private tag(t: RawToken, name: string): Node[] {
    const args = t.content.slice(name.length).trim();
    const argBase = 3 + t.content.indexOf(args, name.length);
    switch (name) {
      case 'if':
        return [this.ifTag(t, args, argBase)];
      case 'for':
        return [this.forTag(t, args, argBase)];
      case 'with':
        return [this.withTag(t, args, argBase)];
      case 'comment':
        this.skipTo(t, 'endcomment');
        return [];
      case 'autoescape': {
        if (args !== 'on' && args !== 'off') throw this.err(t, `autoescape takes "on" or "off", not "${args}"`);
        const body = this.block(t, ['endautoescape']);
        return [{ t: 'autoescape', on: args === 'on', body: body.nodes }];
      }
      case 'unsubscribe':
      case 'manage_preferences':
      case 'web_view':
      case 'unsubscribe_link':
      case 'manage_preferences_link':
      case 'web_view_link':
      case 'today':
      case 'currency_format':
      case 'coupon_code':
      case 'now': {
        const toks = tokenizeExpr(args, this.where(t, argBase));
        let as: string | undefined;
        const asAt = toks.findIndex((x) => x.kind === 'name' && x.text === 'as');
        if (asAt >= 0) {
          as = toks[asAt + 1]?.text;
          if (!as || toks.length !== asAt + 2) throw this.err(t, `expected "as NAME" at the end of {% ${name} %}`);
          toks.length = asAt;
        }
        const p = new ExprParser(toks, this.where(t, argBase), args);
        const list: Expr[] = [];
        while (!p.done()) list.push(p.filterExpr());
        return [{ t: 'assignTag', name, as, args: list, line: t.line }];
      }
      case 'firstof': {
        const p = this.expr(t, args, argBase);
        const list: Expr[] = [];
        while (!p.done()) list.push(p.filterExpr());
        for (const e of list) for (const path of varsOf(e)) this.analysis.conditions.push({ path, line: t.line });
        return [{ t: 'firstof', args: list, line: t.line }];
      }
      case 'elif':
      case 'else':
      case 'endif':
      case 'empty':
      case 'endfor':
      case 'endwith':
        throw this.err(t, `{% ${name} %} without a matching opening tag`);
      case 'catalog':
      case 'customobject':
        throw this.err(
          t,
          `{% ${name} %} needs Klaviyo's catalog/custom-object data, which a local preview does not have`,
          'preview the block with its data in a scenario as a plain variable, or remove it for the preview',
        );
      default:
        throw this.err(
          t,
          `unknown tag {% ${name} %}`,
          'Klaviyo supports if/elif/else, for/empty, with, comment, autoescape, firstof and its own tags (unsubscribe, web_view, manage_preferences, today, currency_format, coupon_code)',
        );
    }
  }

  private skipTo(open: RawToken, end: string): void {
    while (this.i < this.toks.length) {
      const t = this.toks[this.i++]!;
      if (t.type === 'tag' && t.content === end) return;
    }
    throw this.err(open, `{% ${/^\S*/.exec(open.content)![0]} %} is never closed`, `add {% ${end} %}`);
  }

  private block(open: RawToken, ends: string[]): { nodes: Node[]; end: RawToken; endName: string } {
    const r = this.until(ends);
    if (!r.end || !r.endName)
      throw this.err(open, `{% ${labelOf(open.content, 40)} %} opened at line ${open.line} is never closed`, `add {% ${ends[ends.length - 1]} %}`);
    return { nodes: r.nodes, end: r.end, endName: r.endName };
  }

  private ifTag(open: RawToken, args: string, base: number): Node {
    const id = `L${open.line}:${open.column}`;
    const block: ConditionalBlock = { id, kind: 'if', line: open.line, column: open.column, branches: [] };
    this.analysis.blocks.push(block);
    const branches: { cond: Cond; body: Node[] }[] = [];
    let head = open;
    let cond = this.condition(open, args, base);
    block.branches.push({ label: labelOf(`if ${args}`), line: open.line });
    for (;;) {
      const r = this.block(open, ['elif', 'else', 'endif']);
      branches.push({ cond, body: r.nodes });
      head = r.end;
      if (r.endName === 'elif') {
        const a = head.content.slice(4).trim();
        cond = this.condition(head, a, 3 + head.content.indexOf(a, 4));
        block.branches.push({ label: labelOf(`elif ${a}`), line: head.line });
        continue;
      }
      if (r.endName === 'else') {
        block.branches.push({ label: 'else', line: head.line });
        const e = this.block(open, ['endif']);
        return { t: 'if', id, branches, else: e.nodes };
      }
      block.branches.push({ label: '(no else)', line: head.line, implicit: true });
      return { t: 'if', id, branches, else: [] };
    }
  }

  private condition(t: RawToken, src: string, base: number): Cond {
    if (!src) throw this.err(t, `{% ${/^\S*/.exec(t.content)![0]} %} needs a condition`);
    const p = this.expr(t, src, base);
    const c = p.condition();
    p.expectEnd();
    const uses: ConditionUse[] = [];
    collectConditionUses(c, t.line, uses);
    this.analysis.conditions.push(...uses.map((u) => ({ ...u, path: scopedPath(u.path, this.loops) })));
    return c;
  }

  private forTag(open: RawToken, args: string, base: number): Node {
    const m = /^(.+?)\s+in\s+(.+?)(\s+reversed)?$/.exec(args);
    if (!m) throw this.err(open, `expected {% for x in list %}, got {% for ${args} %}`);
    const vars = m[1]!.split(',').map((v) => v.trim());
    if (vars.some((v) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v))) throw this.err(open, `bad loop variable in {% for ${args} %}`);
    const p = this.expr(open, m[2]!, base + args.indexOf(m[2]!, m[1]!.length));
    const iter = p.filterExpr();
    p.expectEnd();
    const iterPaths = varsOf(iter).map((p) => scopedPath(p, this.loops));
    for (const path of iterPaths) this.analysis.conditions.push({ path, line: open.line });
    const id = `L${open.line}:${open.column}`;
    const branches: Branch[] = [{ label: labelOf(`for ${args}`), line: open.line }];
    this.analysis.blocks.push({ id, kind: 'for', line: open.line, column: open.column, branches });
    if (iterPaths.length === 1 && vars.length === 1) this.loops.push({ variable: vars[0]!, collection: iterPaths[0]! });
    const body = this.block(open, ['empty', 'endfor']);
    if (iterPaths.length === 1 && vars.length === 1) this.loops.pop();
    let empty: Node[] = [];
    if (body.endName === 'empty') {
      branches.push({ label: 'empty', line: body.end.line });
      empty = this.block(open, ['endfor']).nodes;
    } else branches.push({ label: '(no items)', line: body.end.line, implicit: true });
    return { t: 'for', id, vars, iter, reversed: !!m[3], body: body.nodes, empty };
  }

  private withTag(open: RawToken, args: string, base: number): Node {
    const assigns: [string, Expr][] = [];
    const legacy = /^(.+?)\s+as\s+([A-Za-z_]\w*)$/.exec(args);
    if (legacy) {
      const p = this.expr(open, legacy[1]!, base);
      assigns.push([legacy[2]!, p.filterExpr()]);
      p.expectEnd();
    } else {
      const p = this.expr(open, args, base);
      while (!p.done()) {
        const name = p.next();
        if (name.kind !== 'name' || p.next().text !== '=') throw this.err(open, `expected {% with name=value %}, got {% with ${args} %}`);
        assigns.push([name.text, p.filterExpr()]);
      }
      if (!assigns.length) throw this.err(open, '{% with %} needs at least one name=value');
    }
    return { t: 'with', assigns, body: this.block(open, ['endwith']).nodes };
  }
}

function hasFilter(e: Expr, name: string): boolean {
  return e.t === 'filter' && (e.name === name || hasFilter(e.input, name));
}

/** Variable paths an expression reads; `person|lookup:'X'` reads `person.X`. */
function varsOf(e: Expr): string[] {
  if (e.t === 'var') return [e.path.join('.')];
  if (e.t === 'filter') {
    if (e.name === 'lookup' && e.arg?.t === 'lit') {
      const inner = varsOf(e.input);
      if (inner.length === 1) return [`${inner[0]}.${pyStr(plain(e.arg.value))}`];
    }
    return [...varsOf(e.input), ...(e.arg ? varsOf(e.arg) : [])];
  }
  return [];
}

function collectConditionUses(c: Cond, line: number, out: ConditionUse[]): void {
  if (c.t === 'or' || c.t === 'and') {
    collectConditionUses(c.a, line, out);
    collectConditionUses(c.b, line, out);
  } else if (c.t === 'not') collectConditionUses(c.a, line, out);
  else if (c.t === 'val') for (const path of varsOf(c.e)) out.push({ path, line });
  else if (c.t === 'cmp') {
    const op = c.op === 'in' || c.op === 'not in' ? 'in' : c.op === 'is' ? '==' : c.op === 'is not' ? '!=' : c.op;
    const lit = (e: Expr): FieldValue | undefined => (e.t === 'lit' ? (plain(e.value) as FieldValue) : undefined);
    const a = varsOf(c.a);
    const b = varsOf(c.b);
    if (op === 'in' && b.length === 1 && lit(c.a) !== undefined) out.push({ path: b[0]!, op: 'contains', value: lit(c.a), line });
    else if (a.length === 1 && lit(c.b) !== undefined) out.push({ path: a[0]!, op, value: lit(c.b), line });
    else for (const path of [...a, ...b]) out.push({ path, line });
  }
}

// ---------------------------------------------------------------- evaluation

interface Frame {
  scopes: Record<string, unknown>[];
  rec: RenderRecorder;
  autoescape: boolean;
  now: Date;
}

const MISSING = Symbol('missing');

function lookupPath(frame: Frame, path: string[]): unknown {
  let cur: unknown = MISSING;
  const head = path[0]!;
  for (let s = frame.scopes.length - 1; s >= 0; s--) {
    if (Object.prototype.hasOwnProperty.call(frame.scopes[s], head)) {
      cur = frame.scopes[s]![head];
      break;
    }
  }
  for (let i = 1; i < path.length && cur !== MISSING; i++) cur = member(cur, path[i]!);
  return cur;
}

/** Django's variable resolution: dictionary key, then list index. */
function member(obj: unknown, key: string): unknown {
  obj = plain(obj);
  if (obj === null || obj === undefined) return MISSING;
  if (Array.isArray(obj)) {
    if (/^-?\d+$/.test(key)) {
      const i = Number(key);
      return i >= 0 && i < obj.length ? obj[i] : MISSING;
    }
    return MISSING;
  }
  if (typeof obj === 'object') return Object.prototype.hasOwnProperty.call(obj, key) ? (obj as Record<string, unknown>)[key] : MISSING;
  return MISSING;
}

function evalExpr(e: Expr, f: Frame, inOutput: { line: number; fallback: boolean } | undefined): unknown {
  if (e.t === 'lit') return e.value;
  if (e.t === 'var') {
    const v = lookupPath(f, e.path);
    if (v !== MISSING) return v;
    if (inOutput && !inOutput.fallback) f.rec.miss(e.text, inOutput.line);
    return inOutput ? '' : null;
  }
  const input = evalExpr(e.input, f, inOutput);
  const arg = e.arg ? evalExpr(e.arg, f, inOutput) : undefined;
  const ctx: FilterContext = {
    autoescape: f.autoescape,
    now: f.now,
    missing: (key: string) => {
      if (inOutput && !inOutput.fallback) f.rec.miss(`${exprText(e.input)}.${key}`, inOutput.line);
    },
    hasArg: e.arg !== undefined,
  };
  return KLAVIYO_FILTERS[e.name]!(input, arg, ctx);
}

function evalCond(c: Cond, f: Frame): boolean {
  switch (c.t) {
    case 'or':
      return evalCond(c.a, f) || evalCond(c.b, f);
    case 'and':
      return evalCond(c.a, f) && evalCond(c.b, f);
    case 'not':
      return !evalCond(c.a, f);
    case 'val':
      return pyTruthy(evalExpr(c.e, f, undefined));
    case 'cmp': {
      const a = evalExpr(c.a, f, undefined);
      const b = evalExpr(c.b, f, undefined);
      switch (c.op) {
        case '==':
          return pyEquals(a, b);
        case '!=':
          return !pyEquals(a, b);
        case 'in':
          return pyIn(a, b);
        case 'not in':
          return !pyIn(a, b);
        case 'is':
          return plain(a) === plain(b) || (a == null && b == null);
        case 'is not':
          return !(plain(a) === plain(b) || (a == null && b == null));
        default: {
          const d = pyCompare(a, b);
          if (d === undefined) return false;
          return c.op === '<' ? d < 0 : c.op === '>' ? d > 0 : c.op === '<=' ? d <= 0 : d >= 0;
        }
      }
    }
  }
}

function print(v: unknown, f: Frame): string {
  if (v instanceof SafeString) return v.value;
  const s = pyStr(v);
  return f.autoescape ? djangoEscape(s) : s;
}

function iterable(v: unknown): unknown[] {
  v = plain(v);
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (v && typeof v === 'object' && !(v instanceof Date)) return Object.keys(v);
  return [];
}

function renderNodes(nodes: Node[], f: Frame, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.s);
        break;
      case 'out':
        out.push(print(evalExpr(n.e, f, { line: n.line, fallback: n.fallback }), f));
        break;
      case 'if': {
        const i = n.branches.findIndex((b) => evalCond(b.cond, f));
        f.rec.branch(n.id, i < 0 ? n.branches.length : i);
        renderNodes(i < 0 ? n.else : n.branches[i]!.body, f, out);
        break;
      }
      case 'for': {
        let items = iterable(evalExpr(n.iter, f, undefined));
        if (n.reversed) items = [...items].reverse();
        if (!items.length) {
          f.rec.branch(n.id, 1);
          renderNodes(n.empty, f, out);
          break;
        }
        const parent = lookupPath(f, ['forloop']);
        const scope: Record<string, unknown> = {};
        f.scopes.push(scope);
        items.forEach((item, i) => {
          f.rec.branch(n.id, 0);
          f.rec.iterate(n.id);
          scope.forloop = {
            counter: i + 1,
            counter0: i,
            revcounter: items.length - i,
            revcounter0: items.length - i - 1,
            first: i === 0,
            last: i === items.length - 1,
            parentloop: parent === MISSING ? {} : parent,
          };
          if (n.vars.length === 1) scope[n.vars[0]!] = item;
          else {
            const parts = iterable(item);
            n.vars.forEach((v, k) => (scope[v] = parts[k]));
          }
          renderNodes(n.body, f, out);
        });
        f.scopes.pop();
        break;
      }
      case 'with': {
        const scope: Record<string, unknown> = {};
        for (const [k, e] of n.assigns) scope[k] = evalExpr(e, f, undefined);
        f.scopes.push(scope);
        renderNodes(n.body, f, out);
        f.scopes.pop();
        break;
      }
      case 'autoescape': {
        const was = f.autoescape;
        f.autoescape = n.on;
        renderNodes(n.body, f, out);
        f.autoescape = was;
        break;
      }
      case 'firstof': {
        const v = n.args.map((e) => evalExpr(e, f, undefined)).find(pyTruthy);
        out.push(v === undefined ? '' : print(v, f));
        break;
      }
      case 'assignTag': {
        const value = klaviyoTag(n, f);
        if (n.as) f.scopes[f.scopes.length - 1]![n.as] = value;
        else out.push(value instanceof SafeString ? value.value : print(value, f));
        break;
      }
    }
  }
}

/** Klaviyo's own tags, rendered as a preview would show them (links point at reserved `.invalid` hosts). */
function klaviyoTag(n: Extract<Node, { t: 'assignTag' }>, f: Frame): unknown {
  const args = n.args.map((e) => evalExpr(e, f, undefined));
  const link = KLAVIYO_LINK_TAGS[n.name];
  if (link) {
    const text = args[0] !== undefined ? print(args[0], f) : link.text;
    return new SafeString(`<a href="${link.href}">${text}</a>`);
  }
  switch (n.name) {
    case 'unsubscribe_link':
      return new SafeString(KLAVIYO_LINK_TAGS.unsubscribe!.href);
    case 'manage_preferences_link':
      return new SafeString(KLAVIYO_LINK_TAGS.manage_preferences!.href);
    case 'web_view_link':
      return new SafeString(KLAVIYO_LINK_TAGS.web_view!.href);
    case 'today':
    case 'now':
      return strftime(f.now, pyStr(plain(args[0] ?? '%Y-%m-%d')));
    case 'currency_format':
      return currencyFormat(plain(args[0]), pyStr(plain(args[1] ?? 'USD')));
    case 'coupon_code':
      return `PREVIEW-${pyStr(plain(args[0] ?? 'COUPON'))
        .toUpperCase()
        .replace(/\W+/g, '-')}`;
    default:
      return '';
  }
}

class KlaviyoTemplate implements CompiledTemplate {
  readonly dialect = 'klaviyo' as const;
  constructor(
    private readonly nodes: Node[],
    readonly analysis: TemplateAnalysis,
  ) {}

  render(context: Record<string, unknown>): RenderResult {
    const rec = new RenderRecorder();
    const out: string[] = [];
    const frame: Frame = { scopes: [context], rec, autoescape: true, now: renderNow(context) };
    withRecorder(rec, () => renderNodes(this.nodes, frame, out));
    return rec.result(out.join(''));
  }
}

function pick(o: Record<string, FieldValue>, keys: string[]): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

export const klaviyoDialect: Dialect = {
  name: 'klaviyo',
  compile(source: string, file: string): CompiledTemplate {
    const p = new TemplateParser(lex(source, file), file);
    const nodes = p.parse();
    return new KlaviyoTemplate(nodes, p.analysis);
  },
  shapeContext(s: ScenarioData): Record<string, unknown> {
    const fields = profileFields(s);
    const event = triggerEvent(s);
    const person: Record<string, unknown> = { ...fields, tags: s.tags };
    const base: Record<string, unknown> = {
      person,
      ...pick(fields, ['first_name', 'last_name', 'email', 'phone_number']),
      event: event ? { ...event.properties, extra: event.properties } : {},
      // Settings > Organization: the sender's address Klaviyo's footers print (`{{ organization.full_address }}`).
      organization: {
        name: 'Segsync Demo Store',
        url: 'https://example.com',
        full_address: '1 Example Street, Springfield, IL 12345',
        street_address: '1 Example Street',
        street_address2: '',
        city: 'Springfield',
        region: 'IL',
        zip_code: '12345',
      },
    };
    const ctx = deepMerge(base, s.context);
    if (s.now !== undefined) ctx.__now = s.now;
    return ctx;
  },
};
