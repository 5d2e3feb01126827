import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { importFile } from '../../../src/ingest/importer';
import { parseTime, toIncomingContact, toIncomingEvent } from '../../../src/ingest/records';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const NOW = Date.UTC(2026, 4, 1);

describe('import', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-import-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => NOW });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every good line, rejects each bad one with its line number, and writes the rejects file', async () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      [
        '{"email":"a@x.com","name":"Viewed Product","time":"2026-04-01T10:00:00Z","properties":{"sku":"S1"}}',
        '{"email":"a@x.com","name":"Placed Order","time":1775037600000,"id":"o-1","properties":{"value":19.99}}',
        'not json',
        '',
        '{"email":"b@x.com","time":"2026-04-01T10:00:00Z"}',
        '{"email":"b@x.com","event":"Added to Cart","timestamp":"2026-04-02T10:00:00Z","messageId":"m-1"}',
        '{"email":"c@x.com","name":"Opened Email","time":1775037600}',
      ].join('\n'),
    );
    const rejected: number[] = [];
    const summary = await importFile({ kind: 'events', file, store, now: () => NOW, batchSize: 2, onReject: (r) => rejected.push(r.line) });
    expect(summary).toMatchObject({ read: 6, imported: 3, rejected: 3, duplicates: 0, contactsCreated: 2 });
    expect(rejected).toEqual([3, 5, 7]);
    // The records as they were, and the errors beside them, line for line.
    expect(readFileSync(summary.rejectsFile!, 'utf8')).toBe(
      'not json\n{"email":"b@x.com","time":"2026-04-01T10:00:00Z"}\n{"email":"c@x.com","name":"Opened Email","time":1775037600}\n',
    );
    const errors = readFileSync(summary.errorsFile!, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    const name = basename(summary.rejectsFile!);
    expect(errors[0]).toMatch(new RegExp(`^${name.replace(/\./g, '\\.')}:1 \\(events\\.jsonl:3\\): not valid JSON`));
    expect(errors[1]).toMatch(/:2 \(events\.jsonl:5\): .*missing event name/);
    expect(errors[2]).toMatch(/:3 \(events\.jsonl:7\): .*looks like epoch seconds/);
  });

  it("takes a flat event's other keys as its properties (no `properties` object), leaving Segment's envelope out", async () => {
    const file = join(dir, 'flat.jsonl');
    writeFileSync(
      file,
      [
        '{"email":"a@x.com","name":"Placed Order","time":"2026-04-01T10:00:00Z","id":"o-9","value":42.5,"currency":"EUR"}',
        '{"type":"track","userId":"u1","email":"a@x.com","event":"Viewed Product","timestamp":"2026-04-01T11:00:00Z","messageId":"m-9","context":{"ip":"1.2.3.4"},"integrations":{},"channel":"server"}',
        '{"email":"a@x.com","name":"Added to Cart","time":"2026-04-01T12:00:00Z","id":"c-9","properties":{"sku":"S1"},"ignored":true}',
      ].join('\n'),
    );
    expect(await importFile({ kind: 'events', file, store, now: () => NOW })).toMatchObject({ imported: 3, rejected: 0 });
    const events = store.eventsOf(store.findContactByEmail('a@x.com')!.id);
    expect(events.map((e) => [e.name, e.properties])).toEqual([
      ['Placed Order', { value: 42.5, currency: 'EUR' }],
      ['Viewed Product', {}],
      ['Added to Cart', { sku: 'S1' }],
    ]);
  });

  it('imports the same file twice without doubling events', async () => {
    const file = join(dir, 'e.jsonl');
    writeFileSync(
      file,
      '{"email":"a@x.com","name":"Viewed Product","time":"2026-04-01T10:00:00Z"}\n{"email":"a@x.com","name":"Placed Order","time":"2026-04-01T11:00:00Z","id":"o-1"}\n',
    );
    await importFile({ kind: 'events', file, store, now: () => NOW });
    const again = await importFile({ kind: 'events', file, store, now: () => NOW });
    expect(again).toMatchObject({ imported: 0, duplicates: 2, rejected: 0, rejectsFile: undefined });
    expect(store.counts().events).toBe(2);
  });

  it('counts repeated ids as duplicates in a bulk load too (indexes rebuilt), on the first import and on a re-import', async () => {
    const file = join(dir, 'big.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 120_000; i++)
      lines.push(JSON.stringify({ id: `e${i % 110_000}`, email: `u${(i % 110_000) % 500}@x.com`, name: 'Viewed Product', time: NOW - (i % 110_000) }));
    writeFileSync(file, `${lines.join('\n')}\n`);
    const first = await importFile({ kind: 'events', file, store, now: () => NOW });
    expect(first).toMatchObject({ read: 120_000, imported: 110_000, duplicates: 10_000, rejected: 0, contactsCreated: 500 });
    const again = await importFile({ kind: 'events', file, store, now: () => NOW });
    expect(again).toMatchObject({ read: 120_000, imported: 0, duplicates: 120_000 });
    expect(store.counts().events).toBe(110_000);
    expect(store.db.prepare('SELECT MIN(time) FROM events WHERE event_id = ?').pluck().get('e5')).toBe(NOW - 5);
  });

  it('splits a big JSON-lines file between two workers and still writes it in file order, with exact line numbers', async () => {
    const file = join(dir, 'split.jsonl');
    const lines: string[] = [];
    const bad = new Set<number>();
    for (let i = 1; i <= 3_000; i++) {
      if (i % 97 === 0) {
        lines.push('{"email": broken');
        bad.add(i);
      } else if (i % 89 === 0) lines.push('');
      else if (i % 83 === 0) {
        lines.push(JSON.stringify({ email: 'not-an-email', name: 'X', time: NOW }));
        bad.add(i);
      } else
        lines.push(
          `${JSON.stringify({ id: `e${i}`, email: `u${i % 7}@x.com`, name: 'Viewed Product', time: NOW - i, properties: { note: 'ünïcødé'.repeat(i % 5) } })}${i % 2 ? '\r' : ''}`,
        );
    }
    writeFileSync(file, lines.join('\n'));
    const rejectedLines: number[] = [];
    const summary = await importFile({
      kind: 'events',
      file,
      store,
      now: () => NOW,
      rangeBytes: 1_000,
      batchSize: 250,
      onReject: (r) => rejectedLines.push(r.line),
    });
    const good = 3_000 - bad.size - lines.filter((l) => l === '').length;
    expect(summary).toMatchObject({ read: 3_000 - lines.filter((l) => l === '').length, imported: good, rejected: bad.size });
    expect(rejectedLines.sort((a, b) => a - b)).toEqual([...bad].sort((a, b) => a - b));
    const stored = store.db.prepare('SELECT event_id FROM events ORDER BY id').pluck().all() as string[];
    expect(stored).toEqual(lines.flatMap((l, i) => (l.startsWith('{"id"') ? [`e${i + 1}`] : [])));
  });

  it('reads CSV with a header, nested property columns, typed numbers and zip codes kept as text', async () => {
    const file = join(dir, 'contacts.csv');
    writeFileSync(file, 'email,first_name,zip,properties.orders,tags,consent\nAda@X.com,Ada,02134,3,vip;beta,subscribed\nbroken,,,,,\n');
    const summary = await importFile({ kind: 'contacts', file, store, now: () => NOW });
    expect(summary).toMatchObject({ read: 2, imported: 1, rejected: 1 });
    const c = store.findContactByEmail('ada@x.com')!;
    expect(c.properties.zip!.value).toBe('02134');
    expect(c.properties.orders!.value).toBe(3);
    expect(c.properties.first_name!.value).toBe('Ada');
    expect([...c.tags].sort()).toEqual(['beta', 'vip']);
    expect(c.consent?.status).toBe('subscribed');
    expect(readFileSync(summary.rejectsFile!, 'utf8')).toBe('email,first_name,zip,properties.orders,tags,consent\nbroken,,,,,\n');
    expect(readFileSync(summary.errorsFile!, 'utf8')).toMatch(/\.csv:2 \(\S+\.csv:3\): /);
  });
});

describe('records', () => {
  it('reads ISO dates and epoch milliseconds, and refuses epoch seconds', () => {
    expect(parseTime('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime(1767225600000)).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime('1767225600000')).toBe(Date.UTC(2026, 0, 1));
    expect(() => parseTime(1767225600)).toThrow(/epoch seconds/);
    expect(() => parseTime('yesterday')).toThrow(/not a date/);
  });

  it('accepts Segment-spec track payloads', () => {
    const e = toIncomingEvent(
      { event: 'Placed Order', timestamp: '2026-01-01T00:00:00Z', messageId: 'm1', context: { traits: { email: 'A@X.com' } }, properties: { total: 10 } },
      'track',
    );
    expect(e).toEqual({ email: 'a@x.com', name: 'Placed Order', time: Date.UTC(2026, 0, 1), eventId: 'm1', properties: { total: 10 }, source: 'track' });
  });

  it('treats unreserved contact keys as properties', () => {
    const c = toIncomingContact({ email: 'a@x.com', plan: 'pro', properties: { country: 'DE' }, tags: 'a, b' }, 'local', 5);
    expect(c).toEqual({ email: 'a@x.com', properties: { country: 'DE', plan: 'pro' }, tags: ['a', 'b'], source: 'local', time: 5 });
  });

  it('names the field that has the wrong type', () => {
    expect(() => toIncomingEvent({ email: 'a@x.com', name: 'X', time: '2026-01-01T00:00:00Z', properties: 'oops' }, 'import')).toThrow(/"properties"/);
  });
});
