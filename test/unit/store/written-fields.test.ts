import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const T0 = Date.UTC(2026, 0, 1);

describe('SqliteStore: the fields a push wrote and the tags it put on contacts, on each ESP', () => {
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

  it('records the tags a push put on contacts, counts who holds each through its index, and forgets one from every contact', () => {
    const store = new SqliteStore({ path: path() });
    const [a, b, c] = store
      .upsertContacts(['a@x.com', 'b@x.com', 'c@x.com'].map((email) => ({ email, properties: {}, source: 'local' as const, time: T0 })))
      .map((o) => o.contactId);
    const added = (contactId: number, tags: string[]) => ({
      contactId,
      esp: 'mailchimp' as const,
      key: '@tags-added',
      remoteValue: undefined,
      pushedValue: tags,
      remoteModifiedAt: undefined,
      pushedAt: T0,
    });
    store.putSyncState([added(a!, ['vip', 'seg:x']), added(b!, ['vip']), added(c!, [])]);
    store.noteAddedTags('mailchimp', ['vip', 'seg:x', 'vip'], T0);
    store.noteAddedTags('mailchimp', ['vip'], T0 + 5);
    expect(store.addedTagNames('mailchimp')).toEqual([
      { tag: 'seg:x', lastAddedAt: T0 },
      { tag: 'vip', lastAddedAt: T0 + 5 },
    ]);
    expect(store.addedTagHolders('mailchimp', ['vip', 'seg:x', 'nobody'])).toEqual(
      new Map([
        ['vip', 2],
        ['seg:x', 1],
        ['nobody', 0],
      ]),
    );
    const plan = store.db
      .prepare("EXPLAIN QUERY PLAN SELECT count(*) FROM sync_state s, json_each(s.pushed_value) j WHERE s.esp = ? AND s.key = '@tags-added' GROUP BY j.value")
      .all('mailchimp');
    expect(JSON.stringify(plan)).toContain('sync_state_added_tags');
    expect(store.forgetAddedTag('mailchimp', 'vip')).toBe(2);
    expect(store.getSyncState(a!, 'mailchimp').find((r) => r.key === '@tags-added')?.pushedValue).toEqual(['seg:x']);
    expect(store.addedTagNames('mailchimp').map((t) => t.tag)).toEqual(['seg:x']);
    store.unlinkEsp('mailchimp');
    expect(store.addedTagNames('mailchimp')).toEqual([]);
    store.close();
  });

  it('learns, when it migrates an older store, which tags earlier pushes put on contacts', () => {
    const old = new SqliteStore({ path: path(), migrations: MIGRATIONS.filter((m) => m.version < 98) });
    const [a] = old.upsertContacts([{ email: 'a@x.com', properties: {}, source: 'local', time: T0 }]).map((c) => c.contactId);
    const put = old.db.prepare(
      'INSERT INTO sync_state (contact_id, esp, key, remote_value, pushed_value, remote_modified_at, pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    put.run(a, 'hubspot', '@tags-added', null, '["vip","seg:a"]', null, T0 + 1);
    put.run(a, 'klaviyo', '@tags-added', null, 'not json', null, T0);
    old.close();
    const store = new SqliteStore({ path: path() });
    expect(store.addedTagNames('hubspot')).toEqual([
      { tag: 'seg:a', lastAddedAt: T0 + 1 },
      { tag: 'vip', lastAddedAt: T0 + 1 },
    ]);
    expect(store.addedTagNames('klaviyo')).toEqual([]);
    store.close();
  });
});
