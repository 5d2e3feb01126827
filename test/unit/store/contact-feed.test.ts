import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations';
import { T0, storeFilePerTest } from '../rules/helpers';

const { open, path } = storeFilePerTest();

function contact(store: SqliteStore, email: string): number {
  return store.upsertContacts([{ email, properties: { plan: 'free' }, consent: 'subscribed', source: 'local', time: T0 }])[0]!.contactId;
}

const ids = (store: SqliteStore): number[] => store.contactChanges().map(([id]) => id);

describe('the contacts other processes changed (contact_changes, migration 88)', () => {
  it('notes every write of a contact, its properties, tags, consent and changed or deleted events, one row per contact', () => {
    const store = open();
    const a = contact(store, 'a@example.com');
    const b = contact(store, 'b@example.com');
    const c = contact(store, 'c@example.com');
    store.appendEvents([{ email: 'c@example.com', name: 'Viewed Product', time: T0, properties: {}, source: 'track' }]);
    expect(ids(store)).toEqual([a, b, c]);
    store.clearContactChanges(store.contactChanges());
    expect(ids(store)).toEqual([]);

    store.setProperty(a, 'plan', { value: 'pro', updatedAt: T0 + 1, source: 'local' });
    store.updateTags(b, ['vip'], [], 'local', T0 + 1);
    expect(ids(store)).toEqual([a, b]);
    store.setConsent(c, { status: 'unsubscribed', updatedAt: T0 + 1, source: 'local' });
    const before = new Map(store.contactChanges());
    expect([...before.keys()]).toEqual([a, b, c]);
    // Another write of a noted contact bumps its version instead of adding a row.
    store.setProperty(a, 'plan', { value: 'enterprise', updatedAt: T0 + 2, source: 'local' });
    const after = new Map(store.contactChanges());
    expect([...after.keys()]).toEqual([a, b, c]);
    expect(after.get(a)).toBeGreaterThan(before.get(a)!);
    expect(after.get(b)).toBe(before.get(b));
    store.clearContactChanges(store.contactChanges());

    // A merge moves events from one contact to another: both changed.
    store.db.prepare('UPDATE events SET contact_id = ? WHERE contact_id = ?').run(a, c);
    expect(ids(store)).toEqual([a, c]);
    store.clearContactChanges(store.contactChanges());
    store.eraseContact(a);
    expect(ids(store)).toEqual([a]);
  });

  it("notes the contacts a connection that queues no pushes evaluated (`segsync segments`), and none of a daemon's", () => {
    const cli = open();
    const daemon = open();
    daemon.evaluatesOwnContactWrites();
    const a = contact(cli, 'a@example.com');
    const b = contact(cli, 'b@example.com');
    const c = contact(cli, 'c@example.com');
    const d = contact(cli, 'd@example.com');
    cli.clearContactChanges(cli.contactChanges());
    const vip = (id: number, value: boolean) => [{ contactId: id, segment: 'vip', value, since: T0 }];
    cli.saveEvaluations([
      { contactId: a, states: vip(a, true), nextChangeAt: undefined },
      { contactId: b, states: [], nextChangeAt: T0 + 5 },
    ]);
    cli.saveEvaluation(c, vip(c, true), undefined);
    // b's wake-up alone is noted too: a daemon's caches hold wake-ups, and only a contact it read
    // again after every such write lets it save them for its next start.
    expect(ids(cli)).toEqual([a, b, c]);
    cli.clearContactChanges(cli.contactChanges());
    cli.saveEvaluation(c, vip(c, true), undefined);
    cli.saveEvaluation(d, [], T0 + 9);
    expect(ids(cli)).toEqual([c, d]);
    cli.clearContactChanges(cli.contactChanges());

    daemon.saveEvaluation(a, vip(a, false), undefined);
    daemon.saveEvaluations([{ contactId: b, states: vip(b, true), nextChangeAt: undefined }]);
    expect(ids(daemon)).toEqual([]);
    cli.close();
    daemon.close();
  });

  it('notes nothing a connection whose rules hear of its own writes makes, but keeps what another one noted', () => {
    const daemon = open();
    const importer = open();
    daemon.evaluatesOwnContactWrites();
    const a = contact(daemon, 'a@example.com');
    daemon.setProperty(a, 'plan', { value: 'pro', updatedAt: T0 + 1, source: 'local' });
    expect(ids(daemon)).toEqual([]);

    importer.setProperty(a, 'plan', { value: 'team', updatedAt: T0 + 2, source: 'local' });
    const [[noted, version]] = daemon.contactChanges() as [[number, number]];
    expect(noted).toBe(a);
    // Its own later write of the same contact does not hide the other process's change.
    daemon.updateTags(a, ['vip'], [], 'local', T0 + 3);
    expect(daemon.contactChanges()).toEqual([[a, expect.any(Number)]]);
    expect(daemon.contactChanges()[0]![1]).toBeGreaterThan(version);
    const b = contact(importer, 'b@example.com');
    expect(ids(importer)).toEqual([a, b]);
  });

  it('clears a change only when the contact did not change again since it was read', () => {
    const store = open();
    contact(store, 'a@example.com');
    const b = contact(store, 'b@example.com');
    const read = store.contactChanges();
    store.setProperty(b, 'plan', { value: 'pro', updatedAt: T0 + 1, source: 'local' });
    store.clearContactChanges(read);
    expect(ids(store)).toEqual([b]);
  });

  it('tells the changes noted after a mark from those before it', () => {
    const store = open();
    const a = contact(store, 'a@example.com');
    const b = contact(store, 'b@example.com');
    const mark = store.contactChangeMark();
    expect(store.contactChanges().every(([, version]) => version <= mark)).toBe(true);
    const c = contact(store, 'c@example.com');
    store.setProperty(a, 'plan', { value: 'pro', updatedAt: T0 + 1, source: 'local' });
    expect(
      store
        .contactChanges()
        .filter(([, version]) => version > mark)
        .map(([id]) => id),
    ).toEqual([a, c]);
    expect(ids(store)).toEqual([a, b, c]);
  });

  it('gives at most the number asked for, lowest ids first', () => {
    const store = open();
    const all = ['a', 'b', 'c', 'd', 'e'].map((x) => contact(store, `${x}@example.com`));
    expect(ids(store)).toEqual(all);
    expect(store.contactChanges(2).map(([id]) => id)).toEqual(all.slice(0, 2));
    store.clearContactChanges(store.contactChanges(2));
    expect(store.contactChanges(2).map(([id]) => id)).toEqual(all.slice(2, 4));
  });

  it('starts noting on a store made before it, from its first write after the upgrade', () => {
    const old = new SqliteStore({ path: path(), now: () => T0, migrations: MIGRATIONS.filter((m) => m.version < 88) });
    const a = contact(old, 'a@example.com');
    expect(old.contactChanges()).toEqual([]);
    old.evaluatesOwnContactWrites();
    old.close();
    const store = open();
    expect(store.schemaVersion).toBe(MIGRATIONS[MIGRATIONS.length - 1]!.version);
    expect(ids(store)).toEqual([]);
    store.setProperty(a, 'plan', { value: 'pro', updatedAt: T0 + 1, source: 'local' });
    expect(ids(store)).toEqual([a]);
  });
});
