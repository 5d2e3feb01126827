import fc from 'fast-check';
import { isMember, isMemberJson } from '../../../src/model/membership';
import type { FieldValue } from '../../../src/model/types';
import { countMembers, packAnswers, unpackAnswers } from '../../../src/store/sqlite/answer-rows';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations';
import type { SegmentState } from '../../../src/store/store';
import { T0, storeFilePerTest } from '../rules/helpers';

const { open, path } = storeFilePerTest();

function contact(store: SqliteStore, email: string): number {
  return store.upsertContacts([{ email, properties: {}, consent: 'subscribed', source: 'local', time: T0 }])[0]!.contactId;
}

const state = (contactId: number, segment: string, value: SegmentState['value'], since: number): SegmentState => ({ contactId, segment, value, since });

describe('segment answers, one row per contact (migration 90)', () => {
  it('merges a batch into the stored answers: a segment given replaces its own, the others keep value and since', () => {
    const store = open();
    const a = contact(store, 'a@example.com');
    const b = contact(store, 'b@example.com');
    store.saveEvaluations([
      { contactId: a, states: [state(a, 'vip', true, T0), state(a, 'stage', 'lead', T0), state(a, 'score', 0, T0)], nextChangeAt: undefined },
      { contactId: b, states: [state(b, 'vip', false, T0)], nextChangeAt: undefined },
    ]);
    store.saveEvaluations([
      { contactId: a, states: [state(a, 'stage', 'customer', T0 + 1)], nextChangeAt: undefined },
      // Named twice in one batch: the last word wins, as one by one.
      { contactId: b, states: [state(b, 'vip', true, T0 + 1), state(b, 'stage', null, T0 + 1)], nextChangeAt: undefined },
      { contactId: b, states: [state(b, 'vip', false, T0 + 2)], nextChangeAt: undefined },
    ]);
    expect(store.getSegmentStates(a)).toEqual([state(a, 'score', 0, T0), state(a, 'stage', 'customer', T0 + 1), state(a, 'vip', true, T0)]);
    expect(store.getSegmentStates(b)).toEqual([state(b, 'stage', null, T0 + 1), state(b, 'vip', false, T0 + 2)]);
    expect(store.counts().segments).toEqual([
      { segment: 'score', members: 1 },
      { segment: 'stage', members: 1 },
      { segment: 'vip', members: 1 },
    ]);
    store.close();
  });

  it('writes one contact only where a value changed, so an unchanged answer keeps its since', () => {
    const store = open();
    const a = contact(store, 'a@example.com');
    store.saveEvaluation(a, [state(a, 'vip', true, T0), state(a, 'tier', { n: [1, 2] }, T0)], undefined);
    store.saveEvaluation(a, [state(a, 'vip', true, T0 + 5), state(a, 'tier', { n: [1, 3] }, T0 + 5), state(a, 'new', '', T0 + 5)], undefined);
    expect(store.getSegmentStates(a)).toEqual([state(a, 'new', '', T0 + 5), state(a, 'tier', { n: [1, 3] }, T0 + 5), state(a, 'vip', true, T0)]);
    store.close();
  });

  it('keeps any segment name as data, __proto__ too', () => {
    const store = open();
    const a = contact(store, 'a@example.com');
    store.saveEvaluation(a, [state(a, '__proto__', 7, T0), state(a, 'constructor', true, T0)], undefined);
    store.saveEvaluations([{ contactId: a, states: [state(a, '__proto__', 8, T0 + 1)], nextChangeAt: undefined }]);
    expect(store.getSegmentStates(a)).toEqual([state(a, '__proto__', 8, T0 + 1), state(a, 'constructor', true, T0)]);
    const seen: [number, string, unknown][] = [];
    store.forEachSegmentAnswer((id, segment, value) => seen.push([id, segment, value]));
    expect(seen.sort()).toEqual([
      [a, '__proto__', 8],
      [a, 'constructor', true],
    ]);
    store.close();
  });

  it('goes with an erased contact', () => {
    const store = open();
    const a = contact(store, 'a@example.com');
    store.saveEvaluation(a, [state(a, 'vip', true, T0)], undefined);
    store.eraseContact(a);
    expect(store.getSegmentStates(a)).toEqual([]);
    expect([...store.scanSegmentStates()]).toEqual([]);
    store.close();
  });

  it('moves the answers of a store made before it, each with its value and since', () => {
    const old = new SqliteStore({ path: path(), now: () => T0, migrations: MIGRATIONS.filter((m) => m.version < 90) });
    const a = contact(old, 'a@example.com');
    const b = contact(old, 'b@example.com');
    const put = old.db.prepare('INSERT INTO segment_state (contact_id, segment, value, since) VALUES (?, ?, ?, ?)');
    put.run(a, 'vip', 'true', T0);
    put.run(a, 'stage', '"lead"', T0 + 1);
    put.run(a, 'tier', '{"n":[1,2]}', T0 + 2);
    put.run(b, 'score', '12.5', T0 + 3);
    put.run(b, 'broken', 'not json', T0 + 4);
    old.close();
    const store = open();
    expect(store.getSegmentStates(a)).toEqual([state(a, 'stage', 'lead', T0 + 1), state(a, 'tier', { n: [1, 2] }, T0 + 2), state(a, 'vip', true, T0)]);
    expect(store.getSegmentStates(b)).toEqual([state(b, 'broken', null, T0 + 4), state(b, 'score', 12.5, T0 + 3)]);
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'segment_state'").all()).toEqual([]);
    store.close();
  });

  it('counts members from the stored text as from the parsed answers, whatever the values', () => {
    const value: fc.Arbitrary<FieldValue> = fc.oneof(
      fc.constantFrom<FieldValue>(null, false, true, 0, -0, '', 'false', 'null', ' null', '\u001f'),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ maxLength: 4 }),
      fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 2 }),
      fc.dictionary(fc.constantFrom('a', 'false'), fc.boolean()),
    );
    const answers = fc.uniqueArray(fc.record({ segment: fc.constantFrom('vip', 'score', '__proto__', 'x1'), value, since: fc.nat() }), {
      selector: (a) => a.segment,
      maxLength: 4,
    });
    fc.assert(
      fc.property(fc.array(answers, { maxLength: 5 }), (rows) => {
        const fromText = new Map<string, number>();
        const parsed = new Map<string, number>();
        for (const row of rows) {
          const text = packAnswers(row);
          countMembers(text, fromText);
          for (const a of unpackAnswers(text)) parsed.set(a.segment, (parsed.get(a.segment) ?? 0) + (isMember(a.value) ? 1 : 0));
        }
        expect([...fromText].sort()).toEqual([...parsed].sort());
        for (const row of rows) for (const a of row) expect(isMemberJson(JSON.stringify(a.value))).toBe(isMember(a.value));
      }),
    );
  });

  it('counts members for status over stored rows, with an empty table counting none', () => {
    const store = open();
    expect(store.counts().segments).toEqual([]);
    const a = contact(store, 'a@example.com');
    const b = contact(store, 'b@example.com');
    store.saveEvaluation(a, [state(a, 'vip', true, T0), state(a, 'stage', null, T0), state(a, 'score', 0, T0)], undefined);
    store.saveEvaluation(b, [state(b, 'vip', false, T0), state(b, 'stage', 'lead', T0), state(b, '__proto__', 'x', T0)], undefined);
    expect(store.counts().segments).toEqual([
      { segment: '__proto__', members: 1 },
      { segment: 'score', members: 1 },
      { segment: 'stage', members: 1 },
      { segment: 'vip', members: 1 },
    ]);
    store.close();
  });
});
