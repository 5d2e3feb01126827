/**
 * A JSON file holding one array of records (what many tools export) read element by element, each
 * with the line it starts on and its text as written, so a bad element is rejected alone and the
 * rejects file can hold it as it was. Hand-written because a streaming JSON parser gives values, not
 * their text and line: only the array's own structure is scanned here (strings, brackets, commas),
 * and each element is then parsed by JSON.parse.
 */
import { ValidationError } from '../errors';
import { splitFile } from './split-file';
import type { Splitter } from './split-file';

/** One element of the array as it stood in the file. */
export interface JsonElementText {
  /** 1-based line of the element's first character. */
  line: number;
  text: string;
  /** Set when the element cannot be read whatever its contents (the file ends inside it). */
  unreadable?: string;
}

/** Scans an array's text for its elements; what a later chunk must complete is carried. */
class ArraySplitter implements Splitter<JsonElementText> {
  constructor(private readonly file: string) {}

  private carry = '';
  /** Line of the carry's first character. */
  private line = 1;
  private state: 'before' | 'between' | 'after' = 'before';

  push(chunk: string, last: boolean): JsonElementText[] {
    if (this.state === 'before' && this.carry === '' && chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    const text = this.carry + chunk;
    const out: JsonElementText[] = [];
    let at = 0;
    let line = this.line;
    const skipBlank = (): void => {
      for (; at < text.length; at++) {
        const c = text.charCodeAt(at);
        if (c === 0x0a) line++;
        else if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return;
      }
    };
    while (at < text.length) {
      skipBlank();
      if (at >= text.length) break;
      const c = text[at]!;
      if (this.state === 'before') {
        if (c !== '[')
          throw new ValidationError('not a JSON array', {
            hint: 'give one JSON object per line, or one array of objects',
            location: { file: this.file, line },
          });
        this.state = 'between';
        at++;
        continue;
      }
      if (this.state === 'after') {
        const rest = text.slice(at);
        out.push({ line, text: rest.trimEnd(), unreadable: 'text after the end of the array' });
        for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n', i + 1)) line++;
        at = text.length;
        break;
      }
      if (c === ',') {
        at++;
        continue;
      }
      if (c === ']') {
        this.state = 'after';
        at++;
        continue;
      }
      const end = elementEnd(text, at);
      if (end === undefined) {
        if (!last) break;
        out.push({ line, text: text.slice(at).trimEnd(), unreadable: 'the file ends inside this element (a string or a bracket is not closed)' });
        this.state = 'after';
        at = text.length;
        break;
      }
      const element = text.slice(at, end);
      out.push({ line, text: element });
      for (let i = element.indexOf('\n'); i >= 0; i = element.indexOf('\n', i + 1)) line++;
      at = end;
    }
    // An array cut short after a whole element loses nothing: its missing ] is not a record's fault.
    // The carry starts at `at`: lines before it are counted.
    this.carry = text.slice(at);
    this.line = line;
    return out;
  }
}

/**
 * The end of the element starting at `start`: past its closing bracket, or for a bare value at the
 * next comma, bracket or blank outside strings; undefined when the text ends first.
 */
function elementEnd(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return i;
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) return i;
  }
  return undefined;
}

/** Whether a file's first character (after a byte-order mark and blanks) opens a JSON array. */
export function startsWithArray(head: string): boolean {
  return /^\uFEFF?\s*\[/.test(head);
}

/** Streams a JSON array file's elements as they stood, a batch at a time. */
export function readJsonArrayTexts(file: string, onBytes?: (n: number) => void, chunkBytes?: number): AsyncGenerator<JsonElementText[]> {
  return splitFile(file, new ArraySplitter(file), onBytes, chunkBytes);
}
