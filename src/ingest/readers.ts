/**
 * Streams records from JSONL, JSON-array or CSV files with the line each came from, so a bad record can be
 * reported by line and kept aside without stopping the rest.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { ValidationError } from '../errors';
import { readCsvRecords } from './csv-records';
import { readJsonArrayTexts, startsWithArray } from './json-array-records';

/** One record as read: its value, or why it could not be read at all. */
export interface RawRecord {
  /** 1-based line number of the record's first line. */
  line: number;
  /** The record's text as it stood in the file (for the rejects file). */
  text: string;
  value?: unknown;
  readError?: string;
}

export type FileFormat = 'jsonl' | 'csv' | 'json-array';

/**
 * The file's format: .csv → CSV; otherwise one JSON array of records when its first character is `[`
 * (what many tools export), else JSON lines.
 */
export function formatOf(file: string): FileFormat {
  if (/\.csv$/i.test(file)) return 'csv';
  return startsWithArray(fileHead(file)) ? 'json-array' : 'jsonl';
}

/** The first few KiB of a file as text ('' when it cannot be read: the reader says why). */
function fileHead(file: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(4096);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Splits JSON-lines text into records, numbering lines from `firstLine`; blank lines are skipped. */
function jsonRecords(lines: string[], firstLine: number): RawRecord[] {
  const out: RawRecord[] = [];
  let line = firstLine;
  for (const raw of lines) {
    const t = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (t.trim() !== '') {
      try {
        out.push({ line, text: t, value: JSON.parse(t) });
      } catch (err) {
        out.push({ line, text: t, readError: `not valid JSON: ${(err as Error).message}` });
      }
    }
    line++;
  }
  return out;
}

/**
 * Reads JSON lines in chunks; blank lines are skipped, a line that is not JSON becomes a read error.
 * Yields arrays of records (one per chunk read): one await per megabyte instead of one per line,
 * which is what lets an import run at hundreds of thousands of lines per second.
 */
export async function* readJsonLines(file: string, onBytes?: (n: number) => void): AsyncGenerator<RawRecord[]> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let carry = '';
  let line = 1;
  const parseLines = (text: string, last: boolean): RawRecord[] => {
    const parts = text.split('\n');
    carry = last ? '' : (parts.pop() ?? '');
    const out = jsonRecords(parts, line);
    line += parts.length;
    return out;
  };
  let first = true;
  for await (const chunk of stream as AsyncIterable<string>) {
    onBytes?.(Buffer.byteLength(chunk));
    // A byte-order mark (Windows tools write one) is not part of the first record.
    const text = first && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
    first = false;
    const records = parseLines(carry + text, false);
    if (records.length) yield records;
  }
  if (carry !== '') yield parseLines(carry, true);
}

const NEWLINE = 0x0a;

/**
 * Reads the JSON lines that start in bytes [start, end) of a file, numbering them from 1 within that
 * range, and says how many lines (blank ones too) the range holds. Ranges that tile a file read each
 * line exactly once, which lets several workers parse one file: a line belongs to the range its first
 * byte is in, and a newline byte never occurs inside a UTF-8 character, so cutting there is safe.
 */
export async function readJsonLinesRange(file: string, start: number, end: number): Promise<{ records: Iterable<RawRecord[]>; lineCount: number }> {
  const fh = await open(file, 'r');
  try {
    const readAt = async (position: number, length: number): Promise<Buffer> => {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    };
    // The first line starting at or after `start`.
    let from = start;
    if (start > 0) {
      const before = await readAt(start - 1, 1);
      if (before[0] !== NEWLINE) from = (await newlineAtOrAfter(readAt, start)) + 1;
    }
    if (from >= end) return { records: [], lineCount: 0 };
    // The last line starting before `end` ends at the first newline at or after end - 1 (or the file's end).
    const parts = [await readAt(from, end - from)];
    if (parts[0]!.length === end - from && parts[0]![end - from - 1] !== NEWLINE) {
      for (let at = end; ;) {
        const more = await readAt(at, 1 << 16);
        const nl = more.indexOf(NEWLINE);
        parts.push(nl < 0 ? more : more.subarray(0, nl + 1));
        if (nl >= 0 || more.length === 0) break;
        at += more.length;
      }
    }
    const text = Buffer.concat(parts).toString('utf8');
    const lines = (from === 0 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return { records: inSlices(lines), lineCount: lines.length };
  } finally {
    await fh.close();
  }
}

/**
 * Parses lines a slice at a time, as they are consumed: parsed records die young, which keeps a
 * range's worth of them from being promoted to the old generation.
 */
function* inSlices(lines: string[]): Generator<RawRecord[]> {
  const SLICE = 1000;
  for (let i = 0; i < lines.length; i += SLICE) yield jsonRecords(lines.slice(i, i + SLICE), i + 1);
}

/** Position of the first newline at or after `at`, or the file's length when there is none. */
async function newlineAtOrAfter(readAt: (position: number, length: number) => Promise<Buffer>, at: number): Promise<number> {
  for (;;) {
    const piece = await readAt(at, 1 << 16);
    if (piece.length === 0) return at;
    const nl = piece.indexOf(NEWLINE);
    if (nl >= 0) return at + nl;
    at += piece.length;
  }
}

// Numbers with a leading zero (zip codes, ids) stay strings.
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/;

function castCell(value: string): unknown {
  if (NUMBER.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

/**
 * Reads a CSV file with a header row into objects; `a.b` columns become nested objects. A record that
 * is not valid CSV becomes a read error at its first line, and the records after it are read as usual.
 */
export async function* readCsv(file: string, onBytes?: (n: number) => void, kind?: ImportKind): AsyncGenerator<RawRecord[]> {
  let columns: string[] | undefined;
  for await (const records of readCsvRecords(file, onBytes)) {
    const batch: RawRecord[] = [];
    for (const rec of records) {
      if (!columns) {
        if (!rec.cells)
          throw new ValidationError(`the header row cannot be read: ${rec.error}`, {
            hint: 'the first row of a CSV file names its columns (email, …): fix it and import again',
            location: { file, line: rec.line },
          });
        columns = withEmailColumn(file, rec.line, rec.cells);
        if (kind === 'events') requireEventColumns(file, rec.line, columns);
        continue;
      }
      if (rec.cells) batch.push({ line: rec.line, text: rec.text, value: csvObject(columns, rec.cells, kind) });
      else batch.push({ line: rec.line, text: rec.text, readError: rec.error! });
    }
    if (batch.length) yield batch;
  }
}

/** How ESPs' and spreadsheets' exports name the address column (HubSpot "Email", Mailchimp "Email Address"). */
const EMAIL_HEADERS = new Set(['email', 'e-mail', 'email address', 'email_address', 'emailaddress', 'e-mail address']);

/**
 * The header's names with its address column named `email`. Every record needs one, so a header
 * without it is refused once, rather than every row rejected in turn.
 */
function withEmailColumn(file: string, line: number, columns: string[]): string[] {
  if (columns.includes('email')) return columns;
  const at = columns.findIndex((c) => EMAIL_HEADERS.has(c.trim().toLowerCase()));
  if (at < 0) {
    throw new ValidationError(`the header row has no email column (columns: ${columns.map((c) => JSON.stringify(c)).join(', ')})`, {
      hint: 'name the column of email addresses "email" (or "Email", "Email Address") and import again',
      location: { file, line },
    });
  }
  return columns.map((c, i) => (i === at ? 'email' : c));
}

/** An event's name and time have no default: a header without their columns is refused once, too. */
function requireEventColumns(file: string, line: number, columns: string[]): void {
  const missing = [
    ...(columns.some((c) => c === 'name' || c === 'event') ? [] : ['"name" (or "event")']),
    ...(columns.some((c) => c === 'time' || c === 'timestamp') ? [] : ['"time" (or "timestamp")']),
  ];
  if (missing.length) {
    throw new ValidationError(`the header row has no ${missing.join(' and no ')} column (columns: ${columns.map((c) => JSON.stringify(c)).join(', ')})`, {
      hint: 'an event needs its name and its time (ISO 8601 with a zone, or epoch milliseconds): add the columns and import again',
      location: { file, line },
    });
  }
}

/** The columns an event row names itself by (its other columns are its properties). */
const EVENT_COLUMNS = new Set(['email', 'name', 'event', 'time', 'timestamp', 'id', 'eventId', 'messageId', 'properties', 'traits', 'context']);

/**
 * A CSV row as an object by its header's names: empty cells left out, `a.b` nested, numbers typed. In an
 * events file a column that is not an event's own (a `value` or `sku` column) is a property, as
 * `properties.value` would be: an event keeps only its properties, and the cell would be lost.
 */
function csvObject(columns: string[], cells: string[], kind?: ImportKind): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  const n = Math.min(columns.length, cells.length);
  for (let i = 0; i < n; i++) {
    const given = columns[i]!;
    const cell = cells[i]!;
    if (cell === '') continue;
    const col = kind === 'events' && !EVENT_COLUMNS.has(given.split('.', 1)[0]!) ? `properties.${given}` : given;
    const dot = col.indexOf('.');
    if (dot > 0) {
      const head = col.slice(0, dot);
      const obj = (value[head] ??= {}) as Record<string, unknown>;
      obj[col.slice(dot + 1)] = castCell(cell);
    } else value[col] = col === 'email' || col === 'name' || col === 'event' ? cell : castCell(cell);
  }
  return value;
}

/** What an import reads: contacts or events. */
export type ImportKind = 'contacts' | 'events';

/** Streams a file's records in its format, in batches (`kind` checks a CSV header's columns). */
export function readRecords(file: string, onBytes?: (n: number) => void, kind?: ImportKind): AsyncGenerator<RawRecord[]> {
  const format = formatOf(file);
  return format === 'csv' ? readCsv(file, onBytes, kind) : format === 'json-array' ? readJsonArray(file, onBytes) : readJsonLines(file, onBytes);
}

/** Reads the elements of a file holding one JSON array; an element that is not JSON becomes a read error. */
async function* readJsonArray(file: string, onBytes?: (n: number) => void): AsyncGenerator<RawRecord[]> {
  for await (const elements of readJsonArrayTexts(file, onBytes)) {
    yield elements.map((e): RawRecord => {
      if (e.unreadable) return { line: e.line, text: e.text, readError: e.unreadable };
      try {
        return { line: e.line, text: e.text, value: JSON.parse(e.text) };
      } catch (err) {
        return { line: e.line, text: e.text, readError: `not valid JSON: ${(err as Error).message}` };
      }
    });
  }
}
