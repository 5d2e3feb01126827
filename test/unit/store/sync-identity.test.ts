import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_KEY, UNLINKED_KEY } from '../../../src/store/store';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const T0 = Date.UTC(2026, 0, 1);

describe("SqliteStore: record keys and an unlinked record's writes", () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-store-'));
    store = new SqliteStore({ path: join(dir, 'segsync.db') });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const contact = (email: string): number => store.upsertContacts([{ email, properties: {}, source: 'local', time: T0 }])[0]!.contactId;

  it('finds a contact by the stable id of its record on one ESP, through the partial index', () => {
    const a = contact('a@x.com');
    const b = contact('b@x.com');
    store.putSyncState([
      { contactId: a, esp: 'mailchimp', key: RECORD_KEY, remoteValue: 'c-1', pushedValue: undefined, remoteModifiedAt: T0 },
      { contactId: b, esp: 'klaviyo', key: RECORD_KEY, remoteValue: 'c-2', pushedValue: undefined, remoteModifiedAt: T0 },
      { contactId: b, esp: 'mailchimp', key: 'FNAME', remoteValue: 'c-2', pushedValue: undefined, remoteModifiedAt: T0 },
    ]);
    expect(store.findContactByRecordKey('mailchimp', 'c-1')?.email).toBe('a@x.com');
    expect(store.findContactByRecordKey('mailchimp', 'c-2')).toBeUndefined();
    expect(store.findContactByRecordKey('klaviyo', 'c-2')?.email).toBe('b@x.com');
    const plan = store.db
      .prepare(`EXPLAIN QUERY PLAN SELECT contact_id FROM sync_state WHERE esp = ? AND key = '${RECORD_KEY}' AND remote_value = ?`)
      .all('mailchimp', '"c-1"');
    expect(JSON.stringify(plan)).toContain('sync_state_by_record');
  });

  it('counts the contacts unlinked from an ESP per reason, through its index', () => {
    const [a, b, c] = ['a@x.com', 'b@x.com', 'c@x.com'].map(contact);
    const row = (contactId: number, esp: 'klaviyo' | 'mailchimp', remoteValue: string | null) => ({
      contactId,
      esp,
      key: UNLINKED_KEY,
      remoteValue,
      pushedValue: undefined,
      remoteModifiedAt: T0,
    });
    // A restored record's mark is cleared to null (links.ts relink): it counts no more.
    store.putSyncState([
      row(a!, 'klaviyo', 'not found there'),
      row(b!, 'klaviyo', 'not found there'),
      row(c!, 'klaviyo', null),
      row(c!, 'mailchimp', 'archived or deleted'),
    ]);
    expect([store.unlinkedCounts('klaviyo'), store.unlinkedCounts('mailchimp'), store.unlinkedCounts('hubspot')]).toEqual([
      { 'not found there': 2 },
      { 'archived or deleted': 1 },
      {},
    ]);
    const plan = store.db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT remote_value, count(*) FROM sync_state WHERE esp = ? AND key = '${UNLINKED_KEY}' AND remote_value IS NOT NULL GROUP BY remote_value`,
      )
      .all('klaviyo');
    expect(JSON.stringify(plan)).toContain('sync_state_unlinked');
  });

  it("drops one contact's live and dead-lettered writes on one ESP, keeps erase requests and everyone else's, and counts them", () => {
    const a = contact('a@x.com');
    const b = contact('b@x.com');
    store.enqueue(
      [
        { esp: 'mailchimp', contactId: a, key: 'FNAME', op: 'set', value: 'Ann' },
        { esp: 'mailchimp', contactId: a, key: 'tag:vip', op: 'addTag' },
        { esp: 'mailchimp', contactId: a, key: '@erase', op: 'erase' },
        { esp: 'hubspot', contactId: a, key: 'firstname', op: 'set', value: 'Ann' },
        { esp: 'mailchimp', contactId: b, key: 'FNAME', op: 'set', value: 'Bo' },
      ],
      T0,
    );
    const dead = store.pendingOutbox('mailchimp', a).find((o) => o.key === 'tag:vip')!;
    store.failOutbox(dead.id, 'not an active member', T0, true);
    expect(store.dropOutboxFor('mailchimp', a)).toEqual({ queued: 1, dead: 1 });
    expect(store.pendingOutbox('mailchimp', a).map((o) => o.op)).toEqual(['erase']);
    expect(store.deadOutbox('mailchimp', 10)).toEqual([]);
    expect(store.pendingOutbox('hubspot', a)).toHaveLength(1);
    expect(store.pendingOutbox('mailchimp', b)).toHaveLength(1);
    expect(store.dropOutboxFor('mailchimp', a)).toEqual({ queued: 0, dead: 0 });
  });
});
