/** Located template errors shared by the dialects. */
import { TemplateError } from '../../errors';

/** A TemplateError at `file:line:column` with a hint. */
export function templateError(message: string, file: string, line: number | undefined, column: number | undefined, hint?: string): TemplateError {
  return new TemplateError(message, { location: { file, line, column }, hint: hint ?? 'fix the template at that line and run `segsync preview` again' });
}

/** 1-based line and column of `offset` in `source`. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** A short, single-line label for a tag as written (for matrix rows). */
export function labelOf(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
