import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { OutboxInput } from '../../../src/store/store';
import { TAGS_KEY } from '../../../src/sync/inbound';
import { destructiveChanges, valveError } from '../../../src/sync/safety';

describe('safety valve', () => {
  let dir: string;
  let store: SqliteStore;
  let ids: number[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-valve-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    ids = store
      .upsertContacts(Array.from({ length: 100 }, (_, i) => ({ email: `v${i}@x.com`, properties: {}, source: 'local' as const })))
      .map((o) => o.contactId);
    // Every contact carries the tag and a lifetime value on Klaviyo.
    store.putSyncState(
      ids.flatMap((contactId) => [
        { contactId, esp: 'klaviyo' as const, key: TAGS_KEY, remoteValue: ['seg:vip', 'own'], pushedValue: undefined, remoteModifiedAt: 1 },
        { contactId, esp: 'klaviyo' as const, key: 'lifetime_value', remoteValue: 150, pushedValue: undefined, remoteModifiedAt: 1 },
      ]),
    );
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const queue = (n: number, op: (contactId: number) => OutboxInput): void => store.enqueue(ids.slice(0, n).map(op), 0);
  const safety = { maxShare: 0.2, minContacts: 10, fields: 'resets' as const };

  it('stops removing a tag from more than the share of its carriers, not at or below it', () => {
    queue(20, (contactId) => ({ esp: 'klaviyo', contactId, key: 'tag:seg:vip', op: 'removeTag', value: 'seg:vip' }));
    expect(destructiveChanges(store, 'klaviyo', safety)).toEqual([]);
    queue(21, (contactId) => ({ esp: 'klaviyo', contactId, key: 'tag:seg:vip', op: 'removeTag', value: 'seg:vip' }));
    expect(destructiveChanges(store, 'klaviyo', safety)).toEqual([{ esp: 'klaviyo', key: 'tag:seg:vip', affected: 21, carriers: 100 }]);
  });

  it('counts clears and resets to zero, not ordinary value changes, unless told to count every change', () => {
    queue(50, (contactId) => ({ esp: 'klaviyo', contactId, key: 'lifetime_value', op: 'set', value: 175 }));
    expect(destructiveChanges(store, 'klaviyo', safety)).toEqual([]);
    expect(destructiveChanges(store, 'klaviyo', { ...safety, fields: 'changes' })).toEqual([
      { esp: 'klaviyo', key: 'lifetime_value', affected: 50, carriers: 100 },
    ]);
    queue(30, (contactId) => ({ esp: 'klaviyo', contactId, key: 'lifetime_value', op: 'set', value: 0 }));
    const found = destructiveChanges(store, 'klaviyo', safety);
    expect(found).toEqual([{ esp: 'klaviyo', key: 'lifetime_value', affected: 30, carriers: 100 }]);
    expect(valveError('klaviyo', found, safety).message).toBe(
      'klaviyo: push stopped: it would clear or change lifetime_value on 30 of the 100 contacts that carry it (more than 20 %)',
    );
  });

  it('never stops below the absolute floor, whatever the share', () => {
    queue(9, (contactId) => ({ esp: 'klaviyo', contactId, key: 'lifetime_value', op: 'clear' }));
    expect(destructiveChanges(store, 'klaviyo', { ...safety, maxShare: 0 })).toEqual([]);
  });
});
