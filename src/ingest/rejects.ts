/**
 * The rejects of one import run, written so that fixing and re-importing them works: the rejects file
 * holds each rejected record exactly as it was in the input (the header row first, for CSV), in the
 * input's format, and a separate errors file says what was wrong with each. Every run gets its own
 * pair of files, named with the run's time, so a second import never overwrites the first one's.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { readCsvRecordTexts } from './csv-records';
import { readJsonArrayTexts } from './json-array-records';
import { formatOf } from './readers';

/** A record the import did not keep: its line in the input and why. */
export interface RejectedLine {
  line: number;
  error: string;
}

export interface RejectsFiles {
  /** The rejected records as they were; fix them and import this file. */
  rejectsFile: string;
  /** One line per rejected record: where it is in the rejects file and the input, and the error. */
  errorsFile: string;
}

/** `orders.jsonl` at 2026-12-03 13:09:41Z → `orders.rejects-20261203-130941.jsonl` (with `-2`, `-3` … if taken). */
export function rejectsPathFor(file: string, at: Date): string {
  const ext = extname(file);
  // A rejects file's own rejects are named after the original input, not stacked suffixes.
  const stem = basename(file, ext).replace(/\.rejects-\d{8}-\d{6}(-\d+)?$/, '');
  const stamp = at.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  for (let n = 1; ; n++) {
    const candidate = join(dirname(file), `${stem}.rejects-${stamp}${n > 1 ? `-${n}` : ''}${ext || '.jsonl'}`);
    if (!existsSync(candidate) && !existsSync(errorsPathFor(candidate))) return candidate;
  }
}

/** The errors file beside a rejects file: `….rejects-….jsonl` → `….rejects-….errors.txt`. */
export function errorsPathFor(rejectsFile: string): string {
  return `${rejectsFile.slice(0, rejectsFile.length - extname(rejectsFile).length)}.errors.txt`;
}

/** Copies the rejected records of `file` out verbatim and writes the errors beside them. */
export async function writeRejects(file: string, rejected: RejectedLine[], at: Date): Promise<RejectsFiles> {
  const byLine = new Map<number, string[]>();
  for (const r of rejected) byLine.set(r.line, [...(byLine.get(r.line) ?? []), r.error]);
  const rejectsFile = rejectsPathFor(file, at);
  const errorsFile = errorsPathFor(rejectsFile);
  const out = createWriteStream(rejectsFile, { encoding: 'utf8', flags: 'wx' });
  const errors = createWriteStream(errorsFile, { encoding: 'utf8', flags: 'wx' });
  errors.write(`# Records of ${file} that were not imported, and why. Fix them in ${basename(rejectsFile)}, then import that file.\n`);
  // Lines written to the rejects file so far: a record can span several (CSV cells, array elements).
  let linesOut = 0;
  let copied = 0;
  const put = async (text: string): Promise<void> => {
    await writeLine(out, text);
    linesOut += text.split('\n').length;
  };
  // `separator` goes before every record copied but the first (the commas of a JSON array).
  const copy = async (line: number, text: string, separator = ''): Promise<void> => {
    const why = byLine.get(line);
    if (!why) return;
    const outLine = linesOut + 1;
    await put(`${copied++ ? separator : ''}${text}`);
    // One line per error, the hint included, so the errors file lines up with the rejects file.
    for (const e of why) await writeLine(errors, `${basename(rejectsFile)}:${outLine} (${basename(file)}:${line}): ${e.replace(/\s*\n\s*/g, ' ')}`);
  };
  try {
    const format = formatOf(file);
    if (format === 'csv') {
      // Cut into records as the import cut them, so "line" means the same record, kept as it was.
      let header = true;
      for await (const records of readCsvRecordTexts(file)) {
        for (const rec of records) {
          if (header) {
            await put(rec.text);
            header = false;
          } else await copy(rec.line, rec.text);
        }
      }
    } else if (format === 'json-array') {
      // An array again, one element after another, each as it stood: fixed, it imports as the input did.
      await put('[');
      for await (const elements of readJsonArrayTexts(file)) for (const e of elements) await copy(e.line, e.text, ',');
      await put(']');
    } else {
      let line = 0;
      for await (const text of createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })) await copy(++line, text);
    }
  } finally {
    await Promise.all([close(out), close(errors)]);
  }
  return { rejectsFile, errorsFile };
}

function writeLine(stream: WriteStream, text: string): Promise<void> {
  return stream.write(`${text}\n`) ? Promise.resolve() : new Promise((resolve) => stream.once('drain', () => resolve()));
}

function close(stream: WriteStream): Promise<void> {
  return new Promise((resolve, fail) => stream.end((err?: Error | null) => (err ? fail(err) : resolve())));
}
