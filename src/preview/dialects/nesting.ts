/**
 * Block nesting, checked on a dialect's tag list so that an unclosed or mismatched block is reported
 * at the tag that is wrong, in plain words. Parsers report these late and vaguely: nunjucks says
 * "expected elif, else, or endif, got end of file" with no line, Handlebars's Jison parser points at
 * the end of the file. Each dialect lists its tags; the stack logic is the same for all.
 */
import type { TemplateError } from '../../errors';
import { templateError } from './located';

/** One block tag as written: opens, continues (`else`) or closes a block. */
export interface ScannedTag {
  role: 'open' | 'middle' | 'close';
  /** The block's name (`if`, `each`); for a close, the name it closes. */
  name: string;
  /** The tag as written, for messages (`{% if x %}`, `{{#each items}}`). */
  text: string;
  line: number;
  column: number;
}

/** How a dialect spells things in messages. */
export interface NestingSyntax {
  dialect: string;
  /** The closing tag of block `name` (`{% endif %}`, `{{/if}}`). */
  closeTag(name: string): string;
  /** Which middle tags each block accepts (`else` in `if`); absent means any. */
  middles?: Record<string, string[]>;
}

const shorten = (text: string): string => (text.length > 60 ? `${text.slice(0, 57)}…` : text);

/** The first nesting problem in `tags`, located at the tag that is wrong, or undefined. */
export function nestingError(tags: readonly ScannedTag[], file: string, syntax: NestingSyntax): TemplateError | undefined {
  const stack: ScannedTag[] = [];
  const d = syntax.dialect;
  for (const tag of tags) {
    const top = stack[stack.length - 1];
    if (tag.role === 'open') stack.push(tag);
    else if (tag.role === 'middle') {
      const allowed = top ? syntax.middles?.[top.name] : undefined;
      if (!top || (allowed && !allowed.includes(tag.name))) {
        const where = top ? `inside ${shorten(top.text)} (line ${top.line}), which has no ${tag.name}` : 'outside any block';
        return templateError(`${d}: ${shorten(tag.text)} is ${where}`, file, tag.line, tag.column, 'remove it, or move it into the block it belongs to');
      }
    } else if (!top) {
      return templateError(
        `${d}: ${shorten(tag.text)} closes a block that was never opened`,
        file,
        tag.line,
        tag.column,
        'remove it, or add the opening tag it belongs to',
      );
    } else if (top.name !== tag.name) {
      const outer = stack.findLast((t) => t.name === tag.name);
      if (outer) {
        // The close belongs to an outer block, so the inner block is the one left open.
        return templateError(
          `${d}: ${shorten(top.text)} opened here is never closed (${shorten(tag.text)} at line ${tag.line} closes ${shorten(outer.text)} from line ${outer.line})`,
          file,
          top.line,
          top.column,
          `add ${syntax.closeTag(top.name)} before line ${tag.line}`,
        );
      }
      return templateError(
        `${d}: ${shorten(tag.text)} does not match ${shorten(top.text)} opened at line ${top.line}, column ${top.column}`,
        file,
        tag.line,
        tag.column,
        `write ${syntax.closeTag(top.name)} here, or remove ${shorten(tag.text)}`,
      );
    } else stack.pop();
  }
  const open = stack[stack.length - 1];
  if (open)
    return templateError(
      `${d}: ${shorten(open.text)} opened here is never closed`,
      file,
      open.line,
      open.column,
      `add ${syntax.closeTag(open.name)} where the block should end`,
    );
  return undefined;
}
