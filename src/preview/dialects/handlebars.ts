/**
 * Handlebars as SendGrid dynamic templates and Mandrill (`merge_language: handlebars`) run it, on
 * handlebars.js with both vendors' helpers. Two small pre-passes make Mandrill's extensions parse:
 * `{{elseif …}}` becomes `{{else if …}}`, and a backtick comparison becomes `(__cmp "…")`; both keep
 * line numbers. Branches are instrumented by wrapping the block helpers: Handlebars hands every helper
 * `options.loc`, which identifies the block in the parsed AST; `{{else if}}` chains are folded into
 * their head block. Bare `{{path}}` outputs are rewritten in the AST to `{{__out path}}` so a missing
 * value is reported with its line.
 */
import Handlebars from 'handlebars';
import type { HelperOptions } from 'handlebars';
import type { Branch, CompiledTemplate, ConditionUse, ConditionalBlock, Dialect, RenderResult, ScenarioData, TemplateAnalysis } from './dialect';
import { checkHelpers, handlebarsParseError } from './handlebars-errors';
import type { HbNode, HbPath, Loc } from './handlebars-errors';
import { MANDRILL_HELPERS, SENDGRID_HELPERS } from './handlebars-helpers';
import { labelOf, templateError } from './located';
import { scopedPath } from './loops';
import type { LoopScope } from './loops';
import { RenderRecorder, activeRecorder, withRecorder } from './recorder';
import { deepMerge, profileFields, triggerEvent } from './shape';

interface HbProgram extends HbNode {
  body: HbNode[];
  chained?: boolean;
}
interface HbBlock extends HbNode {
  path: HbPath;
  params: HbNode[];
  program: HbProgram;
  inverse?: HbProgram;
}

/** Block helpers whose branches are recorded, with the comparison each one makes. */
const BRANCHING: Record<string, ConditionUse['op'] | 'truthy' | 'loop'> = {
  if: 'truthy',
  unless: 'truthy',
  each: 'loop',
  with: 'truthy',
  equals: '==',
  notEquals: '!=',
  greaterThan: '>',
  lessThan: '<',
  and: 'truthy',
  or: 'truthy',
};

interface BlockRef {
  id: string;
  branch: number;
  chainedInverse: boolean;
  loop: boolean;
}

let activeBlocks: Map<string, BlockRef> | undefined;

const locKey = (loc: Loc): string => `${loc.start.line}:${loc.start.column}`;

function createEngine(): typeof Handlebars {
  const hb = Handlebars.create();
  for (const [name, fn] of Object.entries({ ...SENDGRID_HELPERS, ...MANDRILL_HELPERS })) hb.registerHelper(name, fn as Handlebars.HelperDelegate);
  for (const name of Object.keys(BRANCHING)) {
    const original = hb.helpers[name] as unknown as (this: unknown, ...a: unknown[]) => unknown;
    hb.registerHelper(name, function (this: unknown, ...args: unknown[]) {
      const options = args[args.length - 1] as HelperOptions & { loc?: Loc };
      const ref = options.loc ? activeBlocks?.get(locKey(options.loc)) : undefined;
      const rec = activeRecorder();
      if (!ref || !rec || typeof options.fn !== 'function') return original.apply(this, args);
      const wrapped: HelperOptions = {
        ...options,
        fn: (ctx: unknown, o?: unknown) => {
          rec.branch(ref.id, ref.branch);
          if (ref.loop) rec.iterate(ref.id);
          return options.fn(ctx, o as never);
        },
        inverse: (ctx: unknown, o?: unknown) => {
          if (!ref.chainedInverse) rec.branch(ref.id, ref.branch + 1);
          return options.inverse(ctx, o as never);
        },
      };
      return original.apply(this, [...args.slice(0, -1), wrapped]);
    });
  }
  hb.registerHelper('__val', function (value: unknown, options: HelperOptions) {
    if (value === undefined || value === null) activeRecorder()?.miss(String(options.hash.path), Number(options.hash.line));
    return value;
  });
  hb.registerHelper('__out', function (this: unknown, value: unknown, options: HelperOptions) {
    const v = typeof value === 'function' ? (value as (this: unknown) => unknown).call(this) : value;
    if (v === undefined || v === null) activeRecorder()?.miss(String(options.hash.path), Number(options.hash.line));
    return v;
  });
  return hb;
}

const engine = createEngine();

/** Mandrill's extensions, lowered to standard Handlebars without changing line numbers. */
export function lowerMandrill(source: string): string {
  return source
    .replace(/\{\{(~?)\s*elseif\s/g, '{{$1else if ')
    .replace(
      /(\{\{~?\s*(?:#if|#unless|else if)\s+)`([^`\n]*)`/g,
      (_m, head: string, expr: string) => `${head}(__cmp "${expr.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}")`,
    );
}

class Analyzer {
  readonly analysis: TemplateAnalysis = { blocks: [], conditions: [], outputs: [] };
  readonly refs = new Map<string, BlockRef>();
  private readonly loops: LoopScope[] = [];

  walk(node: HbNode | undefined): void {
    if (!node) return;
    if (node.type === 'Program') for (const n of (node as HbProgram).body) this.walk(n);
    else if (node.type === 'BlockStatement') this.block(node as HbBlock, undefined);
    else if (node.type === 'MustacheStatement') this.mustache(node);
  }

  private block(b: HbBlock, chain: { block: ConditionalBlock; branch: number } | undefined): void {
    const kind = BRANCHING[b.path.original];
    if (!kind || !b.loc) {
      this.walk(b.program);
      this.walk(b.inverse);
      return;
    }
    const line = b.loc.start.line;
    let block: ConditionalBlock;
    let branch: number;
    if (chain) {
      block = chain.block;
      branch = chain.branch;
      block.branches.push({ label: labelOf(`else ${b.path.original} ${this.paramsText(b)}`), line });
    } else {
      block = {
        id: `L${line}:${b.loc.start.column + 1}`,
        kind: b.path.original === 'each' ? 'for' : b.path.original === 'if' || b.path.original === 'unless' ? (b.path.original as 'if') : 'helper',
        line,
        column: b.loc.start.column + 1,
        branches: [],
      };
      this.analysis.blocks.push(block);
      branch = 0;
      block.branches.push({ label: labelOf(`#${b.path.original} ${this.paramsText(b)}`), line });
    }
    const before = this.analysis.conditions.length;
    this.conditionUses(b, kind, line);
    for (const u of this.analysis.conditions.slice(before)) u.path = scopedPath(u.path, this.loops);
    const each = kind === 'loop' && b.params[0]?.type === 'PathExpression' ? scopedPath((b.params[0] as HbPath).original, this.loops) : undefined;
    const inverse = b.inverse;
    const chained = !!inverse?.chained && inverse.body[0]?.type === 'BlockStatement' && BRANCHING[(inverse.body[0] as HbBlock).path.original] !== undefined;
    this.refs.set(locKey(b.loc), { id: block.id, branch, chainedInverse: chained, loop: kind === 'loop' });
    if (each) this.loops.push({ variable: '', collection: each });
    this.walk(b.program);
    if (each) this.loops.pop();
    if (chained) {
      this.block(inverse.body[0] as HbBlock, { block, branch: branch + 1 });
      for (const n of inverse.body.slice(1)) this.walk(n);
    } else {
      const elseLine = inverse?.loc?.start.line ?? b.loc.end.line;
      const implicit: Branch = { label: kind === 'loop' ? '(no items)' : '(no else)', line: b.loc.end.line, implicit: true };
      block.branches.push(inverse ? { label: 'else', line: elseLine } : implicit);
      this.walk(inverse);
    }
  }

  private paramsText(b: HbBlock): string {
    return b.params.map((p) => nodeText(p)).join(' ');
  }

  private conditionUses(b: HbBlock, kind: ConditionUse['op'] | 'truthy' | 'loop', line: number): void {
    const paths = b.params.map((p) => (p.type === 'PathExpression' && !(p as HbPath).data ? (p as HbPath).original : undefined));
    const lits = b.params.map((p) => literal(p));
    for (const p of b.params) {
      if (p.type === 'SubExpression') {
        const sub = p as unknown as HbBlock;
        if (sub.path.original === '__cmp') {
          const expr = literal(sub.params[0]!);
          if (typeof expr === 'string') this.analysis.conditions.push(...backtickUses(expr, line));
        }
        for (const q of sub.params) if (q.type === 'PathExpression') this.analysis.conditions.push({ path: (q as HbPath).original, line });
      }
    }
    if (kind !== 'truthy' && kind !== 'loop' && paths[0] && lits[1] !== undefined)
      this.analysis.conditions.push({ path: paths[0], op: kind, value: lits[1], line });
    else for (const p of paths) if (p) this.analysis.conditions.push({ path: p, line });
  }

  private mustache(m: HbNode): void {
    const path = m.path as HbNode;
    const params = m.params as HbNode[];
    const line = m.loc?.start.line ?? 1;
    if (path.type !== 'PathExpression') return;
    const p = path as HbPath;
    if (
      params.length === 0 &&
      !(m.hash as HbNode | undefined) &&
      !p.data &&
      !engine.helpers[p.parts[0] ?? ''] &&
      !(p.original === 'this' || p.original === '.')
    ) {
      this.analysis.outputs.push({ path: p.original, line, hasFallback: false });
      m.params = [p];
      m.path = { type: 'PathExpression', data: false, depth: 0, parts: ['__out'], original: '__out', loc: p.loc };
      m.hash = { type: 'Hash', pairs: [pair('path', p.original, p.loc), pair('line', line, p.loc)], loc: p.loc };
      return;
    }
    const fallback = p.original === 'insert' && params.length > 1;
    m.params = params.map((q) => {
      if (q.type !== 'PathExpression' || (q as HbPath).data) return q;
      const original = (q as HbPath).original;
      this.analysis.outputs.push({ path: original, line, hasFallback: fallback });
      if (fallback || original === 'this' || original === '.') return q;
      // `{{upper first_name}}`: the helper gets the value through `__val`, which reports it if undefined.
      return {
        type: 'SubExpression',
        path: { type: 'PathExpression', data: false, depth: 0, parts: ['__val'], original: '__val', loc: q.loc },
        params: [q],
        hash: { type: 'Hash', pairs: [pair('path', original, q.loc), pair('line', line, q.loc)], loc: q.loc },
        loc: q.loc,
      };
    });
  }
}

function pair(key: string, value: string | number, loc: Loc | undefined): HbNode {
  return {
    type: 'HashPair',
    key,
    value: typeof value === 'number' ? { type: 'NumberLiteral', value, original: value, loc } : { type: 'StringLiteral', value, original: value, loc },
    loc,
  };
}

function literal(n: HbNode): string | number | boolean | undefined {
  if (n.type === 'StringLiteral' || n.type === 'NumberLiteral' || n.type === 'BooleanLiteral') return n.value as string | number | boolean;
  return undefined;
}

function nodeText(n: HbNode): string {
  if (n.type === 'PathExpression') return (n as HbPath).original;
  if (n.type === 'StringLiteral') return `"${String(n.value)}"`;
  if (n.type === 'SubExpression') {
    const s = n as unknown as HbBlock;
    if (s.path.original === '__cmp') return `\`${String(literal(s.params[0]!))}\``;
    return `(${[s.path.original, ...s.params.map(nodeText)].join(' ')})`;
  }
  const l = literal(n);
  return l === undefined ? n.type : String(l);
}

function backtickUses(expr: string, line: number): ConditionUse[] {
  const out: ConditionUse[] = [];
  for (const part of expr.split(/&&|\|\|/)) {
    const m = /^\s*([A-Za-z_][\w.]*)\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$/.exec(part);
    if (!m) {
      const p = part.trim();
      if (/^[A-Za-z_][\w.]*$/.test(p)) out.push({ path: p, line });
      continue;
    }
    const raw = m[3]!;
    const value = /^"(.*)"$/.test(raw) ? raw.slice(1, -1) : Number.isNaN(Number(raw)) ? undefined : Number(raw);
    out.push(value === undefined ? { path: m[1]!, line } : { path: m[1]!, op: m[2] as ConditionUse['op'], value, line });
  }
  return out;
}

class HandlebarsTemplate implements CompiledTemplate {
  readonly dialect = 'handlebars' as const;
  constructor(
    private readonly fn: Handlebars.TemplateDelegate,
    private readonly refs: Map<string, BlockRef>,
    readonly analysis: TemplateAnalysis,
    private readonly file: string,
  ) {}

  render(context: Record<string, unknown>): RenderResult {
    const rec = new RenderRecorder();
    const previous = activeBlocks;
    activeBlocks = this.refs;
    try {
      const html = withRecorder(rec, () => this.fn(context));
      return rec.result(html);
    } catch (err) {
      throw locate(err, this.file);
    } finally {
      activeBlocks = previous;
    }
  }
}

/** Handlebars reports "Parse error on line N" or carries `lineNumber`/`column`. */
function locate(err: unknown, file: string): Error {
  const e = err as { message?: string; lineNumber?: number; column?: number };
  const message = e.message ?? String(err);
  const m = /on line (\d+)/.exec(message);
  const line = e.lineNumber ?? (m ? Number(m[1]) : undefined);
  const column = e.column !== undefined ? e.column + 1 : undefined;
  return templateError(
    `handlebars: ${message.split('\n')[0]}${message.includes('\n') ? `\n${message.split('\n').slice(1).join('\n')}` : ''}`,
    file,
    line,
    column,
  );
}

export const handlebarsDialect: Dialect = {
  name: 'handlebars',
  compile(source: string, file: string): CompiledTemplate {
    let ast: HbProgram;
    const lowered = lowerMandrill(source);
    try {
      ast = Handlebars.parse(lowered) as unknown as HbProgram;
    } catch (err) {
      throw handlebarsParseError(err, lowered, file);
    }
    checkHelpers(ast, engine.helpers, file);
    const a = new Analyzer();
    a.walk(ast);
    let fn: Handlebars.TemplateDelegate;
    try {
      fn = engine.compile(ast as unknown as hbs.AST.Program, { strict: false });
    } catch (err) {
      throw locate(err, file);
    }
    return new HandlebarsTemplate(fn, a.refs, a.analysis, file);
  },
  shapeContext(s: ScenarioData): Record<string, unknown> {
    const fields = profileFields(s);
    const event = triggerEvent(s);
    const base: Record<string, unknown> = {
      ...fields,
      tags: s.tags,
      segments: s.segments,
      events: s.events,
      event: event ? { name: event.name, ...event.properties } : {},
    };
    const ctx = deepMerge(base, s.context);
    if (s.now !== undefined) ctx.__now = s.now;
    return ctx;
  },
};
