import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const T0 = Date.UTC(2026, 0, 1);

describe('SqliteStore: the fields a push wrote on each ESP', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-written-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const path = (): string => join(dir, 'segsync.db');

  it('records a field when a push writes it (latest time kept), never a pulled value or an `@` key', () => {
    const store = new SqliteStore({ path: path() });
    const [a, b] = store
      .upsertContacts(['a@x.com', 'b@x.com'].map((email) => ({ email, properties: {}, source: 'local' as const, time: T0 })))
      .map((c) => c.contactId);
    store.putSyncState([
      { contactId: a!, esp: 'klaviyo', key: 'plan', remoteValue: 'pro', pushedValue: 'pro', remoteModifiedAt: T0, pushedAt: T0 + 2 },
      { contactId: b!, esp: 'klaviyo', key: 'plan', remoteValue: null, pushedValue: null, remoteModifiedAt: T0, pushedAt: T0 + 1 },
      { contactId: a!, esp: 'klaviyo', key: '@tags', remoteValue: ['seg:a'], pushedValue: ['seg:a'], remoteModifiedAt: T0, pushedAt: T0 },
      // Pulled: segsync did not write it.
      { contactId: a!, esp: 'klaviyo', key: 'city', remoteValue: 'Oslo', pushedValue: undefined, remoteModifiedAt: T0 },
    ]);
    store.putSyncState([{ contactId: b!, esp: 'mailchimp', key: 'FNAME', remoteValue: 'Bo', pushedValue: 'Bo', remoteModifiedAt: T0, pushedAt: T0 + 5 }]);
    // An older write answered later does not move the time back.
    store.putSyncState([{ contactId: b!, esp: 'klaviyo', key: 'plan', remoteValue: 'free', pushedValue: 'free', remoteModifiedAt: T0, pushedAt: T0 }]);
    expect(store.writtenFields('klaviyo')).toEqual([{ key: 'plan', lastWrittenAt: T0 + 2 }]);
    expect(store.writtenFields('mailchimp')).toEqual([{ key: 'FNAME', lastWrittenAt: T0 + 5 }]);
    expect(store.forgetWrittenField('klaviyo', 'plan')).toBe(2);
    expect(store.writtenFields('klaviyo')).toEqual([]);
    expect(
      store
        .getSyncState(a!, 'klaviyo')
        .map((r) => r.key)
        .sort(),
    ).toEqual(['@tags', 'city']);
    // A new account forgets what was written to the old one.
    store.unlinkEsp('mailchimp');
    expect(store.writtenFields('mailchimp')).toEqual([]);
    store.close();
  });

  it('learns, when it migrates an older store, what earlier pushes wrote; an older store opened read-only names none', () => {
    const old = new SqliteStore({ path: path(), migrations: MIGRATIONS.filter((m) => m.version < 97) });
    const [a] = old.upsertContacts([{ email: 'a@x.com', properties: {}, source: 'local', time: T0 }]).map((c) => c.contactId);
    const put = old.db.prepare(
      'INSERT INTO sync_state (contact_id, esp, key, remote_value, pushed_value, remote_modified_at, pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    put.run(a, 'klaviyo', 'plan', '"pro"', '"pro"', T0, T0 + 3);
    put.run(a, 'klaviyo', 'rfm', '"111"', '"111"', T0, null);
    put.run(a, 'klaviyo', 'city', '"Oslo"', null, T0, null);
    put.run(a, 'klaviyo', '@email', '"a@x.com"', '"a@x.com"', T0, T0);
    old.close();
    const readOnly = new SqliteStore({ path: path(), readonly: true });
    expect(readOnly.writtenFields('klaviyo')).toEqual([]);
    readOnly.close();
    const store = new SqliteStore({ path: path() });
    expect(store.writtenFields('klaviyo')).toEqual([
      { key: 'plan', lastWrittenAt: T0 + 3 },
      { key: 'rfm', lastWrittenAt: undefined },
    ]);
    store.close();
  });
});
