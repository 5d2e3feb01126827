/**
 * A field write an ESP's edit could win goes out only over a fresh view of that ESP (fresh-view.ts): a
 * local change older than a minute is pushed after a pull begun within the minute, so an edit made
 * there since the last pull is weighed by the conflict policy instead of being written over unseen.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PullRequest, RemotePage } from '../../../connectors/connector';
import { ManualClock } from '../../../src/model/clock';
import { EspTransientError } from '../../../src/errors';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { SyncEngine } from '../../../src/sync/engine';
import { FRESH_MS } from '../../../src/sync/fresh-view';
import { formatPlan } from '../../../src/sync/plan';
import { MemoryEsp, firstNameEngine } from '../../support/memory-esp';

/** Counts the pulls it answers, and fails them when told. */
class CountingEsp extends MemoryEsp {
  pulls = 0;
  pullsFail = false;
  override async *pull(request: PullRequest): AsyncIterable<RemotePage> {
    this.pulls++;
    if (this.pullsFail) throw new EspTransientError('search is down', { esp: this.esp });
    yield* super.pull(request);
  }
}

describe('a field write over a fresh view of the ESP', () => {
  let dir: string;
  let store: SqliteStore;
  let clock: ManualClock;
  let esp: CountingEsp;
  let engine: SyncEngine;
  let id: number;

  const start = async (conflict: 'owner' | 'latest'): Promise<void> => {
    clock = new ManualClock(Date.UTC(2026, 5, 1));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
    esp = new CountingEsp('hubspot', clock);
    engine = firstNameEngine(store, clock, esp, conflict);
    id = store.upsertContacts([{ email: 'ann@x.com', properties: { first_name: 'Ann' }, source: 'local', time: clock.now() }])[0]!.contactId;
    engine.enqueue([id]);
    // The first push adopts the account: one pull.
    await engine.drainAll('hubspot');
    expect(esp.pulls).toBe(1);
  };
  /** A local change now, queued for the ESP. */
  const changeLocally = (name: string): void => {
    store.upsertContacts([{ email: 'ann@x.com', properties: { first_name: name }, source: 'local', time: clock.now() }]);
    engine.enqueue([id]);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-fresh-'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('under `latest`, a newer edit made on the ESP after an old local change wins instead of being written over', async () => {
    await start('latest');
    await clock.advance(5 * 60_000);
    // Imported while nothing pushed (the daemon down, or a `segsync push` to come).
    changeLocally('Anna');
    await clock.advance(10 * 60_000);
    esp.edit('ann@x.com', { firstname: 'Annie' });
    await clock.advance(1000);
    expect(engine.plan()[0]!.pullsFirst).toBe(true);
    expect(formatPlan(engine.plan())).toContain('the push pulls hubspot first, so it never writes over an edit it has not seen');
    await engine.drainAll('hubspot');
    expect(esp.pulls).toBe(2);
    expect(esp.byEmail('ann@x.com')!.fields.firstname).toBe('Annie');
    expect(store.getContact(id)!.properties.first_name!.value).toBe('Annie');
  });

  it('under `latest`, an old local change newer than the edit on the ESP still wins after the pull', async () => {
    await start('latest');
    await clock.advance(5 * 60_000);
    esp.edit('ann@x.com', { firstname: 'Annie' });
    await clock.advance(1000);
    changeLocally('Anna');
    await clock.advance(10 * 60_000);
    await engine.drainAll('hubspot');
    expect(esp.pulls).toBe(2);
    expect(esp.byEmail('ann@x.com')!.fields.firstname).toBe('Anna');
    expect(store.getContact(id)!.properties.first_name!.value).toBe('Anna');
  });

  it('a change pushed within the minute, or after a pull begun within it, needs no pull', async () => {
    await start('latest');
    await clock.advance(5 * 60_000);
    changeLocally('Anna');
    await clock.advance(FRESH_MS - 1000);
    expect(engine.plan()[0]!.pullsFirst).toBe(false);
    await engine.drainAll('hubspot');
    expect(esp.pulls).toBe(1);
    changeLocally('Ann');
    await clock.advance(10 * 60_000);
    await engine.pull('hubspot');
    await clock.advance(FRESH_MS - 1000);
    await engine.drainAll('hubspot');
    expect(esp.pulls).toBe(2);
    expect(esp.byEmail('ann@x.com')!.fields.firstname).toBe('Ann');
  });

  it('when the pull fails, those writes wait for a later attempt and the rest goes (tags and opt-outs never wait on a read)', async () => {
    await start('latest');
    await clock.advance(5 * 60_000);
    changeLocally('Anna');
    await clock.advance(10 * 60_000);
    store.updateTags(id, ['promo'], [], 'local', clock.now());
    engine.enqueue([id]);
    esp.pullsFail = true;
    const report = await engine.drainAll('hubspot');
    expect(esp.pulls).toBe(2);
    expect(report.retried).toBe(1);
    expect([...esp.byEmail('ann@x.com')!.tags]).toEqual(['promo']);
    expect(esp.byEmail('ann@x.com')!.fields.firstname).toBe('Ann');
    const [waiting] = store.pendingOutbox('hubspot', id);
    expect(waiting).toMatchObject({ key: 'firstname', attempts: 1, sent: false });
    expect(waiting!.lastError).toMatch(/could not pull it before writing fields an edit there could win: .*search is down/);
    esp.pullsFail = false;
    await clock.advance(waiting!.nextAttemptAt - clock.now());
    await engine.drainAll('hubspot');
    expect(esp.byEmail('ann@x.com')!.fields.firstname).toBe('Anna');
    expect(store.pendingOutbox('hubspot', id)).toEqual([]);
  });

  it('a field the local side owns is written without a pull: an edit on the ESP would lose anyway', async () => {
    await start('owner');
    await clock.advance(5 * 60_000);
    changeLocally('Anna');
    await clock.advance(10 * 60_000);
    expect(engine.plan()[0]!.pullsFirst).toBe(false);
    await engine.drainAll('hubspot');
    expect(esp.pulls).toBe(1);
    expect(esp.byEmail('ann@x.com')!.fields.firstname).toBe('Anna');
  });
});
