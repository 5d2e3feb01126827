import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../../../src/errors';
import type { IncomingEvent } from '../../../src/model/types';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const T0 = Date.UTC(2026, 0, 1);

function event(email: string, name: string, time: number, eventId?: string): IncomingEvent {
  return { email, name, time, properties: { value: 10 }, source: 'import', ...(eventId ? { eventId } : {}) };
}

describe('SqliteStore', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-store-'));
    path = join(dir, '.segsync', 'segsync.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the file with WAL mode and the latest schema version', () => {
    const store = new SqliteStore({ path });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.schemaVersion).toBe(MIGRATIONS[MIGRATIONS.length - 1]!.version);
    store.close();
  });

  it('merges contacts by normalised email and reports what changed', () => {
    const store = new SqliteStore({ path, now: () => T0 });
    const [a] = store.upsertContacts([
      { email: '  Ada@Example.COM ', properties: { first_name: 'Ada' }, tags: ['vip'], consent: 'subscribed', source: 'local' },
    ]);
    const [b] = store.upsertContacts([
      { email: 'ada@example.com', properties: { first_name: 'Ada', plan: 'pro' }, source: 'hubspot', externalIds: { hubspot: '101' } },
    ]);
    expect(a!.created).toBe(true);
    expect(b).toEqual({ contactId: a!.contactId, created: false, changed: ['plan'] });
    const c = store.findContactByExternalId('hubspot', '101')!;
    expect(c.email).toBe('ada@example.com');
    expect(c.properties.plan).toMatchObject({ value: 'pro', source: 'hubspot' });
    expect([...c.tags]).toEqual(['vip']);
    expect(c.consent?.status).toBe('subscribed');
    store.close();
  });

  it('rolls back a whole batch when one contact in it fails (nothing half-written)', () => {
    const store = new SqliteStore({ path });
    store.upsertContacts([{ email: 'keep@x.com', properties: {}, source: 'local' }]);
    expect(() =>
      store.upsertContacts([
        { email: 'one@x.com', properties: { a: 1 }, source: 'local' },
        { email: 'two@x.com', properties: { a: 2 }, source: 'local' },
        { email: 'not an email', properties: {}, source: 'local' },
      ]),
    ).toThrow(ValidationError);
    expect(store.findContactByEmail('one@x.com')).toBeUndefined();
    expect(store.findContactByEmail('two@x.com')).toBeUndefined();
    expect(store.counts().contacts).toBe(1);
    store.close();
  });

  it('rolls back events and segment state written in one transaction when a later write throws', () => {
    const store = new SqliteStore({ path });
    const contactId = store.upsertContacts([{ email: 'a@x.com', properties: {}, source: 'local' }])[0]!.contactId;
    expect(() =>
      store.transaction(() => {
        store.appendEvents([event('a@x.com', 'Added to Cart', T0)]);
        store.saveEvaluation(contactId, [{ contactId, segment: 'cart', value: true, since: T0 }], T0 + 86_400_000);
        throw new Error('crash between writes');
      }),
    ).toThrow('crash between writes');
    expect(store.eventsOf(contactId)).toEqual([]);
    expect(store.getSegmentStates(contactId)).toEqual([]);
    expect(store.dueWakeupTimes(T0 + 10 * 86_400_000)).toEqual([]);
    store.close();
  });

  it('reads back every stored answer exactly, across id ranges and with awkward values', () => {
    const store = new SqliteStore({ path });
    const ins = store.db.prepare('INSERT INTO contacts (id, email, created_at, updated_at) VALUES (?, ?, 0, 0)');
    // Ids on both sides of the 65,536-id ranges the read is packed by, and a lone one far past them.
    const ids = [1, 2, 65_535, 65_536, 65_537, 200_001];
    for (const id of ids) ins.run(id, `c${id}@x.com`);
    const values = [true, false, null, 0, -1.5, 'gold', '', 'a,b;c|d', 'ünï\u001f\u001e"q"', { stage: 'x', n: [1, 2] }, [3, 'y']];
    store.saveEvaluations(
      ids.map((contactId, k) => ({
        contactId,
        // One answer for the first contact, several for the others.
        states: (k === 0 ? values.slice(0, 1) : values).map((value, i) => ({ contactId, segment: `seg_${(i + k) % values.length}`, value, since: T0 })),
        nextChangeAt: undefined,
      })),
    );
    const written = ids.flatMap((id, k) =>
      (k === 0 ? values.slice(0, 1) : values).map((value, i) => `${id} seg_${(i + k) % values.length} ${JSON.stringify(value)}`),
    );
    const got: string[] = [];
    store.forEachSegmentAnswer((id, segment, value) => got.push(`${id} ${segment} ${JSON.stringify(value)}`));
    expect(got.sort()).toEqual([...written].sort());
    const scanned = [...store.scanSegmentStates()];
    expect(scanned.map(([id, segment, json]) => `${id} ${segment} ${json}`).sort()).toEqual([...written].sort());
    // In key order: by contact, then segment.
    expect(scanned.map(([id, segment]) => [id, segment])).toEqual(
      [...scanned].map(([id, segment]) => [id, segment]).sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0)),
    );
    store.close();
  });

  it('writes and removes wake-ups in batches exactly as one by one would (more than one statement of each)', () => {
    const store = new SqliteStore({ path });
    const ins = store.db.prepare('INSERT INTO contacts (id, email, created_at, updated_at) VALUES (?, ?, 0, 0)');
    for (let id = 1; id <= 300; id++) ins.run(id, `w${id}@x.com`);
    const wakeups = (): [number, number][] => store.db.prepare('SELECT contact_id, next_change_at FROM wakeups ORDER BY 1').raw().all() as [number, number][];
    store.saveEvaluations(Array.from({ length: 300 }, (_, k) => ({ contactId: k + 1, states: [], nextChangeAt: T0 + k })));
    expect(wakeups()).toEqual(Array.from({ length: 300 }, (_, k) => [k + 1, T0 + k]));
    // Every third loses its wake-up, every other one moves; the rest stay.
    store.saveEvaluations(
      Array.from({ length: 300 }, (_, k) => ({ contactId: k + 1, states: [], nextChangeAt: k % 3 === 0 ? undefined : k % 2 ? T0 + 10_000 + k : T0 + k })),
    );
    expect(wakeups()).toEqual(
      Array.from({ length: 300 }, (_, k) => [k + 1, k % 2 ? T0 + 10_000 + k : T0 + k] as [number, number]).filter((_, k) => k % 3 !== 0),
    );
    // A contact named twice in one batch ends as its last word says, either way round.
    store.saveEvaluations([
      { contactId: 2, states: [], nextChangeAt: T0 },
      { contactId: 3, states: [], nextChangeAt: undefined },
      { contactId: 2, states: [], nextChangeAt: undefined },
      { contactId: 3, states: [], nextChangeAt: T0 + 3 },
    ]);
    const byId = new Map(wakeups());
    expect(byId.has(2)).toBe(false);
    expect(byId.get(3)).toBe(T0 + 3);
    // The due ones, in id order whatever their times, each with its time; none after `now`.
    const due = store.dueWakeupTimes(T0 + 10_000 + 5);
    expect(due).toEqual([...byId].filter(([, at]) => at <= T0 + 10_000 + 5).map(([contactId, at]) => ({ contactId, at })));
    expect(due.map((d) => d.contactId)).toEqual(due.map((d) => d.contactId).sort((a, b) => a - b));
    expect(due.slice(0, 4)).toEqual([
      { contactId: 3, at: T0 + 3 },
      { contactId: 5, at: T0 + 4 },
      { contactId: 6, at: T0 + 10_005 },
      { contactId: 9, at: T0 + 8 },
    ]);
    // No index by time (migration 89): the heap or one scan finds the due contacts.
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'wakeups'").pluck().all()).toEqual([]);
    store.close();
  });

  it('scans contacts, properties and tags exactly and in key order, a value that is not JSON read as null', () => {
    const store = new SqliteStore({ path });
    const db = store.db;
    const ins = db.prepare('INSERT INTO contacts (id, email, created_at, updated_at, consent_status) VALUES (?, ?, ?, 0, ?)');
    const prop = db.prepare("INSERT INTO properties (contact_id, name, value, updated_at, source) VALUES (?, ?, ?, 0, 'local')");
    const tag = db.prepare("INSERT INTO tags (contact_id, tag, added_at, source) VALUES (?, ?, 0, 'local')");
    ins.run(70_000, 'late@x.com', T0 + 2, null);
    ins.run(3, 'o\'"ü\\@x.com', T0, 'subscribed');
    ins.run(65_536, 'edge@x.com', T0 + 1, 'pending');
    prop.run(3, 'plan', '"pro"');
    prop.run(3, 'country', '"DE"');
    prop.run(3, 'score', '{"a":[1,2.5,null]}');
    prop.run(65_536, 'plan', 'not json');
    prop.run(70_000, 'plan', '"free"');
    prop.run(70_000, 'country', '"a,b]\\\\"');
    tag.run(70_000, 'vip');
    tag.run(3, 'z"q');
    tag.run(3, 'a');
    expect([...store.scanContacts()]).toEqual([
      [3, 'o\'"ü\\@x.com', T0, 'subscribed'],
      [65_536, 'edge@x.com', T0 + 1, 'pending'],
      [70_000, 'late@x.com', T0 + 2, null],
    ]);
    expect([...store.scanProperties(['plan', 'country'])]).toEqual([
      [3, 'country', 'DE'],
      [3, 'plan', 'pro'],
      [65_536, 'plan', null],
      [70_000, 'country', 'a,b]\\'],
      [70_000, 'plan', 'free'],
    ]);
    expect([...store.scanProperties(undefined)].filter(([id]) => id === 3)).toEqual([
      [3, 'country', 'DE'],
      [3, 'plan', 'pro'],
      [3, 'score', { a: [1, 2.5, null] }],
    ]);
    expect([...store.scanProperties([])]).toEqual([]);
    expect([...store.scanTags()]).toEqual([
      [3, 'a'],
      [3, 'z"q'],
      [70_000, 'vip'],
    ]);
    store.close();
  });

  it('drops a replayed event instead of doubling it (explicit and derived idempotency ids)', () => {
    const store = new SqliteStore({ path });
    const first = store.appendEvents([event('a@x.com', 'Placed Order', T0, 'ord-1'), event('a@x.com', 'Viewed Product', T0 + 1)]);
    const replay = store.appendEvents([event('A@x.com', 'Placed Order', T0, 'ord-1'), event('a@x.com', 'Viewed Product', T0 + 1)]);
    expect(first).toMatchObject({ inserted: 2, duplicates: 0, contactsCreated: 1 });
    expect(replay).toMatchObject({ inserted: 0, duplicates: 2, contactsCreated: 0, touched: [] });
    const id = store.findContactByEmail('a@x.com')!.id;
    expect(store.eventsOf(id).map((e) => e.name)).toEqual(['Placed Order', 'Viewed Product']);
    store.close();
  });

  it('runs new migrations on an existing file without losing data', () => {
    const v1 = MIGRATIONS.filter((m) => m.version === 1);
    const old = new SqliteStore({ path, migrations: v1 });
    old.upsertContacts([{ email: 'kept@x.com', properties: { plan: 'pro' }, source: 'local' }]);
    old.appendEvents([event('kept@x.com', 'Placed Order', T0, 'o1')]);
    old.close();
    const next = [...MIGRATIONS, { version: 999, name: 'test: add a column', sql: 'ALTER TABLE contacts ADD COLUMN nickname TEXT;' }];
    const upgraded = new SqliteStore({ path, migrations: next });
    expect(upgraded.schemaVersion).toBe(999);
    expect(upgraded.db.prepare('SELECT email, nickname FROM contacts').all()).toEqual([{ email: 'kept@x.com', nickname: null }]);
    expect(upgraded.counts().events).toBe(1);
    upgraded.close();
    expect(() => new SqliteStore({ path })).toThrow(/newer than this segsync knows/);
  });

  it('applies pending migrations when an old file is opened', () => {
    const old = new SqliteStore({ path, migrations: [] });
    expect(old.schemaVersion).toBe(0);
    old.close();
    const store = new SqliteStore({ path });
    expect(store.schemaVersion).toBe(MIGRATIONS[MIGRATIONS.length - 1]!.version);
    store.close();
  });

  it('lets a reader see the last committed state while a writer is inside a transaction', () => {
    const writer = new SqliteStore({ path });
    writer.appendEvents([event('a@x.com', 'Viewed Product', T0, 'e0')]);
    const reader = new SqliteStore({ path, readonly: true });
    writer.transaction(() => {
      writer.appendEvents([event('a@x.com', 'Viewed Product', T0 + 1, 'e1')]);
      // The uncommitted event is invisible to the reader, and reading does not block.
      expect(reader.counts().events).toBe(1);
    });
    expect(reader.counts().events).toBe(2);
    reader.close();
    writer.close();
  });

  it('coalesces outbox operations per contact and key, and never deletes a newer version on completion', () => {
    const store = new SqliteStore({ path });
    const contactId = store.upsertContacts([{ email: 'a@x.com', properties: {}, source: 'local' }])[0]!.contactId;
    store.enqueue([{ esp: 'hubspot', contactId, key: 'plan', op: 'set', value: 'free' }], T0);
    const [claimed] = store.dueOutbox('hubspot', T0, 10);
    store.enqueue([{ esp: 'hubspot', contactId, key: 'plan', op: 'set', value: 'pro' }], T0 + 1);
    store.completeOutbox([{ id: claimed!.id, version: claimed!.version }]);
    const left = store.dueOutbox('hubspot', T0 + 1, 10);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ value: 'pro', version: 2 });
    store.failOutbox(left[0]!.id, 'HTTP 400: unknown property', T0 + 2, true);
    expect(store.counts().outbox).toEqual([{ esp: 'hubspot', pending: 0, dead: 1 }]);
    expect(store.reviveDead('hubspot', T0 + 3)).toBe(1);
    expect(store.dueOutbox('hubspot', T0 + 3, 10)).toHaveLength(1);
    store.close();
  });

  it('erases a contact with its events, tags and state', () => {
    const store = new SqliteStore({ path });
    store.appendEvents([event('gone@x.com', 'Placed Order', T0, 'o1')]);
    const id = store.findContactByEmail('gone@x.com')!.id;
    store.updateTags(id, ['vip'], [], 'local', T0);
    store.putSyncState([{ contactId: id, esp: 'klaviyo', key: 'plan', remoteValue: 'pro', pushedValue: 'pro', remoteModifiedAt: T0 }]);
    store.eraseContact(id);
    expect(store.getContact(id)).toBeUndefined();
    expect(store.counts()).toMatchObject({ contacts: 0, events: 0 });
    expect(store.getSyncState(id, 'klaviyo')).toEqual([]);
    store.close();
  });

  it('refuses to give one ESP id to two contacts', () => {
    const store = new SqliteStore({ path });
    const out = store.upsertContacts([
      { email: 'a@x.com', properties: {}, source: 'local', externalIds: { klaviyo: 'K1' } },
      { email: 'b@x.com', properties: {}, source: 'local' },
    ]);
    expect(() => store.setExternalId(out[1]!.contactId, 'klaviyo', 'K1')).toThrow(/already belongs/);
    store.close();
  });
});
