/**
 * Handlebars template errors in plain words, at the construct that is wrong. handlebars.js reports an
 * unclosed `{{#if}}` at the end of the file with a Jison dump ("Expecting 'OPEN_INVERSE_CHAIN', …"),
 * a mismatched close with two positions, and an unknown helper only when a render calls it; SendGrid
 * and Mandrill refuse such templates when they are saved, so segsync refuses them at compile time.
 */
import Handlebars from 'handlebars';
import type { TemplateError } from '../../errors';
import { labelOf, positionOf, templateError } from './located';
import { nestingError } from './nesting';
import type { ScannedTag } from './nesting';

/** The slice of Handlebars's AST types segsync reads (the package's own `hbs.AST` types are a global namespace). */
export interface Loc {
  start: { line: number; column: number };
  end: { line: number; column: number };
}
export interface HbNode {
  type: string;
  loc?: Loc;
  [k: string]: unknown;
}
export interface HbPath extends HbNode {
  original: string;
  data: boolean;
  parts: string[];
}

/** Every `{{#…}}`, `{{^…}}`, `{{else}}` and `{{/…}}` of a source, comments and raw blocks skipped. */
export function scanHandlebarsTags(source: string): ScannedTag[] | TemplateError {
  const tags: ScannedTag[] = [];
  const re = /\{\{!--[\s\S]*?--\}\}|\{\{![\s\S]*?\}\}|\{\{\{\{[\s\S]*?\}\}\}\}|\{\{(~?)\s*([#^/]?)\s*([^\s}~()]*)([\s\S]*?)\}\}/g;
  let last = 0;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    last = re.lastIndex;
    const sigil = m[2]!;
    const name = m[3]!;
    const at = positionOf(source, m.index);
    const text = labelOf(m[0]);
    if (sigil === '#' || (sigil === '^' && name)) tags.push({ role: 'open', name: name.replace(/^[*>]/, ''), text, ...at });
    else if (sigil === '/') tags.push({ role: 'close', name, text, ...at });
    else if ((sigil === '^' && !name) || name === 'else') tags.push({ role: 'middle', name: 'else', text, ...at });
  }
  const open = source.indexOf('{{', last);
  if (open >= 0) {
    const at = positionOf(source, open);
    return templateError(`handlebars: ${labelOf(source.slice(open, open + 30))} is never closed with }}`, '', at.line, at.column, 'add the closing }}');
  }
  return tags;
}

const NESTING = { dialect: 'handlebars', closeTag: (name: string) => `{{/${name}}}` };

/** Jison's token names in words, for "unexpected …" messages. */
const TOKEN_WORDS: Record<string, string> = {
  EOF: 'the end of the template',
  CLOSE: '"}}"',
  CLOSE_SEXPR: '")"',
  OPEN_SEXPR: '"("',
  CLOSE_UNESCAPED: '"}}}"',
  INVALID: 'a character Handlebars cannot read',
  OPEN_ENDBLOCK: 'a closing tag',
  INVERSE: '"{{else}}"',
};

/** A parse failure of `source` as a located error: nesting first, then the token Jison stopped at. */
export function handlebarsParseError(err: unknown, source: string, file: string): TemplateError {
  const scanned = scanHandlebarsTags(source);
  const nesting = Array.isArray(scanned) ? nestingError(scanned, file, NESTING) : withFile(scanned, file);
  if (nesting) return nesting;
  const message = (err as Error).message ?? String(err);
  const got = /got '(\w+)'\s*$/.exec(message)?.[1];
  const lexer = (Handlebars as unknown as { Parser: { lexer: { yylloc?: { first_line: number; first_column: number }; match?: string } } }).Parser.lexer;
  const loc = got ? lexer.yylloc : undefined;
  if (got && loc) {
    const what = got === 'INVALID' && lexer.match ? `"${lexer.match}"` : (TOKEN_WORDS[got] ?? got.toLowerCase().replace(/_/g, ' '));
    return templateError(
      `handlebars: unexpected ${what} here`,
      file,
      loc.first_line,
      loc.first_column + 1,
      'check the tag: a quote, a parenthesis or a closing }} may be missing',
    );
  }
  const e = err as { lineNumber?: number; column?: number };
  return templateError(`handlebars: ${message.split('\n')[0]}`, file, e.lineNumber, e.column !== undefined ? e.column + 1 : undefined);
}

function withFile(e: TemplateError, file: string): TemplateError {
  return templateError(e.message, file, e.location?.line, e.location?.column, e.hint);
}

/** Built-in block helpers that take exactly one parameter. */
const ONE_PARAM = new Set(['if', 'unless', 'each', 'with']);

/**
 * Refuses helper calls the ESP would not know (`{{shout name}}`, `{{#frobnicate}}…`), partials (neither
 * SendGrid nor Mandrill has a place to keep them) and built-in blocks with the wrong number of values.
 */
export function checkHelpers(node: unknown, helpers: Record<string, unknown>, file: string): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) checkHelpers(n, helpers, file);
    return;
  }
  const n = node as HbNode;
  const line = n.loc?.start.line;
  const column = n.loc ? n.loc.start.column + 1 : undefined;
  if (n.type === 'PartialStatement' || n.type === 'PartialBlockStatement') {
    throw templateError(
      'handlebars: partials ({{> name}}) are not supported by SendGrid or Mandrill templates',
      file,
      line,
      column,
      "paste the partial's content into the template",
    );
  }
  if (
    (n.type === 'MustacheStatement' || n.type === 'BlockStatement' || n.type === 'SubExpression') &&
    (n.path as HbNode | undefined)?.type === 'PathExpression'
  ) {
    const path = n.path as HbPath;
    const params = (n.params as HbNode[] | undefined) ?? [];
    const called = params.length > 0 || !!n.hash || n.type !== 'MustacheStatement';
    if (called && !path.data && !Object.prototype.hasOwnProperty.call(helpers, path.original)) {
      const tag = n.type === 'BlockStatement' ? `{{#${path.original}}}` : `{{${path.original} …}}`;
      const hint =
        n.type === 'BlockStatement'
          ? `to test a value write {{#if ${path.original}}}, to repeat for each item {{#each ${path.original}}}`
          : 'check the helper name; SendGrid and Mandrill know only their documented helpers';
      throw templateError(`handlebars: unknown helper "${path.original}" in ${tag}`, file, line, column, hint);
    }
    if (n.type === 'BlockStatement' && ONE_PARAM.has(path.original) && params.length !== 1) {
      throw templateError(
        `handlebars: {{#${path.original}}} takes exactly one value, here ${params.length}`,
        file,
        line,
        column,
        `write {{#${path.original} value}}`,
      );
    }
  }
  for (const [key, value] of Object.entries(n)) if (key !== 'loc' && value && typeof value === 'object') checkHelpers(value, helpers, file);
}
