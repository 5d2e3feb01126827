/**
 * Mailchimp merge tags (`*|FNAME|*`, `*|IF:…|*`, `*|INTERESTED:…|*`, formatting and system tags).
 * Hand-written: no npm package parses merge tags (template-dialects.md §1), and a tokenizer plus a
 * block stack is what gives located errors ("IF opened at 12:3 is never closed", "stray END:IF").
 *
 * Decisions where Mailchimp's documentation is silent (also in docs/preview.md):
 * - "a value is provided" means not missing, not null, not false and not an empty or blank string;
 * - `=`/`!=` compare as case-sensitive strings; an empty field makes `=` false and `!=` true;
 * - `> < >= <=` compare numerically when both sides are numbers, else as strings;
 * - merged values are HTML-escaped except through `*|HTML:X|*`;
 * - an audience field without a value prints blank (Mailchimp's documented behaviour), a tag naming no
 *   field stays verbatim as Mailchimp leaves it. segsync cannot see the audience's field list, so
 *   "no field" means: not one of Mailchimp's default audience fields and not in the recipient's data.
 */
import type { FieldValue } from '../../model/types';
import { formatLetters, renderNow } from './dates';
import type { CompiledTemplate, ConditionUse, ConditionalBlock, Dialect, RenderResult, ScenarioData, TemplateAnalysis } from './dialect';
import { labelOf, positionOf, templateError } from './located';
import { RenderRecorder } from './recorder';
import { profileFields } from './shape';

type Op = '=' | '!=' | '>' | '<' | '>=' | '<=';
interface Condition {
  field: string;
  op?: Op;
  value?: string;
}

type Node =
  | { t: 'text'; s: string }
  | { t: 'merge'; name: string; format: 'UPPER' | 'LOWER' | 'TITLE' | 'HTML' | 'URL' | undefined; raw: string; line: number }
  | { t: 'date'; format: string }
  | { t: 'if'; id: string; branches: { cond: Condition; negate: boolean; body: Node[] }[]; else: Node[] }
  | { t: 'interested'; id: string; category: string; groups: string[]; body: Node[]; else: Node[] };

interface Tag {
  content: string;
  raw: string;
  line: number;
  column: number;
}

const FORMATS = new Set(['UPPER', 'LOWER', 'TITLE', 'HTML', 'URL']);
const SYSTEM: Record<string, (ctx: Record<string, unknown>) => string> = {
  UNSUB: () => 'https://unsubscribe.mailchimp.invalid/',
  UPDATE_PROFILE: () => 'https://profile.mailchimp.invalid/',
  ARCHIVE: () => 'https://archive.mailchimp.invalid/',
  FORWARD: () => 'https://forward.mailchimp.invalid/',
  ABOUT_LIST: () => 'https://about.mailchimp.invalid/',
  REWARDS: () => '',
  CAMPAIGN_UID: () => 'preview',
  MC_PREVIEW_TEXT: (ctx) => String(ctx.MC_PREVIEW_TEXT ?? ''),
  // The campaign's subject line (the front matter's, rendered for the scenario), and its send date.
  'MC:SUBJECT': (ctx) => String(ctx.__subject ?? ''),
  'MC:DATE': (ctx) => {
    const d = renderNow(ctx);
    return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}/${d.getUTCFullYear()}`;
  },
};

function lex(source: string, file: string): (Tag | string)[] {
  const out: (Tag | string)[] = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('*|', i);
    if (open < 0) break;
    const close = source.indexOf('|*', open + 2);
    const { line, column } = positionOf(source, open);
    if (close < 0) throw templateError('merge tag "*|" is never closed with "|*"', file, line, column);
    const content = source.slice(open + 2, close);
    if (content.includes('*|'))
      throw templateError(
        `a merge tag cannot contain another merge tag: "${labelOf(source.slice(open, close + 2), 40)}"`,
        file,
        line,
        column,
        'Mailchimp does not evaluate tags inside tags; test the field directly: *|IF:FIELD=value|*',
      );
    if (open > i) out.push(source.slice(i, open));
    out.push({ content, raw: source.slice(open, close + 2), line, column });
    i = close + 2;
  }
  if (i < source.length) out.push(source.slice(i));
  return out;
}

function parseCondition(text: string, tag: Tag, file: string): Condition {
  const m = /^([A-Za-z0-9_]+)\s*(?:(!=|>=|<=|=|>|<)(.*))?$/.exec(text);
  if (!m)
    throw templateError(
      `bad condition "${text}" in ${tag.raw}`,
      file,
      tag.line,
      tag.column,
      'write *|IF:FIELD|* or *|IF:FIELD=value|* (operators = != > < >= <=; no AND/OR: nest blocks instead)',
    );
  return m[2] ? { field: m[1]!.toUpperCase(), op: m[2] as Op, value: m[3]! } : { field: m[1]!.toUpperCase() };
}

class Parser {
  private i = 0;
  readonly analysis: TemplateAnalysis = { blocks: [], conditions: [], outputs: [] };
  constructor(
    private readonly items: (Tag | string)[],
    private readonly file: string,
  ) {}

  parse(): Node[] {
    const r = this.until([]);
    if (r.end) throw this.err(r.end, `stray ${r.end.raw} with no open block`);
    return r.nodes;
  }

  private err(t: Tag, message: string, hint?: string): Error {
    return templateError(message, this.file, t.line, t.column, hint);
  }

  private until(ends: string[]): { nodes: Node[]; end: Tag | undefined; kind: string | undefined } {
    const nodes: Node[] = [];
    while (this.i < this.items.length) {
      const it = this.items[this.i++]!;
      if (typeof it === 'string') {
        nodes.push({ t: 'text', s: it });
        continue;
      }
      const kind = tagKind(it.content);
      if (ends.includes(kind)) return { nodes, end: it, kind };
      if (['ELSEIF', 'ELSE', 'END:IF', 'END:INTERESTED'].includes(kind)) throw this.err(it, `stray ${it.raw} with no matching open block`);
      nodes.push(this.node(it, kind));
    }
    return { nodes, end: undefined, kind: undefined };
  }

  private node(tag: Tag, kind: string): Node {
    const c = tag.content;
    if (kind === 'IF' || kind === 'IFNOT') return this.ifBlock(tag, kind === 'IFNOT');
    if (kind === 'INTERESTED') return this.interested(tag);
    if (kind === 'DATE') return { t: 'date', format: c.slice(5) || 'd/m/Y' };
    const colon = c.indexOf(':');
    const head = colon < 0 ? c : c.slice(0, colon);
    if (colon > 0 && FORMATS.has(head.toUpperCase())) {
      const name = c.slice(colon + 1);
      if (!/^[A-Za-z0-9_:]+$/.test(name)) throw this.err(tag, `bad field name "${name}" in ${tag.raw}`);
      this.analysis.outputs.push({ path: name.toUpperCase(), line: tag.line, hasFallback: false });
      return { t: 'merge', name: name.toUpperCase(), format: head.toUpperCase() as 'UPPER', raw: tag.raw, line: tag.line };
    }
    if (!/^[A-Za-z0-9_:]+$/.test(c)) throw this.err(tag, `bad merge tag ${tag.raw}`, 'tag names are letters, digits and underscores: *|FNAME|*');
    if (!SYSTEM[c.toUpperCase()] && !c.includes(':') && c.toUpperCase() !== 'CURRENT_YEAR')
      this.analysis.outputs.push({ path: c.toUpperCase(), line: tag.line, hasFallback: false });
    return { t: 'merge', name: c.toUpperCase(), format: undefined, raw: tag.raw, line: tag.line };
  }

  private ifBlock(open: Tag, negate: boolean): Node {
    const id = `L${open.line}:${open.column}`;
    const block: ConditionalBlock = { id, kind: 'if', line: open.line, column: open.column, branches: [] };
    this.analysis.blocks.push(block);
    const branches: { cond: Condition; negate: boolean; body: Node[] }[] = [];
    let cond = this.condition(open, open.content.slice(open.content.indexOf(':') + 1));
    let neg = negate;
    block.branches.push({ label: labelOf(open.content), line: open.line });
    for (;;) {
      const r = this.until(['ELSEIF', 'ELSE', 'END:IF']);
      if (!r.end) throw this.err(open, `${open.raw} opened at line ${open.line} is never closed`, 'add *|END:IF|*');
      branches.push({ cond, negate: neg, body: r.nodes });
      if (r.kind === 'ELSEIF') {
        cond = this.condition(r.end, r.end.content.slice(r.end.content.indexOf(':') + 1));
        neg = false;
        block.branches.push({ label: labelOf(r.end.content), line: r.end.line });
        continue;
      }
      if (r.kind === 'ELSE') {
        block.branches.push({ label: 'ELSE', line: r.end.line });
        const e = this.until(['END:IF', 'ELSE', 'ELSEIF']);
        if (!e.end) throw this.err(open, `${open.raw} opened at line ${open.line} is never closed`, 'add *|END:IF|*');
        if (e.kind !== 'END:IF') throw this.err(e.end, `${e.end.raw} after *|ELSE:|* (the ELSE branch must come last)`);
        return { t: 'if', id, branches, else: e.nodes };
      }
      block.branches.push({ label: '(no else)', line: r.end.line, implicit: true });
      return { t: 'if', id, branches, else: [] };
    }
  }

  private condition(tag: Tag, text: string): Condition {
    if (!text.trim()) throw this.err(tag, `${tag.raw} has no condition`, 'write *|IF:FIELD|* or *|IF:FIELD=value|*');
    const c = parseCondition(text, tag, this.file);
    const use: ConditionUse = { path: c.field, line: tag.line };
    if (c.op) {
      use.op = c.op === '=' ? '==' : c.op;
      use.value =
        c.value !== undefined && c.value.trim() !== '' && !Number.isNaN(Number(c.value)) && c.op !== '=' && c.op !== '!='
          ? Number(c.value)
          : (c.value as FieldValue);
    }
    this.analysis.conditions.push(use);
    return c;
  }

  private interested(open: Tag): Node {
    const parts = open.content.split(':');
    if (parts.length !== 3 || !parts[1] || !parts[2])
      throw this.err(open, `expected *|INTERESTED:Category:Group A,Group B|*, got ${open.raw}`, 'group and category names cannot contain ":"');
    const groups = parts[2].split(',').map((g) => g.trim());
    const id = `L${open.line}:${open.column}`;
    const block: ConditionalBlock = {
      id,
      kind: 'interested',
      line: open.line,
      column: open.column,
      branches: [{ label: labelOf(open.content), line: open.line }],
    };
    this.analysis.blocks.push(block);
    for (const g of groups) this.analysis.conditions.push({ path: `groups.${parts[1]}`, op: 'contains', value: g, line: open.line });
    const body = this.until(['ELSE', 'END:INTERESTED']);
    if (!body.end) throw this.err(open, `${open.raw} opened at line ${open.line} is never closed`, 'add *|END:INTERESTED|*');
    let elseNodes: Node[] = [];
    if (body.kind === 'ELSE') {
      block.branches.push({ label: 'ELSE', line: body.end.line });
      const e = this.until(['END:INTERESTED']);
      if (!e.end) throw this.err(open, `${open.raw} opened at line ${open.line} is never closed`, 'add *|END:INTERESTED|*');
      elseNodes = e.nodes;
    } else block.branches.push({ label: '(not interested)', line: body.end.line, implicit: true });
    return { t: 'interested', id, category: parts[1], groups, body: body.nodes, else: elseNodes };
  }
}

function tagKind(content: string): string {
  const u = content.toUpperCase();
  if (u === 'END:IF' || u === 'END:INTERESTED') return u;
  if (u === 'ELSE:' || u === 'ELSE') return 'ELSE';
  const head = u.split(':')[0]!;
  if (['IF', 'IFNOT', 'ELSEIF', 'INTERESTED', 'DATE'].includes(head) && u.includes(':')) return head;
  return 'MERGE';
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function fieldValue(ctx: Record<string, unknown>, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(ctx, name)) return ctx[name];
  const key = Object.keys(ctx).find((k) => k.toUpperCase() === name);
  return key === undefined ? undefined : ctx[key];
}

function asText(v: unknown): string {
  if (v === undefined || v === null || v === false) return '';
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function provided(v: unknown): boolean {
  return asText(v).trim() !== '';
}

function test(c: Condition, ctx: Record<string, unknown>): boolean {
  const v = fieldValue(ctx, c.field);
  if (!c.op) return provided(v);
  const s = asText(v);
  const want = c.value ?? '';
  if (c.op === '=') return provided(v) && s === want;
  if (c.op === '!=') return !provided(v) || s !== want;
  if (!provided(v)) return false;
  const a = Number(s);
  const b = Number(want);
  const d = want.trim() !== '' && !Number.isNaN(a) && !Number.isNaN(b) ? a - b : s < want ? -1 : s > want ? 1 : 0;
  return c.op === '>' ? d > 0 : c.op === '<' ? d < 0 : c.op === '>=' ? d >= 0 : d <= 0;
}

function titleCase(s: string): string {
  return s.toLowerCase().replace(/(^|[\s-])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase());
}

function render(nodes: Node[], ctx: Record<string, unknown>, rec: RenderRecorder, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.s);
        break;
      case 'date':
        out.push(escapeHtml(formatLetters(renderNow(ctx), n.format, 'php')));
        break;
      case 'merge':
        out.push(mergeValue(n, ctx, rec));
        break;
      case 'if': {
        const i = n.branches.findIndex((b) => test(b.cond, ctx) !== b.negate);
        rec.branch(n.id, i < 0 ? n.branches.length : i);
        render(i < 0 ? n.else : n.branches[i]!.body, ctx, rec, out);
        break;
      }
      case 'interested': {
        const groups = (ctx.groups as Record<string, unknown> | undefined)?.[n.category];
        const hit = Array.isArray(groups) && n.groups.some((g) => groups.includes(g));
        rec.branch(n.id, hit ? 0 : 1);
        render(hit ? n.body : n.else, ctx, rec, out);
        break;
      }
    }
  }
}

/** The merge fields every Mailchimp audience starts with: these exist even when a recipient has no value. */
const DEFAULT_AUDIENCE_FIELDS = new Set(['FNAME', 'LNAME', 'EMAIL', 'PHONE', 'ADDRESS', 'BIRTHDAY']);

function mergeValue(n: Extract<Node, { t: 'merge' }>, ctx: Record<string, unknown>, rec: RenderRecorder): string {
  if (n.format === undefined) {
    if (n.name === 'CURRENT_YEAR') return String(renderNow(ctx).getUTCFullYear());
    const sys = SYSTEM[n.name];
    if (sys) return escapeHtml(sys(ctx));
    if (n.name.startsWith('LIST:')) {
      const v = fieldValue((ctx.LIST as Record<string, unknown>) ?? {}, n.name.slice(5));
      return v === undefined ? n.raw : escapeHtml(asText(v));
    }
  }
  const v = fieldValue(ctx, n.name);
  if (v === undefined) {
    if (n.name.includes(':')) return n.raw;
    rec.miss(n.name, n.line);
    return DEFAULT_AUDIENCE_FIELDS.has(n.name) ? '' : n.raw;
  }
  const s = asText(v);
  switch (n.format) {
    case 'HTML':
      return s;
    case 'UPPER':
      return escapeHtml(s.toUpperCase());
    case 'LOWER':
      return escapeHtml(s.toLowerCase());
    case 'TITLE':
      return escapeHtml(titleCase(s));
    case 'URL':
      return encodeURIComponent(s);
    default:
      return escapeHtml(s);
  }
}

class MailchimpTemplate implements CompiledTemplate {
  readonly dialect = 'mailchimp' as const;
  constructor(
    private readonly nodes: Node[],
    readonly analysis: TemplateAnalysis,
  ) {}

  render(context: Record<string, unknown>): RenderResult {
    const rec = new RenderRecorder();
    const out: string[] = [];
    render(this.nodes, context, rec, out);
    return rec.result(out.join(''));
  }
}

/** Canonical segsync field names → Mailchimp's default audience merge tags. */
const MAILCHIMP_ALIASES: Record<string, string> = {
  first_name: 'FNAME',
  last_name: 'LNAME',
  email: 'EMAIL',
  phone: 'PHONE',
  address: 'ADDRESS',
  birthday: 'BIRTHDAY',
};

export const mailchimpDialect: Dialect = {
  name: 'mailchimp',
  compile(source: string, file: string): CompiledTemplate {
    const p = new Parser(lex(source, file), file);
    const nodes = p.parse();
    return new MailchimpTemplate(nodes, p.analysis);
  },
  shapeContext(s: ScenarioData): Record<string, unknown> {
    const ctx: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(profileFields(s))) ctx[MAILCHIMP_ALIASES[k] ?? k.toUpperCase()] = v;
    ctx.groups = s.groups;
    // The audience's contact details, as Mailchimp's required footer prints them (a scenario's LIST overrides).
    ctx.LIST = {
      COMPANY: 'Segsync Demo Store',
      ADDRESS: '1 Example Street, Springfield, 12345, United States',
      ADDRESSLINE: '1 Example Street, Springfield',
      PHONE: '+1 555 0100',
      URL: 'https://www.example.com',
      DESCRIPTION: 'You signed up on our website.',
      NAME: 'Segsync Demo',
    };
    ctx.LIST_ADDRESS_HTML = 'Segsync Demo Store<br>1 Example Street<br>Springfield, 12345<br>United States';
    for (const [k, v] of Object.entries(s.context)) ctx[k === 'groups' || k === 'LIST' ? k : k.toUpperCase()] = v;
    if (s.now !== undefined) ctx.__now = s.now;
    return ctx;
  },
};
