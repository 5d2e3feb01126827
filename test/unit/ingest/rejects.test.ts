import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importFile } from '../../../src/ingest/importer';
import { errorsPathFor, rejectsPathFor } from '../../../src/ingest/rejects';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const NOW = Date.UTC(2026, 11, 3, 13, 9, 41);

describe('rejects: fix them and import them again', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-rejects-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => NOW });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("names one pair of files per run after the input and the run's time, never stacking suffixes", () => {
    const at = new Date(NOW);
    expect(rejectsPathFor('/d/orders.jsonl', at)).toBe('/d/orders.rejects-20261203-130941.jsonl');
    expect(rejectsPathFor('/d/people.csv', at)).toBe('/d/people.rejects-20261203-130941.csv');
    expect(rejectsPathFor('/d/orders.rejects-20261201-080000.jsonl', at)).toBe('/d/orders.rejects-20261203-130941.jsonl');
    expect(errorsPathFor('/d/orders.rejects-20261203-130941.jsonl')).toBe('/d/orders.rejects-20261203-130941.errors.txt');
  });

  it("JSON lines: the rejects file, fixed, imports cleanly; a second run keeps the first run's rejects", async () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      [
        '{"email":"a@x.com","name":"Viewed Product","time":"2026-04-01T10:00:00Z","id":"v-1"}',
        '{"email":"b@x.com","time":"2026-04-01T10:00:00Z","id":"o-2","properties":{"value":12.5}}',
        '{"email":"c@x.com","name":"Opened Email","time":1775037600,"id":"m-3"}',
      ].join('\n'),
    );
    const first = await importFile({ kind: 'events', file, store, now: () => NOW });
    expect(first).toMatchObject({ imported: 1, rejected: 2 });
    const second = await importFile({ kind: 'events', file, store, now: () => NOW });
    expect(second).toMatchObject({ imported: 0, duplicates: 1, rejected: 2 });
    expect(second.rejectsFile).not.toBe(first.rejectsFile);
    expect(readFileSync(first.rejectsFile!, 'utf8')).toBe(readFileSync(second.rejectsFile!, 'utf8'));
    expect(readdirSync(dir).filter((f) => f.includes('.rejects-')).length).toBe(4);

    // The user's fix: a name for the order, milliseconds for the open.
    const fixed = readFileSync(first.rejectsFile!, 'utf8')
      .replace('"time":"2026-04-01T10:00:00Z"', '"name":"Placed Order","time":"2026-04-01T10:00:00Z"')
      .replace('1775037600,', '1775037600000,');
    writeFileSync(first.rejectsFile!, fixed);
    const again = await importFile({ kind: 'events', file: first.rejectsFile!, store, now: () => NOW });
    expect(again).toMatchObject({ read: 2, imported: 2, rejected: 0, rejectsFile: undefined });
    expect(store.counts().events).toBe(3);
  });

  it('CSV: the rejects file keeps the header and the rows as they were, and imports once fixed', async () => {
    const file = join(dir, 'people.csv');
    writeFileSync(file, 'email,first_name,"properties.note"\nada@x.com,Ada,"likes ""quotes"", commas"\nnot-an-email,Bob,x\ncy@x.com,Cy,\n');
    const first = await importFile({ kind: 'contacts', file, store, now: () => NOW });
    expect(first).toMatchObject({ imported: 2, rejected: 1 });
    expect(readFileSync(first.rejectsFile!, 'utf8')).toBe('email,first_name,"properties.note"\nnot-an-email,Bob,x\n');
    writeFileSync(first.rejectsFile!, readFileSync(first.rejectsFile!, 'utf8').replace('not-an-email', 'bob@x.com'));
    const again = await importFile({ kind: 'contacts', file: first.rejectsFile!, store, now: () => NOW });
    expect(again).toMatchObject({ imported: 1, rejected: 0 });
    expect(store.findContactByEmail('bob@x.com')!.properties.first_name!.value).toBe('Bob');
  });
});
