import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { importFile } from '../../../src/ingest/importer';
import { readJsonArrayTexts } from '../../../src/ingest/json-array-records';
import type { JsonElementText } from '../../../src/ingest/json-array-records';
import { formatOf } from '../../../src/ingest/readers';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const NOW = Date.UTC(2026, 4, 1);

async function elements(file: string, chunkBytes?: number): Promise<JsonElementText[]> {
  const out: JsonElementText[] = [];
  for await (const batch of readJsonArrayTexts(file, undefined, chunkBytes)) out.push(...batch);
  return out;
}

describe('JSON array files', () => {
  let dir: string;
  let n = 0;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'segsync-json-array-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (text: string, ext = 'json'): string => {
    const file = join(dir, `f${n++}.${ext}`);
    writeFileSync(file, text);
    return file;
  };

  it('reads each element of any array as JSON.parse reads the whole, with the line it starts on, however the file is cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), { maxLength: 8 }),
        fc.constantFrom(0, 2),
        fc.boolean(),
        fc.integer({ min: 1, max: 50 }),
        async (values, indent, bom, chunkBytes) => {
          const text = JSON.stringify(values, null, indent);
          const file = write(`${bom ? '\uFEFF' : ''}${text}\n`);
          expect(formatOf(file)).toBe('json-array');
          const got = await elements(file, chunkBytes);
          expect(got.map((e) => e.unreadable)).toEqual(values.map(() => undefined));
          expect(got.map((e) => JSON.parse(e.text) as unknown)).toEqual(JSON.parse(text));
          // Each element starts on the line it names.
          const lines = text.split('\n');
          for (const e of got) expect(lines[e.line - 1]).toContain(e.text.split('\n')[0]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('imports every good element of an exported array, and its rejects file is an array of the bad ones that imports once fixed', async () => {
    const store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => NOW });
    try {
      const file = write(
        [
          '[',
          '  {"email": "ann@example.com", "first_name": "A, \\"quoted\\" ]"},',
          '  {"email": "not-an-email"},',
          '  {"email": "bob@example.com",',
          '   "plan": },',
          '  {"email": "cy@example.com", "tags": ["a", "b"]}',
          ']',
          '',
        ].join('\n'),
      );
      const summary = await importFile({ kind: 'contacts', file, store, now: () => NOW });
      expect(summary).toMatchObject({ read: 4, imported: 2, rejected: 2 });
      expect(store.findContactByEmail('ann@example.com')!.properties.first_name!.value).toBe('A, "quoted" ]');
      expect([...store.findContactByEmail('cy@example.com')!.tags].sort()).toEqual(['a', 'b']);
      const rejects = readFileSync(summary.rejectsFile!, 'utf8');
      expect(rejects).toBe('[\n{"email": "not-an-email"}\n,{"email": "bob@example.com",\n   "plan": }\n]\n');
      expect(readFileSync(summary.errorsFile!, 'utf8')).toMatch(
        /:2 \(\S+\.json:3\): "not-an-email" is not a valid email address.*\n.*:3 \(\S+\.json:4\): not valid JSON/,
      );
      writeFileSync(summary.rejectsFile!, rejects.replace('not-an-email', 'dee@example.com').replace('"plan": }', '"plan": "pro"}'));
      expect(await importFile({ kind: 'contacts', file: summary.rejectsFile!, store, now: () => NOW })).toMatchObject({ imported: 2, rejected: 0 });
      expect(store.findContactByEmail('bob@example.com')!.properties.plan!.value).toBe('pro');
    } finally {
      store.close();
    }
  });

  it('rejects an element the file ends inside, and text after the array, keeping the rest', async () => {
    expect((await elements(write('[{"email":"a@x.com"}, {"email":"b@x.com", "note": "never closed'), 7)).map((e) => [e.line, e.unreadable])).toEqual([
      [1, undefined],
      [1, 'the file ends inside this element (a string or a bracket is not closed)'],
    ]);
    expect((await elements(write('[{"email":"a@x.com"}\n]\n{"email":"b@x.com"}\n'))).map((e) => [e.line, e.text, e.unreadable])).toEqual([
      [1, '{"email":"a@x.com"}', undefined],
      [3, '{"email":"b@x.com"}', 'text after the end of the array'],
    ]);
  });

  it('reads JSON lines that start with a byte-order mark, the first line included', async () => {
    const store = new SqliteStore({ path: join(dir, 'bom.sqlite'), now: () => NOW });
    try {
      const file = write('\uFEFF{"email":"bom@example.com","first_name":"Bo"}\n{"email":"bom2@example.com"}\n', 'jsonl');
      expect(formatOf(file)).toBe('jsonl');
      expect(await importFile({ kind: 'contacts', file, store, now: () => NOW })).toMatchObject({ imported: 2, rejected: 0 });
      expect(store.findContactByEmail('bom@example.com')!.properties.first_name!.value).toBe('Bo');
    } finally {
      store.close();
    }
  });
});
