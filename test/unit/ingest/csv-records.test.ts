import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { MAX_RECORD_BYTES, readCsvRecords } from '../../../src/ingest/csv-records';
import type { CsvRecord } from '../../../src/ingest/csv-records';
import { importFile } from '../../../src/ingest/importer';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const NOW = Date.UTC(2026, 4, 1);

/** Every record of a file, read in chunks of `chunkBytes` (small ones cut records and characters apart). */
async function records(file: string, chunkBytes?: number): Promise<CsvRecord[]> {
  const out: CsvRecord[] = [];
  for await (const batch of readCsvRecords(file, undefined, chunkBytes)) out.push(...batch);
  return out;
}

/** A cell as a CSV writer would put it: quoted when it holds a quote, a comma or a line break. */
function cell(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replace(/"/g, '""')}"` : value;
}

describe('CSV records', () => {
  let dir: string;
  let n = 0;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'segsync-csv-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (text: string): string => {
    const file = join(dir, `f${n++}.csv`);
    writeFileSync(file, text);
    return file;
  };

  it('reads a valid file as csv-parse reads it whole, each record with the line it starts on', async () => {
    const text = fc.stringMatching(/^[a-zé ",\n]{0,12}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(text, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        async (rows, eol, bom, blankLines, chunkBytes) => {
          // A row of one empty cell is a blank line, which both skip.
          const lines = rows.map((r) => r.map(cell).join(',')).filter((l) => l.trim() !== '');
          const body = lines.join(blankLines ? `${eol}${eol}` : eol);
          const file = write(`${bom ? '\uFEFF' : ''}${body}${eol}`);
          const expected = parse(body, { relax_column_count: true, trim: true, skip_empty_lines: true, info: true }) as {
            record: string[];
            info: { lines: number };
          }[];
          const got = await records(file, chunkBytes);
          expect(got.map((r) => r.error)).toEqual(got.map(() => undefined));
          expect(got.map((r) => r.cells)).toEqual(expected.map((e) => e.record));
          // Each record's text is its lines as written, and it starts where the one before ended.
          expect(got.map((r) => r.text).join(blankLines ? `${eol}${eol}` : eol)).toBe(body.replace(/\r\n/g, eol));
          let line = 1;
          for (const r of got) {
            expect(r.line).toBe(line);
            line += r.text.split('\n').length + (blankLines ? 1 : 0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects exactly the lines with a stray quote and reads every record between them', async () => {
    const file = write(
      [
        'email,first_name,plan',
        'ann@example.com,Ann,pro',
        'bob@example.com,"Bob,free',
        'cy@example.com,"Cy",free',
        'dee@example.com,Dee "D",free',
        'eve@example.com,Eve,"two',
        'lines",x',
        'fay@example.com,Fay,free',
        'gus@example.com,"Gus',
        '',
      ].join('\n'),
    );
    const got = await records(file);
    expect(got.filter((r) => r.cells).map((r) => [r.line, r.cells![0]])).toEqual([
      [1, 'email'],
      [2, 'ann@example.com'],
      [4, 'cy@example.com'],
      [6, 'eve@example.com'],
      [8, 'fay@example.com'],
    ]);
    expect(got.find((r) => r.line === 6)!.cells![2]).toBe('two\nlines');
    expect(got.filter((r) => r.error).map((r) => [r.line, r.text])).toEqual([
      [3, 'bob@example.com,"Bob,free'],
      [5, 'dee@example.com,Dee "D",free'],
      [9, 'gus@example.com,"Gus'],
    ]);
    expect(got.find((r) => r.line === 3)!.error).toMatch(/quote on this line is not closed .*at line 4/);
    expect(got.find((r) => r.line === 9)!.error).toBe('a quote on this line is never closed');
  });

  it('keeps every record around one stray quote, wherever it falls', async () => {
    // Cells start with a letter: a quoted cell opening a line cannot then close a stray quote's cell
    // into a valid record (which no reader could tell from a cell spanning lines).
    const value = fc.tuple(fc.stringMatching(/^[a-z]$/), fc.stringMatching(/^[a-z ",\n]{0,8}$/)).map(([a, b]) => a + b);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(value, { minLength: 2, maxLength: 3 }), { minLength: 1, maxLength: 10 }), fc.nat(), async (rows, at) => {
        const lines = rows.map((r) => r.map(cell).join(','));
        const k = at % (lines.length + 1);
        const file = write([...lines.slice(0, k), 'stray,"quote', ...lines.slice(k)].join('\n'));
        const got = await records(file);
        expect(got.filter((r) => r.error).map((r) => r.text)).toEqual(['stray,"quote']);
        expect(got.filter((r) => r.cells).map((r) => r.cells)).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  it('cuts a quote left open for more than its limit to its own line and reads on', async () => {
    const long = 'x'.repeat(1024);
    const lines = ['a,b', 'open,"quote', ...Array.from({ length: Math.ceil(MAX_RECORD_BYTES / 1024) + 2 }, (_, i) => `r${i},${long}`)];
    const got = await records(write(lines.join('\n')));
    expect(got.filter((r) => r.error).map((r) => [r.line, r.error])).toEqual([[2, 'a quote on this line is not closed within 1024 KiB']]);
    expect(got.filter((r) => r.cells)).toHaveLength(lines.length - 1);
  });

  it('reads lines ended by a lone carriage return (old Mac exports), however the file is cut into chunks', async () => {
    const file = write('email,plan\rann@example.com,pro\rbob@example.com,"two\rlines"\r');
    for (const chunkBytes of [1, 3, 10, 11, 12, 1 << 20]) {
      expect((await records(file, chunkBytes)).map((r) => [r.line, r.cells])).toEqual([
        [1, ['email', 'plan']],
        [2, ['ann@example.com', 'pro']],
        [3, ['bob@example.com', 'two\nlines']],
      ]);
    }
  });

  it('imports the good rows of a file with broken quotes, and its rejects file holds the bad lines as they were', async () => {
    const store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => NOW });
    try {
      const file = write('email,first_name\nann@example.com,Ann\nbob@example.com,"Bob\ncy@example.com,Cy\ndee@example.com,"De""e"\neve@example.com,"Eve\n');
      const summary = await importFile({ kind: 'contacts', file, store, now: () => NOW });
      expect(summary).toMatchObject({ read: 5, imported: 3, rejected: 2 });
      expect(['ann', 'cy', 'dee'].map((p) => store.findContactByEmail(`${p}@example.com`)?.properties.first_name?.value)).toEqual(['Ann', 'Cy', 'De"e']);
      expect(readFileSync(summary.rejectsFile!, 'utf8')).toBe('email,first_name\nbob@example.com,"Bob\neve@example.com,"Eve\n');
      expect(readFileSync(summary.errorsFile!, 'utf8')).toMatch(
        /:2 \(\S+\.csv:3\): a quote on this line is not closed .*\n.*:3 \(\S+\.csv:6\): a quote on this line is never closed\n$/,
      );
    } finally {
      store.close();
    }
  });

  it('refuses a file whose header row is not CSV, or has no email column, once and by its line', async () => {
    const store = new SqliteStore({ path: join(dir, 'header.sqlite'), now: () => NOW });
    try {
      const broken = write('email,"first\nann@example.com,Ann\n');
      await expect(importFile({ kind: 'contacts', file: broken, store, now: () => NOW })).rejects.toMatchObject({
        message: 'the header row cannot be read: a quote on this line is never closed',
        location: { file: broken, line: 1 },
      });
      const noEmail = write('mail,first_name\nann@example.com,Ann\n');
      await expect(importFile({ kind: 'contacts', file: noEmail, store, now: () => NOW })).rejects.toMatchObject({
        message: 'the header row has no email column (columns: "mail", "first_name")',
        location: { file: noEmail, line: 1 },
        hint: expect.stringContaining('name the column of email addresses "email"'),
      });
      expect(store.counts().contacts).toBe(0);
    } finally {
      store.close();
    }
  });

  it('imports events from CSV, and refuses once an events header with no name or time column', async () => {
    const store = new SqliteStore({ path: join(dir, 'events.sqlite'), now: () => NOW });
    try {
      const good = write('email,event,timestamp,properties.value\nann@example.com,Placed Order,2026-04-30T10:00:00Z,19.5\n');
      expect(await importFile({ kind: 'events', file: good, store, now: () => NOW })).toMatchObject({ imported: 1, rejected: 0 });
      expect(store.eventsOf(store.findContactByEmail('ann@example.com')!.id)).toMatchObject([{ name: 'Placed Order', properties: { value: 19.5 } }]);
      // Any other column of an events file is a property of its event, typed as contacts' columns are.
      const plain = write('email,event,time,id,value,sku,coupon\nbob@example.com,Placed Order,2026-04-30T11:00:00Z,o-2,25.5,A-1,\n');
      expect(await importFile({ kind: 'events', file: plain, store, now: () => NOW })).toMatchObject({ imported: 1, rejected: 0 });
      expect(store.eventsOf(store.findContactByEmail('bob@example.com')!.id)).toMatchObject([
        { name: 'Placed Order', eventId: 'o-2', properties: { value: 25.5, sku: 'A-1' } },
      ]);
      const noTime = write('email,name\nann@example.com,Placed Order\n');
      await expect(importFile({ kind: 'events', file: noTime, store, now: () => NOW })).rejects.toMatchObject({
        message: 'the header row has no "time" (or "timestamp") column (columns: "email", "name")',
        location: { file: noTime, line: 1 },
      });
      // The same header is fine for contacts, which need neither.
      expect(await importFile({ kind: 'contacts', file: noTime, store, now: () => NOW })).toMatchObject({ imported: 1, rejected: 0 });
    } finally {
      store.close();
    }
  });

  it('reads the address column of HubSpot and Mailchimp exports ("Email", "Email Address") as email', async () => {
    const store = new SqliteStore({ path: join(dir, 'exports.sqlite'), now: () => NOW });
    try {
      for (const header of ['Email', 'Email Address']) {
        const summary = await importFile({ kind: 'contacts', file: write(`${header},First Name\n${header.length}@example.com,Ann\n`), store, now: () => NOW });
        expect(summary).toMatchObject({ imported: 1, rejected: 0 });
        expect(store.findContactByEmail(`${header.length}@example.com`)!.properties['First Name']!.value).toBe('Ann');
      }
    } finally {
      store.close();
    }
  });
});
