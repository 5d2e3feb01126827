/**
 * Liquid (Shopify, Braze, Customer.io) on liquidjs. Branches are instrumented on the parsed AST: a
 * zero-width marker template is put at the head of every branch of `if`/`unless`/`case`/`for`, so the
 * engine's own evaluation decides the branch and the marker only records it. Branch lines come from
 * liquidjs's tokenizer (the AST does not keep the positions of `elsif`/`else`/`when`).
 */
import {
  AssignTag,
  CaptureTag,
  CaseTag,
  CommentTag,
  Drop,
  ForTag,
  IfTag,
  InlineCommentTag,
  Liquid,
  Output,
  TablerowTag,
  Tokenizer,
  TypeGuards,
  UnlessTag,
  defaultOperators,
  evalQuotedToken,
} from 'liquidjs';
import type { Context, Emitter, Template, TagToken, Token, Value } from 'liquidjs';
import type { FieldValue } from '../../model/types';
import type { Branch, CompiledTemplate, ConditionUse, ConditionalBlock, Dialect, OutputUse, ScenarioData } from './dialect';
import { labelOf, templateError } from './located';
import { scopedPath } from './loops';
import type { LoopScope } from './loops';
import { RenderRecorder, activeRecorder, watchUndefined, withRecorder } from './recorder';
import { deepMerge, profileFields, triggerEvent } from './shape';

const BLOCK_TAGS: Record<string, { kind: ConditionalBlock['kind']; middles: string[]; end: string }> = {
  if: { kind: 'if', middles: ['elsif', 'else'], end: 'endif' },
  unless: { kind: 'unless', middles: ['elsif', 'else'], end: 'endunless' },
  case: { kind: 'case', middles: ['when', 'else'], end: 'endcase' },
  for: { kind: 'for', middles: ['else'], end: 'endfor' },
  tablerow: { kind: 'for', middles: [], end: 'endtablerow' },
};

interface ScannedBlock {
  kind: ConditionalBlock['kind'];
  line: number;
  column: number;
  branches: Branch[];
  /** Line and column of the tag opening each branch in `branches`. */
  at: [number, number][];
  middles: string[];
  end: string;
  endLine: number;
}

/** The engine, configured: strict filters (an unknown filter is an error, not `[object Object]`). */
export function createEngine(): Liquid {
  // Shopify's `<>` is `!=`; liquidjs has no such operator and reads `a <> b` as two values and two operators.
  const engine = new Liquid({
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    operators: { ...defaultOperators, '<>': defaultOperators['!=']! },
  });
  // Shopify divides integers with integer division (`20 | divided_by: 7` is 2, `20 | divided_by: 7.0`
  // is 2.857…); liquidjs divides as floats unless given a third argument. JSON numbers cannot tell 7
  // from 7.0, so a divisor written with a decimal point, or a fractional value, means float division.
  engine.registerFilter('divided_by', function (this: { token?: { args?: unknown[] } }, dividend: unknown, divisor: unknown) {
    const a = typeof dividend === 'number' ? dividend : Number(dividend);
    const b = typeof divisor === 'number' ? divisor : Number(divisor);
    if (divisor === undefined || divisor === null || Number.isNaN(b)) throw new Error('divided_by: the divisor is not a number');
    if (b === 0) throw new Error('divided_by: division by zero');
    const x = Number.isNaN(a) || dividend === '' || dividend === null || dividend === undefined ? 0 : a;
    const argToken = this.token?.args?.[0] as { getText?: () => string } | undefined;
    const floatArg = argToken?.getText?.().includes('.') ?? false;
    return Number.isInteger(x) && Number.isInteger(b) && !floatArg ? Math.floor(x / b) : x / b;
  });
  engine.registerFilter('default', shopifyDefault);
  const parse = engine.parse.bind(engine);
  engine.parse = (html: string, filepath?: string) => {
    const templates = parse(html, filepath);
    suppressBlankBlocks(templates);
    return templates;
  };
  return engine;
}

/** The template lists (branch bodies) of a block tag, or undefined for anything else. */
function bodiesOf(tpl: Template): Template[][] | undefined {
  if (tpl instanceof IfTag || tpl instanceof UnlessTag || tpl instanceof CaseTag)
    return [...tpl.branches.map((b) => b.templates), ...(tpl.elseTemplates ? [tpl.elseTemplates] : [])];
  if (tpl instanceof ForTag) return [tpl.templates, tpl.elseTemplates];
  return undefined;
}

const isWhitespaceHtml = (tpl: Template): boolean => TypeGuards.isHTMLToken(tpl.token) && /^\s*$/.test((tpl as unknown as { str?: string }).str ?? '');

/** Liquid's `blank?`: whitespace, assign, capture, comments, and blocks whose every body is blank. */
function isBlank(tpl: Template): boolean {
  if (isWhitespaceHtml(tpl)) return true;
  if (tpl instanceof AssignTag || tpl instanceof CaptureTag || tpl instanceof CommentTag || tpl instanceof InlineCommentTag) return true;
  return bodiesOf(tpl)?.every((list) => list.every(isBlank)) ?? false;
}

/**
 * Shopify renders nothing for the whitespace of an `if`/`unless`/`case`/`for` whose every body is
 * blank (only whitespace, assigns, captures, comments); liquidjs prints that whitespace. Removing the
 * whitespace-only text from such blocks after parsing gives Shopify's output; tags still run.
 */
function suppressBlankBlocks(templates: Template[]): void {
  for (const tpl of templates) {
    const bodies = bodiesOf(tpl);
    if (!bodies) continue;
    for (const list of bodies) suppressBlankBlocks(list);
    if (!isBlank(tpl)) continue;
    for (const list of bodies) {
      for (let i = list.length - 1; i >= 0; i--) if (isWhitespaceHtml(list[i]!)) list.splice(i, 1);
    }
  }
}

/** A keyword argument as liquidjs hands it to a filter: `allow_false: true` → ['allow_false', true]. */
const isAllowFalse = (a: unknown): a is [string, unknown] => Array.isArray(a) && a.length === 2 && a[0] === 'allow_false';

/**
 * Shopify's `default`: the fallback replaces nil, false (unless `allow_false: true`), an empty string,
 * an empty list and an empty hash (liquidjs keeps `{}`), and the keyword may come before the value.
 */
function shopifyDefault(value: unknown, ...args: unknown[]): unknown {
  const fallback = args.find((a) => !isAllowFalse(a)) ?? '';
  const allowFalse = args.some((a) => isAllowFalse(a) && a[1] === true);
  const v = value instanceof Drop ? value.valueOf() : value;
  if (v === undefined || v === null) return fallback;
  if (v === false) return allowFalse ? false : fallback;
  if (typeof v === 'string' || Array.isArray(v)) return v.length ? v : fallback;
  if (Object.prototype.toString.call(v) === '[object Object]' && !(v instanceof Drop) && Object.keys(v as object).length === 0) return fallback;
  return v;
}

/**
 * How many positional arguments Shopify's standard filters take ([min, max]), from Shopify's filter
 * reference (https://shopify.dev/docs/api/liquid/filters). liquidjs ignores extra arguments and fills
 * missing ones with nil; Shopify raises, and an email with `| round: 2, 3` should not go out as if fine.
 */
const FILTER_ARITY: Record<string, [number, number]> = {
  abs: [0, 0],
  append: [1, 1],
  at_least: [1, 1],
  at_most: [1, 1],
  base64_decode: [0, 0],
  base64_encode: [0, 0],
  capitalize: [0, 0],
  ceil: [0, 0],
  compact: [0, 1],
  concat: [1, 1],
  date: [1, 1],
  default: [0, 1],
  divided_by: [1, 1],
  downcase: [0, 0],
  escape: [0, 0],
  escape_once: [0, 0],
  find: [1, 2],
  find_index: [1, 2],
  first: [0, 0],
  floor: [0, 0],
  has: [1, 2],
  join: [0, 1],
  last: [0, 0],
  lstrip: [0, 0],
  map: [1, 1],
  minus: [1, 1],
  modulo: [1, 1],
  newline_to_br: [0, 0],
  plus: [1, 1],
  prepend: [1, 1],
  reject: [1, 2],
  remove: [1, 1],
  remove_first: [1, 1],
  remove_last: [1, 1],
  replace: [1, 2],
  replace_first: [1, 2],
  replace_last: [2, 2],
  reverse: [0, 0],
  round: [0, 1],
  rstrip: [0, 0],
  size: [0, 0],
  slice: [1, 2],
  sort: [0, 1],
  sort_natural: [0, 1],
  split: [1, 1],
  strip: [0, 0],
  strip_html: [0, 0],
  strip_newlines: [0, 0],
  sum: [0, 1],
  times: [1, 1],
  truncate: [0, 2],
  truncatewords: [0, 2],
  uniq: [0, 1],
  upcase: [0, 0],
  url_decode: [0, 0],
  url_encode: [0, 0],
  where: [1, 2],
};

/** Refuses a standard filter given the wrong number of arguments, at the output that uses it. */
function checkFilterArity(filters: { name: string; args: unknown[] }[], file: string, line: number, column: number): void {
  for (const f of filters) {
    const arity = FILTER_ARITY[f.name];
    if (!arity) continue;
    const n = f.args.filter((a) => !Array.isArray(a)).length;
    if (n < arity[0] || n > arity[1]) {
      const wants = arity[0] === arity[1] ? `${arity[0]}` : `${arity[0]} to ${arity[1]}`;
      throw templateError(
        `liquid: the ${f.name} filter takes ${wants} argument${arity[1] === 1 && arity[0] === 1 ? '' : 's'}, here ${n}`,
        file,
        line,
        column,
        `see https://shopify.dev/docs/api/liquid/filters/${f.name}`,
      );
    }
  }
}

/** Finds every block tag with the line of each of its branches, keyed by the opening tag's offset. */
function scanBlocks(source: string, file: string, engine: Liquid): Map<number, ScannedBlock> {
  const tokens = new Tokenizer(source, engine.options.operators, file).readTopLevelTokens(engine.options);
  const found = new Map<number, ScannedBlock>();
  const stack: ScannedBlock[] = [];
  let commentDepth = 0;
  for (const t of tokens) {
    if (!TypeGuards.isTagToken(t)) continue;
    const tag = t as TagToken;
    if (tag.name === 'comment') commentDepth++;
    else if (tag.name === 'endcomment') commentDepth = Math.max(0, commentDepth - 1);
    if (commentDepth > 0 || tag.name === 'endcomment') continue;
    const [line = 1, column = 1] = tag.getPosition();
    const spec = BLOCK_TAGS[tag.name];
    const top = stack[stack.length - 1];
    if (spec) {
      const first: Branch = { label: labelOf(`${tag.name} ${tag.args}`), line };
      const block: ScannedBlock = {
        kind: spec.kind,
        line,
        column,
        branches: spec.kind === 'case' ? [] : [first],
        at: spec.kind === 'case' ? [] : [[line, column]],
        middles: spec.middles,
        end: spec.end,
        endLine: line,
      };
      found.set(tag.begin, block);
      stack.push(block);
    } else if (top && tag.name === top.end) {
      top.endLine = line;
      stack.pop();
    } else if (top && top.middles.includes(tag.name)) {
      top.branches.push({ label: labelOf(tag.args ? `${tag.name} ${tag.args}` : tag.name), line });
      top.at.push([line, column]);
    }
  }
  return found;
}

/**
 * Braze writes attributes as `${first_name}` inside Liquid tags (`{{${first_name} | default: 'there'}}`,
 * `{{custom_attribute.${points}}}`); liquidjs cannot parse that, so the sigil is dropped inside
 * `{{ }}` and `{% %}` before parsing. Only columns move; lines stay.
 */
export function lowerBraze(source: string): string {
  return source.replace(/\{\{[\s\S]*?\}\}(?!\})|\{%[\s\S]*?%\}/g, (tag) => tag.replace(/\$\{([A-Za-z_][\w]*)\}/g, '$1'));
}

/** A template that renders nothing and records that its branch was taken. */
function marker(id: string, index: number, loop: boolean): Template {
  return {
    token: undefined as unknown as Token,
    render(): string {
      const rec = activeRecorder();
      if (rec) {
        rec.branch(id, index);
        if (loop) rec.iterate(id);
      }
      return '';
    },
  } as unknown as Template;
}

/** Property paths and compared literals in a condition (liquidjs keeps it as a postfix token list). */
function conditionUses(value: Value, line: number): ConditionUse[] {
  const uses: ConditionUse[] = [];
  const stack: { path?: string; literal?: FieldValue }[] = [];
  for (const tok of value.initial.postfix) {
    if (TypeGuards.isOperatorToken(tok)) {
      const op = tok.operator;
      if (op === 'not') {
        stack.pop();
        stack.push({});
        continue;
      }
      const b = stack.pop() ?? {};
      const a = stack.pop() ?? {};
      if (op === 'and' || op === 'or') {
        for (const x of [a, b]) if (x.path) uses.push({ path: x.path, line });
      } else {
        const cmp = ((op as string) === '<>' ? '!=' : op) as ConditionUse['op'];
        if (a.path && b.literal !== undefined) uses.push({ path: a.path, op: cmp, value: b.literal, line });
        else if (b.path && a.literal !== undefined) uses.push({ path: b.path, op: flip(cmp), value: a.literal, line });
        else for (const x of [a, b]) if (x.path) uses.push({ path: x.path, line });
      }
      stack.push({});
    } else stack.push(operand(tok));
  }
  for (const x of stack) if (x.path) uses.push({ path: x.path, line });
  return uses;
}

function flip(op: ConditionUse['op']): ConditionUse['op'] {
  return op === '>' ? '<' : op === '<' ? '>' : op === '>=' ? '<=' : op === '<=' ? '>=' : op;
}

function operand(tok: Token): { path?: string; literal?: FieldValue } {
  if (TypeGuards.isPropertyAccessToken(tok))
    return {
      path: tok
        .getText()
        .replace(/\[(\d+)\]/g, '.$1')
        .replace(/\["([^"]+)"\]|\['([^']+)'\]/g, '.$1$2'),
    };
  if (TypeGuards.isQuotedToken(tok)) return { literal: evalQuotedToken(tok) };
  if (TypeGuards.isNumberToken(tok)) return { literal: tok.content };
  if (TypeGuards.isLiteralToken(tok)) {
    const c = tok.literal;
    return { literal: c === 'true' ? true : c === 'false' ? false : c === 'empty' || c === 'blank' ? '' : null };
  }
  return {};
}

class LiquidTemplate implements CompiledTemplate {
  readonly dialect = 'liquid' as const;
  readonly analysis: { blocks: ConditionalBlock[]; conditions: ConditionUse[]; outputs: OutputUse[] } = { blocks: [], conditions: [], outputs: [] };
  private readonly loops: LoopScope[] = [];

  constructor(
    private readonly engine: Liquid,
    private readonly templates: Template[],
    private readonly file: string,
    scanned: Map<number, ScannedBlock>,
  ) {
    this.instrument(templates, scanned);
  }

  render(context: Record<string, unknown>): ReturnType<CompiledTemplate['render']> {
    const rec = new RenderRecorder();
    let html: string;
    try {
      html = withRecorder(rec, () => this.engine.renderSync(this.templates, watchUndefined(context)) as string);
    } catch (err) {
      throw locate(err, this.file);
    }
    return rec.result(html);
  }

  private instrument(templates: Template[], scanned: Map<number, ScannedBlock>): void {
    for (const tpl of templates) {
      if (tpl instanceof Output) this.instrumentOutput(tpl);
      const tag = tpl as unknown as { token?: TagToken };
      const block = tag.token ? scanned.get(tag.token.begin) : undefined;
      if (block && (tpl instanceof IfTag || tpl instanceof UnlessTag || tpl instanceof CaseTag || tpl instanceof ForTag)) {
        this.instrumentBlock(tpl, block);
      } else if (block && tpl instanceof TablerowTag) this.instrumentTablerow(tpl, block);
      const children = childrenOf(tpl);
      const loop = tpl instanceof ForTag || tpl instanceof TablerowTag ? tpl : undefined;
      const collection = loop && TypeGuards.isPropertyAccessToken(loop.collection) ? operand(loop.collection).path : undefined;
      if (loop && collection) this.loops.push({ variable: loop.variable, collection: scopedPath(collection, this.loops) });
      if (children.length) this.instrument(children, scanned);
      if (collection) this.loops.pop();
    }
  }

  private instrumentBlock(tpl: IfTag | UnlessTag | CaseTag | ForTag, block: ScannedBlock): void {
    const id = `L${block.line}:${block.column}`;
    const branches = [...block.branches];
    const lists: Template[][] = [];
    if (tpl instanceof ForTag) {
      lists.push(tpl.templates);
      const collection = TypeGuards.isPropertyAccessToken(tpl.collection) ? operand(tpl.collection).path : undefined;
      if (collection) this.analysis.conditions.push({ path: scopedPath(collection, this.loops), line: block.line });
      if (branches.length === 1) branches.push({ label: '(no items)', line: block.endLine, implicit: true });
      lists.push(tpl.elseTemplates);
    } else if (tpl instanceof CaseTag) {
      for (const b of tpl.branches) lists.push(b.templates);
      const subject = tpl.value.initial.postfix[0];
      const path = subject && tpl.value.initial.postfix.length === 1 ? operand(subject).path : undefined;
      if (path) {
        for (const b of tpl.branches) {
          for (const v of b.values) {
            const lit = operand(v as Token).literal;
            if (lit !== undefined) this.analysis.conditions.push({ path: scopedPath(path, this.loops), op: '==', value: lit, line: block.line });
          }
        }
      }
      const hasElse = branches.length > tpl.branches.length;
      if (!hasElse) branches.push({ label: '(no match)', line: block.endLine, implicit: true });
      lists.push(tpl.elseTemplates);
    } else {
      tpl.branches.forEach((b, i) => {
        const [line, column] = block.at[i] ?? [block.line, block.column];
        checkCondition(b.value, branches[i]?.label ?? '', this.file, line, column);
        lists.push(b.templates);
        this.analysis.conditions.push(...conditionUses(b.value, block.line).map((u) => ({ ...u, path: scopedPath(u.path, this.loops) })));
      });
      // liquidjs starts IfTag without else templates but UnlessTag with an empty list, so whether the
      // template wrote an `else` comes from the tokenizer's branch count, never from the AST.
      if (branches.length === tpl.branches.length) {
        tpl.elseTemplates ??= [];
        branches.push({ label: '(no else)', line: block.endLine, implicit: true });
      }
      lists.push((tpl.elseTemplates ??= []));
    }
    if (branches.length !== lists.length) return;
    lists.forEach((list, i) => list.unshift(marker(id, i, tpl instanceof ForTag && i === 0)));
    this.analysis.blocks.push({ id, kind: block.kind, line: block.line, column: block.column, branches });
  }

  /**
   * `tablerow` has no else to hold a marker, so its render is wrapped: a render that iterated no item
   * records the implicit "(no items)" branch.
   */
  private instrumentTablerow(tpl: TablerowTag, block: ScannedBlock): void {
    const id = `L${block.line}:${block.column}`;
    const collection = TypeGuards.isPropertyAccessToken(tpl.collection) ? operand(tpl.collection).path : undefined;
    if (collection) this.analysis.conditions.push({ path: scopedPath(collection, this.loops), line: block.line });
    // liquidjs's tablerow never resets `break`, so after one every later iteration renders only its first
    // template: a marker put first would change the output. The first template records instead.
    const first = tpl.templates[0];
    if (!first) tpl.templates.push(marker(id, 0, true));
    else {
      const renderFirst = first.render.bind(first);
      first.render = ((ctx: Context, emitter: Emitter) => {
        const rec = activeRecorder();
        rec?.branch(id, 0);
        rec?.iterate(id);
        return renderFirst(ctx, emitter);
      }) as Template['render'];
    }
    const render = tpl.render.bind(tpl);
    tpl.render = function* (ctx: Context, emitter: Emitter) {
      const rec = activeRecorder();
      const before = rec?.iterations.get(id) ?? 0;
      const result: unknown = yield* render(ctx, emitter);
      if (rec && (rec.iterations.get(id) ?? 0) === before) rec.branch(id, 1);
      return result;
    } as TablerowTag['render'];
    this.analysis.blocks.push({
      id,
      kind: 'for',
      line: block.line,
      column: block.column,
      branches: [...block.branches, { label: '(no items)', line: block.endLine, implicit: true }],
    });
  }

  private instrumentOutput(out: Output): void {
    const [line = 1, column = 1] = out.token.getPosition();
    checkFilterArity(out.value.filters, this.file, line, column);
    const hasFallback = out.value.filters.some((f) => f.name === 'default');
    for (const tok of out.value.initial.postfix) {
      const path = operand(tok).path;
      if (path) this.analysis.outputs.push({ path, line, hasFallback });
    }
    const render = out.render.bind(out);
    out.render = function* (ctx: Context, emitter: Emitter) {
      const rec = activeRecorder();
      if (!rec) return yield* render(ctx, emitter);
      rec.outputLine = line;
      rec.outputHasFallback = hasFallback;
      try {
        return yield* render(ctx, emitter);
      } finally {
        rec.outputLine = undefined;
        rec.outputHasFallback = false;
      }
    } as Output['render'];
  }
}

/**
 * Refuses a condition liquidjs would evaluate leniently: `a ==` (an operator short of an operand) or
 * `a b` (two values without an operator). Shopify's strict parser rejects both; liquidjs renders them
 * silently, and an email would go out with whatever branch that happens to pick.
 */
function checkCondition(value: Value, label: string, file: string, line: number, column: number): void {
  let depth = 0;
  for (const tok of value.initial.postfix) {
    if (TypeGuards.isOperatorToken(tok)) {
      const unary = tok.operator === 'not';
      if (depth < (unary ? 1 : 2))
        throw templateError(
          `liquid: {% ${label} %}: "${tok.operator}" needs a value on ${unary ? 'its right' : 'each side'}`,
          file,
          line,
          column,
          'complete the comparison, e.g. {% if customer.tier == "gold" %}',
        );
      if (!unary) depth--;
    } else depth++;
  }
  if (depth > 1)
    throw templateError(
      `liquid: {% ${label} %}: two values without an operator between them`,
      file,
      line,
      column,
      'join them with ==, !=, >, <, >=, <=, contains, and or or',
    );
}

/** A template's child templates (liquidjs exposes them through a generator that returns the list). */
function childrenOf(tpl: Template): Template[] {
  const t = tpl as unknown as { children?: () => Generator<unknown, Template[]> };
  if (typeof t.children !== 'function') return [];
  const it = t.children();
  let r = it.next();
  while (!r.done) r = it.next();
  return r.value ?? [];
}

/** liquidjs's messages in plain words, with a hint where the fix is clear. */
function plainMessage(message: string): { text: string; hint?: string } {
  const unclosed = /^tag (\{%-?\s*(\w+)[\s\S]*?%\}) not closed$/.exec(message);
  if (unclosed) return { text: `${labelOf(unclosed[1]!)} opened here is never closed`, hint: `add {% end${unclosed[2]!} %} where the block should end` };
  const filter = /^undefined filter: (.+)$/.exec(message);
  if (filter) return { text: `unknown filter "${filter[1]!}"`, hint: 'check the filter name; Shopify, Braze and Customer.io would not render it' };
  const tag = /^tag "(.+)" not found$/.exec(message);
  if (tag && /^end/.test(tag[1]!))
    return { text: `{% ${tag[1]!} %} closes a block that was never opened`, hint: 'remove it, or add the opening tag it belongs to' };
  if (tag) return { text: `unknown tag {% ${tag[1]!} %}`, hint: 'check the tag name' };
  return { text: message };
}

/** Errors liquidjs raises carry the token they failed at. */
function locate(err: unknown, file: string): Error {
  const e = err as { message?: string; token?: { getPosition?: () => [number, number] } };
  const pos = e.token?.getPosition?.();
  const message = (e.message ?? String(err)).replace(/(, file:[^,]*)?, line:\d+, col:\d+$/, '').replace(/, file:[^,]*$/, '');
  const { text, hint } = plainMessage(message);
  return templateError(`liquid: ${text}`, file, pos?.[0], pos?.[1], hint);
}

export const liquidDialect: Dialect = {
  name: 'liquid',
  compile(source: string, file: string): CompiledTemplate {
    const engine = createEngine();
    let templates: Template[];
    let scanned: Map<number, ScannedBlock>;
    try {
      const lowered = source.includes('${') ? lowerBraze(source) : source;
      scanned = scanBlocks(lowered, file, engine);
      templates = engine.parse(lowered, file);
    } catch (err) {
      throw locate(err, file);
    }
    return new LiquidTemplate(engine, templates, file, scanned);
  },
  shapeContext(s: ScenarioData): Record<string, unknown> {
    const fields = profileFields(s);
    const event = triggerEvent(s);
    const base: Record<string, unknown> = {
      ...fields,
      customer: { ...fields, tags: s.tags },
      custom_attribute: fields,
      tags: s.tags,
      segments: s.segments,
      events: s.events,
      event: event ? { name: event.name, ...event.properties } : {},
    };
    return deepMerge(base, s.context);
  },
};
