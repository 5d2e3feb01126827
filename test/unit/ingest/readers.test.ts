import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { readJsonLines, readJsonLinesRange } from '../../../src/ingest/readers';
import type { RawRecord } from '../../../src/ingest/readers';

async function whole(file: string): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const records of readJsonLines(file)) out.push(...records);
  return out;
}

/** Reads a file range by range, turning range-relative line numbers into file line numbers. */
async function byRanges(file: string, size: number, rangeBytes: number): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  let linesBefore = 0;
  for (let start = 0; start < size; start += rangeBytes) {
    const { records, lineCount } = await readJsonLinesRange(file, start, Math.min(size, start + rangeBytes));
    for (const slice of records) out.push(...slice.map((r) => ({ ...r, line: r.line + linesBefore })));
    linesBefore += lineCount;
  }
  return out;
}

describe('readJsonLinesRange', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'segsync-readers-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every line exactly once, with its line number, however a file is cut into ranges', async () => {
    const line = fc.oneof(
      fc.constant(''),
      fc.constant('   '),
      fc.constant('not json'),
      fc.string({ unit: 'binary', maxLength: 30 }).map((s) => JSON.stringify({ name: s })),
      fc.string({ maxLength: 300 }).map((s) => `${JSON.stringify({ long: s.repeat(3) })}\r`),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 40 }), fc.boolean(), fc.integer({ min: 1, max: 200 }), async (lines, trailingNewline, rangeBytes) => {
        const file = join(dir, `f${n++}.jsonl`);
        const text = lines.join('\n') + (trailingNewline && lines.length ? '\n' : '');
        writeFileSync(file, text);
        expect(await byRanges(file, Buffer.byteLength(text), rangeBytes)).toEqual(await whole(file));
      }),
      { numRuns: 300 },
    );
  });

  it('gives an empty range inside one long line no lines at all', async () => {
    const file = join(dir, 'long.jsonl');
    writeFileSync(file, `${JSON.stringify({ name: 'x'.repeat(500) })}\n{"name":"y"}\n`);
    const empty = await readJsonLinesRange(file, 100, 200);
    expect([...empty.records].flat()).toEqual([]);
    expect(empty.lineCount).toBe(0);
    const first = await readJsonLinesRange(file, 0, 100);
    expect(first.lineCount).toBe(1);
    expect(([...first.records].flat()[0]!.value as { name: string }).name).toHaveLength(500);
  });
});
