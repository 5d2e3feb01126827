/**
 * CSV records cut apart before they are parsed, so one malformed record is rejected alone and the
 * rest of the file is still read. A CSV parser that meets a broken record has lost its place: csv-parse
 * either stops the whole import or, told to skip such records, reports a record's text cut short and
 * swallows good records after it. RFC 4180 makes the cut easy to make by hand: a record ends at the
 * first newline that follows an even number of double quotes (quotes inside a quoted field are
 * doubled), so counting quotes line by line finds every record's lines, its first line number and its
 * text exactly as it stood in the file. Each record's cells are then parsed by csv-parse, in batches.
 */
import { parse } from 'csv-parse/sync';
import { splitFile } from './split-file';
import type { Splitter } from './split-file';

/** One record's lines as they stood in the file, or the first line of a quote never closed. */
export interface CsvRecordText {
  /** 1-based line number of the record's first line. */
  line: number;
  /** The record's text, without its final line break. */
  text: string;
  /** Set when the record cannot be CSV whatever its cells (a quote opened and never closed). */
  unclosed?: string;
}

/** One record parsed: its cells, or why it is not valid CSV. */
export interface CsvRecord extends CsvRecordText {
  cells?: string[];
  error?: string;
}

/**
 * A quote still open this far into a record is taken as never closed: the record is its first line
 * alone, and reading goes on at the next line. A multi-line quoted cell longer than this is cut so.
 */
export const MAX_RECORD_BYTES = 1 << 20;

/** Splits CSV text into records by their quotes; `carry` is what a later chunk must complete. */
class RecordSplitter implements Splitter<CsvRecordText> {
  private carry = '';
  private line = 1;
  private first = true;
  /** How lines end, known at the first line break: `cr` for a lone \r (old Mac exports), read as \n. */
  private ends: 'unknown' | 'lf' | 'cr' = 'unknown';

  /** The records complete in `chunk` (with what was carried); `last`: the file ends here. */
  push(chunk: string, last: boolean): CsvRecordText[] {
    if (this.first && chunk.length) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      this.first = false;
    }
    // The carry holds no line break while the ends are unknown, and is already converted once known.
    let text = this.carry + (this.ends === 'cr' ? chunk.replace(/\r/g, '\n') : chunk);
    if (this.ends === 'unknown') {
      const i = text.search(/[\r\n]/);
      if (i >= 0 && (text[i] === '\n' || i + 1 < text.length || last)) this.ends = text[i] === '\r' && text[i + 1] !== '\n' ? 'cr' : 'lf';
      if (this.ends === 'cr') text = text.replace(/\r/g, '\n');
    }
    const out: CsvRecordText[] = [];
    let start = 0;
    const quote = { next: text.indexOf('"') };
    // The record's first line alone, rejected: reading goes on at the next line.
    const firstLineAlone = (unclosed: string): void => {
      const nl = text.indexOf('\n', start);
      out.push({ line: this.line, text: stripCr(text.slice(start, nl < 0 ? text.length : nl)), unclosed });
      this.line++;
      start = nl < 0 ? text.length : nl + 1;
      // The quotes of the lines after it are read again, as a record of their own.
      quote.next = text.indexOf('"', start);
    };
    while (start < text.length) {
      const end = recordEnd(text, start, quote);
      if (end === undefined) {
        // A quote still open: wait for more text, unless the file ended or the record is too long.
        if (!last && text.length - start <= MAX_RECORD_BYTES) break;
        firstLineAlone(
          last && text.length - start <= MAX_RECORD_BYTES
            ? 'a quote on this line is never closed'
            : `a quote on this line is not closed within ${MAX_RECORD_BYTES / 1024} KiB`,
        );
        continue;
      }
      if (end.stop === text.length && !last) break;
      const record = stripCr(text.slice(start, end.stop));
      if (end.lines > 1) {
        // A stray quote pairs up with one lines later: not a cell spanning lines but two broken
        // records, with good ones between them. Only the line with the stray quote is rejected.
        const problem = cellsProblem(record, this.line);
        if (problem !== undefined) {
          firstLineAlone(`a quote on this line is not closed as CSV requires (${problem})`);
          continue;
        }
      }
      if (record.trim() !== '') out.push({ line: this.line, text: record });
      this.line += end.lines;
      start = end.stop + 1;
    }
    this.carry = text.slice(start);
    return out;
  }
}

function stripCr(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/**
 * Where the record starting at `start` ends (the index of its closing newline, or the text's end)
 * and how many lines it spans; undefined while a quote is still open at the text's end. `quote.next`
 * is the first quote at or after the last one read (-1: none left), kept across calls: searching
 * each line for its quotes anew scanned to the next quote far ahead, once per line of a file with few.
 */
function recordEnd(text: string, start: number, quote: { next: number }): { stop: number; lines: number } | undefined {
  if (quote.next >= 0 && quote.next < start) quote.next = text.indexOf('"', start);
  let open = false;
  let lines = 1;
  for (let at = start; ;) {
    const nl = text.indexOf('\n', at);
    const stop = nl < 0 ? text.length : nl;
    for (; quote.next >= 0 && quote.next < stop; quote.next = text.indexOf('"', quote.next + 1)) open = !open;
    if (!open) return { stop, lines };
    if (nl < 0) return undefined;
    at = nl + 1;
    lines++;
  }
}

/** The cell parser's options, shared by every read of a CSV file so that all agree on its records. */
const CELLS = { relax_column_count: true, trim: true } as const;

/** Parses records' cells, the batch at once when it is all valid, else record by record. */
export function parseCells(records: CsvRecordText[]): CsvRecord[] {
  const whole = records.every((r) => r.unclosed === undefined) ? tryParse(records.map((r) => r.text).join('\n')) : undefined;
  if (whole && whole.length === records.length) return records.map((r, i) => ({ ...r, cells: whole[i]! }));
  return records.map((r) => {
    if (r.unclosed !== undefined) return { ...r, error: r.unclosed };
    const problem = cellsProblem(r.text, r.line);
    return problem === undefined ? { ...r, cells: parse(r.text, CELLS)[0] as string[] } : { ...r, error: `not valid CSV: ${problem}` };
  });
}

/** Why a record's text is not exactly one valid CSV record (its first line is `line`), or undefined. */
function cellsProblem(text: string, line: number): string | undefined {
  try {
    const rows = parse(text, CELLS) as string[][];
    // The splitter cut one record; more rows means a lone \r ended a line inside it.
    return rows.length === 1 ? undefined : `${rows.length} records where one was expected`;
  } catch (err) {
    // csv-parse counts lines within the record: the file's line number is the record's plus that.
    return (err as Error).message.replace(/\bat line (\d+)/g, (_m, n: string) => `at line ${line + Number(n) - 1}`);
  }
}

function tryParse(text: string): string[][] | undefined {
  try {
    return parse(text, CELLS) as string[][];
  } catch {
    return undefined;
  }
}

/** Streams a CSV file's records as they stood, cut apart but not parsed, a batch at a time. */
export function readCsvRecordTexts(file: string, onBytes?: (n: number) => void, chunkBytes?: number): AsyncGenerator<CsvRecordText[]> {
  return splitFile(file, new RecordSplitter(), onBytes, chunkBytes);
}

/** Streams a CSV file's records, a batch at a time, each parsed into cells or with its error. */
export async function* readCsvRecords(file: string, onBytes?: (n: number) => void, chunkBytes?: number): AsyncGenerator<CsvRecord[]> {
  const BATCH = 1000;
  for await (const records of readCsvRecordTexts(file, onBytes, chunkBytes))
    for (let i = 0; i < records.length; i += BATCH) yield parseCells(records.slice(i, i + BATCH));
}
