/**
 * A daemon started with other rules than those the stored answers follow (a segment added or
 * edited in segsync.yaml) evaluates every contact again, so a new segment's members and an edited
 * rule's flips are found and pushed; with the same rules it evaluates nobody again.
 */
import type { FieldValue } from '../../../src/model/types';
import { ManualClock } from '../../../src/model/clock';
import { SegmentEngine } from '../../../src/rules/engine';
import type { RuleSource } from '../../../src/rules/check';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { HOUR, T0, storeFilePerTest } from './helpers';

const { open } = storeFilePerTest();
const N = 12;

const rule = (segment: string, text: string): RuleSource => ({ segment, text, kind: 'flag', locate: () => ({ file: 'segsync.yaml', line: 1, column: 1 }) });
const BUYER = rule('buyer', 'exists("Placed Order")');
const PRO = rule('pro', 'contact.plan == "pro"');

function populated(): SqliteStore {
  const store = open();
  for (let i = 0; i < N; i++) {
    const email = `c${i}@example.com`;
    store.upsertContacts([{ email, properties: { plan: i % 3 ? 'free' : 'pro' }, consent: 'subscribed', source: 'local', time: T0 - 10 * HOUR }]);
    if (i % 2) store.appendEvents([{ email, name: 'Placed Order', time: T0 - HOUR, properties: { value: 10 }, source: 'import' }]);
  }
  return store;
}

/** A daemon's start and its catch-up runs, `limit` contacts a run, until none waits: the evaluations of every run. */
function daemonRun(store: SqliteStore, rules: RuleSource[], limit = 5): { engine: SegmentEngine; evaluated: number[]; flips: string[] } {
  // As the daemon's wiring does: it queues what its own writes imply, so they are not noted for it.
  store.evaluatesOwnContactWrites();
  const engine = SegmentEngine.fromSources(rules, store, new ManualClock(T0), [], { workers: 0 });
  engine.load();
  const evaluated: number[] = [];
  const flips: string[] = [];
  for (let run = 0; run < 100; run++) {
    const evals = [...engine.catchUpContacts(limit), ...engine.catchUpRows(limit)];
    for (const e of evals) {
      evaluated.push(e.contactId);
      for (const c of e.changed) flips.push(`${c.contactId} ${c.segment} ${String(c.from)}→${String(c.to)}`);
    }
    if (!engine.hasMoreDue(T0)) break;
  }
  return { engine, evaluated, flips };
}

const answer = (store: SqliteStore, id: number, segment: string): FieldValue => store.getSegmentStates(id).find((s) => s.segment === segment)?.value ?? false;

describe('rules changed since the stored answers', () => {
  it('evaluates every contact again when a segment is added, finds its members, and then records the rules', () => {
    // A fresh store has answers under no recorded rules: the first start evaluates everyone.
    const store = populated();
    const first = daemonRun(store, [BUYER]);
    expect(first.engine.lastLoad!.reevaluating).toBe(N);
    expect(first.engine.saveState()).toBe(true);
    first.engine.close();

    const again = daemonRun(store, [BUYER]);
    expect(again.engine.lastLoad!.reevaluating).toBe(0);
    expect(again.evaluated).toEqual([]);
    again.engine.close();

    const added = daemonRun(store, [BUYER, PRO]);
    // Another segment list: the saved state is set aside and the stored answers read.
    expect(added.engine.lastLoad).toMatchObject({ fromStateSnapshot: false, reevaluating: N });
    expect(new Set(added.evaluated).size).toBe(N);
    const pro = Array.from({ length: N }, (_, i) => store.findContactByEmail(`c${i}@example.com`)!.id).filter((_, i) => i % 3 === 0);
    expect(added.flips.sort()).toEqual(pro.map((id) => `${id} pro false→true`).sort());
    for (const id of pro) expect(answer(store, id, 'pro')).toBe(true);
    added.engine.close();

    expect(daemonRun(store, [BUYER, PRO]).evaluated).toEqual([]);
    store.close();
  });

  it('evaluates every contact again when a rule is edited, and flips exactly those it changes', () => {
    const store = populated();
    const before = daemonRun(store, [BUYER, PRO]).engine;
    expect(before.saveState()).toBe(true);
    before.close();
    const edited = daemonRun(store, [BUYER, rule('pro', 'contact.plan == "pro" && exists("Placed Order")')]);
    // The same segments: the saved state holds the answers under the old rule text.
    expect(edited.engine.lastLoad).toMatchObject({ fromStateSnapshot: true, reevaluating: N });
    // Pro contacts with no order leave the segment: i % 3 == 0 and i even.
    const left = Array.from({ length: N }, (_, i) => i)
      .filter((i) => i % 3 === 0 && i % 2 === 0)
      .map((i) => `${store.findContactByEmail(`c${i}@example.com`)!.id} pro true→false`);
    expect(edited.flips.sort()).toEqual(left.sort());
    store.close();
  });

  it('records the rules after a full recompute, so the next start evaluates nobody again', () => {
    const store = populated();
    const engine = SegmentEngine.fromSources([BUYER, PRO], store, new ManualClock(T0), [], { workers: 0 });
    engine.recomputeAll();
    expect(engine.catchUpRows()).toEqual([]);
    engine.close();
    expect(daemonRun(store, [BUYER, PRO]).engine.lastLoad!.reevaluating).toBe(0);
    store.close();
  });

  it('records nothing while contacts wait, so a stop half-way evaluates everyone again at the next start', () => {
    const store = populated();
    const engine = SegmentEngine.fromSources([BUYER], store, new ManualClock(T0), [], { workers: 0 });
    engine.load();
    expect(engine.catchUpRows(5)).toHaveLength(5);
    expect(store.answersFingerprint()).toBeUndefined();
    engine.close();
    expect(daemonRun(store, [BUYER]).engine.lastLoad!.reevaluating).toBe(N);
    store.close();
  });

  it('drops the record when another process records other rules beside a running daemon, so its restart evaluates everyone', () => {
    const store = populated();
    const old = daemonRun(store, [BUYER]).engine;
    // `segsync segments` after segsync.yaml gained a segment, while the daemon still runs the old rules.
    const other = open();
    const cli = SegmentEngine.fromSources([BUYER, PRO], other, new ManualClock(T0), [], { workers: 0 });
    cli.recomputeAll();
    cli.close();
    other.close();
    expect(store.answersFingerprint()).toBeDefined();
    // The daemon goes on storing answers under its rules: its next run drops the record.
    old.catchUpRows();
    expect(store.answersFingerprint()).toBeUndefined();
    expect(old.saveState()).toBe(false);
    old.close();
    expect(daemonRun(store, [BUYER, PRO]).engine.lastLoad!.reevaluating).toBe(N);
    store.close();
  });
});
