import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ChangeResult, ContactChange } from '../../../connectors/connector';
import { EspBusyError, EspRateLimitError, EspRecordGoneError, FieldValueError } from '../../../src/errors';
import { createLogger } from '../../../src/log/logger';
import type { Clock } from '../../../src/model/clock';
import type { FieldValue } from '../../../src/model/types';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { SyncEngine } from '../../../src/sync/engine';
import { DEFAULT_RETRY } from '../../../src/sync/retry';
import { MemoryEsp, firstNameEngine, memoryWebhook } from '../../support/memory-esp';

/** A clock whose sleeps pass at once; it refuses to sleep forever, so a loop fails the test instead of hanging it. */
class JumpingClock implements Clock {
  sleeps = 0;
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    if (++this.sleeps > 500) throw new Error('drainAll is still waiting after 500 sleeps: it loops');
    this.t += Math.max(0, ms);
  }
}

/** An ESP whose first push waits for the test to let it answer; every batch it is handed is kept (one contact a batch, by default). */
class GatedEsp extends MemoryEsp {
  readonly batches: string[][] = [];
  private release: (() => void) | undefined;
  readonly held = new Promise<void>((resolve) => (this.release = resolve));
  private first = true;
  /** Resolves once the first push is waiting. */
  waiting!: Promise<void>;
  private started!: () => void;
  constructor(clock: Clock, batch = 1) {
    super('hubspot', clock, batch);
    this.waiting = new Promise((resolve) => (this.started = resolve));
  }
  open(): void {
    this.release!();
  }
  override async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    this.batches.push(batch.map((c) => `${c.ref.email} ${JSON.stringify(c.set)}`));
    if (this.first) {
      this.first = false;
      this.started();
      await this.held;
    }
    return super.push(batch);
  }
}

/** An ESP still busy with an earlier write of every contact for its first `busyFor` pushes. */
class BusyEsp extends MemoryEsp {
  busyFor = 12;
  waits = 0;
  override async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    if (this.waits++ < this.busyFor)
      return batch.map((c) => ({
        ref: c.ref,
        status: 'retry',
        error: new EspBusyError('an earlier job still writes it', { esp: this.esp, retryAfterMs: 30_000 }),
      }));
    return super.push(batch);
  }
}

/** An ESP that refuses the field values in `refused` (naming the fields, as HubSpot and Mailchimp do), or names `keys` instead. */
class FieldRefusingEsp extends MemoryEsp {
  refused = new Map<string, FieldValue>();
  keys: string[] | undefined;
  /** Refuses every value of these fields, naming the value (as HubSpot's "is not a boolean" does). */
  refusesAll = new Set<string>();
  override async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    this.calls++;
    const results: ChangeResult[] = [];
    for (const c of batch) {
      const all = Object.keys(c.set).filter((k) => this.refusesAll.has(k));
      const bad = [...all, ...Object.keys(c.set).filter((k) => this.refused.has(k) && this.refused.get(k) === c.set[k])];
      const named = all.length ? `refused ${all.map((k) => `${k} = ${JSON.stringify(c.set[k])}`).join(', ')}` : `refused ${bad.join(', ')}`;
      if (bad.length) results.push({ ref: c.ref, status: 'failed', error: new FieldValueError(named, this.keys ?? bad), keys: this.keys ?? bad });
      else results.push(...(await super.push([c])));
    }
    return results;
  }
}

/** A deliberately broken connector: it applies the batch but answers one result too few. */
class TooFewResults extends MemoryEsp {
  override async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    return (await super.push(batch)).slice(0, -1);
  }
}

/** An ESP that rate-limits every call, forever. */
class AlwaysRateLimited extends MemoryEsp {
  override async push(): Promise<ChangeResult[]> {
    this.calls++;
    throw new EspRateLimitError('slow down', { esp: this.esp, retryAfterMs: 3_600_000 });
  }
}

/**
 * An ESP that deletes records without saying so (as Klaviyo: no webhook, its listing leaves them out):
 * a write by the id of a deleted record answers gone. `relinkInFlight` moves the contact's link to
 * another record while the write is under way (a pull that found the person's new record).
 */
class QuietlyDeletingEsp extends MemoryEsp {
  relinkInFlight: (() => void) | undefined;
  override async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    const results: ChangeResult[] = [];
    for (const c of batch) {
      if (c.ref.externalId && !this.records.has(c.ref.externalId)) {
        this.calls++;
        this.relinkInFlight?.();
        results.push({
          ref: c.ref,
          status: 'gone',
          error: new EspRecordGoneError(`record ${c.ref.externalId} does not exist`, { esp: this.esp, status: 404 }),
        });
      } else results.push(...(await super.push([c])));
    }
    return results;
  }
}

describe('the outbox cannot loop forever', () => {
  let dir: string;
  let store: SqliteStore;
  let clock: JumpingClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-outbox-'));
    clock = new JumpingClock(Date.UTC(2026, 5, 1));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An engine whose warnings are kept, one parsed JSON line each. */
  function loggedEngine(esp: MemoryEsp): { engine: SyncEngine; warnings: Record<string, unknown>[] } {
    const out = new PassThrough();
    const warnings: Record<string, unknown>[] = [];
    out.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line) warnings.push(JSON.parse(line) as Record<string, unknown>);
    });
    return { engine: firstNameEngine(store, clock, esp, 'owner', createLogger({ level: 'warn', destination: out, format: 'json' })), warnings };
  }

  function addContacts(n: number): void {
    store.upsertContacts(
      Array.from({ length: n }, (_, i) => ({
        email: `c${i}@x.com`,
        properties: { first_name: `C${i}` },
        tags: [],
        consent: 'subscribed' as const,
        source: 'local',
        time: clock.now(),
      })),
    );
  }

  it('dead-letters the contact a connector returns no result for, after the usual attempts, and drainAll ends', async () => {
    const esp = new TooFewResults('hubspot', clock);
    const { engine, warnings } = loggedEngine(esp);
    addContacts(3);
    engine.enqueueAll();
    const report = await engine.drainAll('hubspot', { waitUntil: clock.now() + 365 * 86_400_000 });
    const outbox = store.counts().outbox.find((o) => o.esp === 'hubspot');
    expect(outbox).toMatchObject({ pending: 0, dead: 1 });
    const [dead] = store.deadOutbox('hubspot', 10);
    expect(dead).toMatchObject({ attempts: DEFAULT_RETRY.maxAttempts });
    expect(dead!.lastError).toMatch(/returned no result for this contact/);
    // The two contacts it did answer for are done; the third was tried exactly maxAttempts times.
    expect(report.ok).toBe(2);
    expect(esp.calls).toBe(DEFAULT_RETRY.maxAttempts);
    // Said once, with what to do: nothing else tells anyone a contact's change will not go.
    await new Promise((r) => setImmediate(r));
    expect(warnings).toEqual([
      expect.objectContaining({
        esp: 'hubspot',
        operations: 1,
        lastError: expect.stringMatching(/returned no result/),
        msg: expect.stringMatching(/segsync retry/),
      }),
    ]);
  });

  it("dead-letters only a field the ESP refuses and sends the contact's other operations without it; a refusal naming none of them fails the whole change", async () => {
    const esp = new FieldRefusingEsp('hubspot', clock);
    esp.refused.set('firstname', 'C0');
    const engine = firstNameEngine(store, clock, esp);
    store.upsertContacts([{ email: 'c0@x.com', properties: { first_name: 'C0' }, tags: ['seg:x'], source: 'local', time: clock.now() }]);
    engine.enqueueAll();
    const report = await engine.drainAll('hubspot', { waitUntil: clock.now() + 86_400_000 });
    expect(store.deadOutbox('hubspot', 10).map((d) => [d.key, d.attempts, d.lastError])).toEqual([
      ['firstname', 1, expect.stringMatching(/refused firstname/)],
    ]);
    expect([...esp.records.values()].map((r) => [r.email, r.fields, [...r.tags]])).toEqual([['c0@x.com', {}, ['seg:x']]]);
    expect(report).toMatchObject({ ok: 1, failed: 1 });

    // A connector that names keys the change does not hold: nothing can be spared, nothing loops.
    const other = new FieldRefusingEsp('hubspot', clock);
    other.refused.set('firstname', 'C1');
    other.keys = ['nosuch'];
    const engine2 = firstNameEngine(store, clock, other);
    store.upsertContacts([{ email: 'c1@x.com', properties: { first_name: 'C1' }, tags: ['seg:y'], source: 'local', time: clock.now() }]);
    engine2.enqueueAll();
    await engine2.drainAll('hubspot', { waitUntil: clock.now() + 86_400_000 });
    const c1 = store.findContactByEmail('c1@x.com')!.id;
    expect(
      store
        .deadOutbox('hubspot', 10)
        .filter((d) => d.contactId === c1)
        .map((d) => [d.key, d.attempts])
        .sort(),
    ).toEqual([
      ['firstname', 1],
      ['tag:seg:y', 1],
    ]);
  });

  it('revives a failed write as what the contact needs now: a value changed back since is never written', async () => {
    const esp = new FieldRefusingEsp('hubspot', clock);
    const engine = firstNameEngine(store, clock, esp);
    const id = store.upsertContacts([{ email: 'c0@x.com', properties: { first_name: 'C0' }, tags: [], source: 'local', time: clock.now() }])[0]!.contactId;
    engine.enqueueAll();
    await engine.drainAll('hubspot');
    esp.refused.set('firstname', 'Typo');
    store.setProperty(id, 'first_name', { value: 'Typo', updatedAt: clock.now(), source: 'local' });
    engine.enqueue([id]);
    await engine.drainAll('hubspot');
    expect(store.deadOutbox('hubspot', 10).map((d) => [d.key, d.value])).toEqual([['firstname', 'Typo']]);
    // Fixed locally to what the ESP still holds: nothing to send, and the failed write is stale.
    store.setProperty(id, 'first_name', { value: 'C0', updatedAt: clock.now(), source: 'local' });
    engine.enqueue([id]);
    esp.refused.clear();
    // The failed write was sent, so the ESP is written the value wanted now (it may hold anything), not the old one.
    expect(engine.reviveDead('hubspot')).toEqual({ revived: 1, dropped: 0 });
    expect(store.pendingOutbox('hubspot', id).map((o) => [o.key, o.value])).toEqual([['firstname', 'C0']]);
    await engine.drainAll('hubspot');
    expect([...esp.records.values()].map((r) => r.fields['firstname'])).toEqual(['C0']);
    expect(store.counts().outbox).toEqual([]);
  });

  it('says a refusal shared by many contacts once a drain, with how many and the first of them', async () => {
    const esp = new FieldRefusingEsp('hubspot', clock);
    esp.refused.set('firstname', 'Same');
    const { engine, warnings } = loggedEngine(esp);
    const ids = store
      .upsertContacts(
        Array.from({ length: 5 }, (_, i) => ({
          email: `s${i}@x.com`,
          properties: { first_name: 'Same' },
          tags: ['seg:s'],
          source: 'local' as const,
          time: clock.now(),
        })),
      )
      .map((c) => c.contactId);
    engine.enqueueAll();
    const report = await engine.drainAll('hubspot', { waitUntil: clock.now() + 86_400_000 });
    expect(report.refused).toEqual([{ reason: 'refused firstname', contacts: 5, firstContact: ids[0], setAside: true }]);
    expect(store.deadOutbox('hubspot', 10)).toHaveLength(5);
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((w) => [w.msg, w.contacts])).toEqual([
      [
        `hubspot refused the changes of 5 contacts (contact ${ids[0]} first): refused firstname (only the refused fields are set aside: the other operations went without them); \`segsync status\` lists them, \`segsync retry\` sends them again once fixed`,
        5,
      ],
    ]);
  });

  it('names at most 20 distinct refusal reasons a drain, counting the rest under one', async () => {
    const esp = new FieldRefusingEsp('hubspot', clock);
    esp.refusesAll.add('firstname');
    const { engine, warnings } = loggedEngine(esp);
    addContacts(25);
    engine.enqueueAll();
    const report = await engine.drainAll('hubspot', { waitUntil: clock.now() + 86_400_000 });
    expect(report.refused).toHaveLength(21);
    expect(report.refused.slice(0, 20).every((r) => r.contacts === 1 && /^refused firstname = "C\d+"$/.test(r.reason))).toBe(true);
    expect(report.refused[20]).toMatchObject({ reason: expect.stringMatching(/^other reasons/), contacts: 5 });
    await new Promise((r) => setImmediate(r));
    expect(warnings).toHaveLength(21);
  });

  it('unlinks a contact whose record the ESP deleted without saying so: no dead letter, no new record, nothing more sent there', async () => {
    const esp = new QuietlyDeletingEsp('hubspot', clock);
    const { engine, warnings } = loggedEngine(esp);
    addContacts(2);
    engine.enqueueAll();
    await engine.drainAll('hubspot');
    const [c0, c1] = ['c0@x.com', 'c1@x.com'].map((e) => store.findContactByEmail(e)!);
    esp.records.delete(c0!.externalIds['hubspot']!);
    store.upsertContacts(['c0@x.com', 'c1@x.com'].map((email) => ({ email, properties: { first_name: 'Renamed' }, source: 'local', time: clock.now() })));
    engine.enqueue([c0!.id, c1!.id]);
    const report = await engine.drainAll('hubspot', { waitUntil: clock.now() + 86_400_000 });
    expect(report).toMatchObject({ gone: 1, failed: 0, gaveUp: 0 });
    // The other contact of the batch is written; the deleted record is not made again.
    expect([...esp.records.values()].map((r) => [r.email, r.fields['firstname']])).toEqual([['c1@x.com', 'Renamed']]);
    expect(store.counts().outbox).toEqual([]);
    expect(store.decisionsFor(c0!.id, '@link').map((d) => d.reason)).toEqual([expect.stringMatching(/^hubspot record not found there: unlinked/)]);
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((w) => [w.msg, w.contacts])).toEqual([[expect.stringMatching(/^1 contact's record on hubspot no longer exists there/), 1]]);
    // A later change of the contact goes nowhere on that ESP.
    const calls = esp.calls;
    store.upsertContacts([{ email: 'c0@x.com', properties: { first_name: 'Again' }, source: 'local', time: clock.now() }]);
    engine.enqueue([c0!.id]);
    await engine.drainAll('hubspot');
    expect(esp.calls).toBe(calls);
    expect(esp.records.size).toBe(1);
  });

  it('does not unlink a contact whose link moved to another record while the write that found its old one gone was under way', async () => {
    const esp = new QuietlyDeletingEsp('hubspot', clock);
    const engine = firstNameEngine(store, clock, esp);
    addContacts(1);
    engine.enqueueAll();
    await engine.drainAll('hubspot');
    const c0 = store.findContactByEmail('c0@x.com')!;
    const old = c0.externalIds['hubspot']!;
    esp.records.delete(old);
    // The person's new record, which a pull links while the write to the old one is in flight.
    esp.records.set('hubspot-new', { id: 'hubspot-new', email: 'c0@x.com', fields: {}, tags: new Set(), consent: 'subscribed', modifiedAt: clock.now() });
    esp.relinkInFlight = () => {
      store.setExternalId(c0.id, 'hubspot', 'hubspot-new');
      esp.relinkInFlight = undefined;
    };
    store.upsertContacts([{ email: 'c0@x.com', properties: { first_name: 'Renamed' }, source: 'local', time: clock.now() }]);
    engine.enqueue([c0.id]);
    const report = await engine.drainAll('hubspot', { waitUntil: clock.now() + 86_400_000 });
    expect(report.gone).toBe(0);
    expect(esp.records.get('hubspot-new')!.fields['firstname']).toBe('Renamed');
    expect(store.decisionsFor(c0.id, '@link')).toEqual([]);
    expect(store.counts().outbox).toEqual([]);
  });

  it('waits for an ESP still busy with an earlier write of the contact without counting failed attempts', async () => {
    const esp = new BusyEsp('hubspot', clock);
    const engine = firstNameEngine(store, clock, esp);
    addContacts(1);
    engine.enqueueAll();
    const report = await engine.drainAll('hubspot', { waitUntil: clock.now() + 86_400_000 });
    // More waits than maxAttempts, then the write: nothing dead-lettered, the value is there.
    expect(esp.busyFor).toBeGreaterThan(DEFAULT_RETRY.maxAttempts);
    expect(esp.waits).toBe(esp.busyFor + 1);
    expect({ ok: report.ok, gaveUp: report.gaveUp }).toEqual({ ok: 1, gaveUp: 0 });
    expect(store.counts().outbox).toEqual([]);
  });

  it('dead-letters operations an ESP keeps rate-limiting past maxRateLimitedMs, and drainAll ends', async () => {
    const esp = new AlwaysRateLimited('hubspot', clock);
    const { engine, warnings } = loggedEngine(esp);
    addContacts(2);
    engine.enqueueAll();
    const queuedAt = clock.now();
    await engine.drainAll('hubspot', { waitUntil: clock.now() + 365 * 86_400_000 });
    expect(store.counts().outbox.find((o) => o.esp === 'hubspot')).toMatchObject({ pending: 0, dead: 2 });
    const dead = store.deadOutbox('hubspot', 10);
    expect(dead).toHaveLength(2);
    // Rate-limit waits are not failed attempts, and they lasted about the bound, not forever.
    expect(dead.map((d) => d.attempts)).toEqual([0, 0]);
    expect(clock.now() - queuedAt).toBeGreaterThanOrEqual(DEFAULT_RETRY.maxRateLimitedMs);
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((w) => [w.msg, w.operations])).toEqual([[expect.stringMatching(/^gave up on 2 operations for hubspot/), 2]]);
    expect(clock.now() - queuedAt).toBeLessThan(DEFAULT_RETRY.maxRateLimitedMs + DEFAULT_RETRY.capMs + 3_600_000);
  });
});

/**
 * A drain takes several batches' operations at once, and a batch can wait for a free connection while
 * the rules change their minds. What it sends is taken from the outbox when it goes, not when the
 * drain read it: an operation dropped or replaced meanwhile is not sent.
 */
describe('the outbox sends what is queued when a batch goes', () => {
  let dir: string;
  let store: SqliteStore;
  const clock: Clock = { now: () => Date.UTC(2026, 5, 1), sleep: async () => undefined };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-claim-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const engineWith = (esp: MemoryEsp): SyncEngine => firstNameEngine(store, clock, esp);

  it('does not send a change the rules dropped while its batch waited for a connection', async () => {
    const esp = new GatedEsp(clock);
    const engine = engineWith(esp);
    const emails = ['a@x.com', 'b@x.com', 'c@x.com'];
    const ids = store
      .upsertContacts(emails.map((email) => ({ email, properties: { first_name: 'Old' }, consent: 'subscribed' as const, source: 'local', time: clock.now() })))
      .map((c) => c.contactId);
    engine.enqueue(ids);
    esp.open();
    await engine.drainAll('hubspot');
    expect(emails.map((e) => esp.byEmail(e)?.fields.firstname)).toEqual(['Old', 'Old', 'Old']);

    // Three renames; one connection each for two batches of one contact, the third waits.
    const gated = new GatedEsp(clock);
    for (const [id, r] of esp.records) gated.records.set(id, r);
    const engine2 = engineWith(gated);
    const rename = (id: number, name: string): void => store.setProperty(id, 'first_name', { value: name, updatedAt: clock.now(), source: 'local' });
    for (const id of ids) rename(id, 'New');
    engine2.enqueue(ids);
    const drain = engine2.drain('hubspot');
    await gated.waiting;
    // While c's batch waits, c's name goes back to what HubSpot holds: its queued write is dropped.
    rename(ids[2]!, 'Old');
    engine2.enqueue([ids[2]!]);
    expect(store.pendingOutbox('hubspot', ids[2]!)).toEqual([]);
    gated.open();
    await drain;
    await engine2.drainAll('hubspot');
    expect(emails.map((e) => gated.byEmail(e)?.fields.firstname)).toEqual(['New', 'New', 'Old']);
    expect(gated.batches.flat().some((b) => b.startsWith('c@x.com'))).toBe(false);
  });

  it('records the answers of a batch whose contact was erased while it was in flight, and sends the erasure', async () => {
    const esp = new GatedEsp(clock, 100);
    const engine = engineWith(esp);
    const ids = store
      .upsertContacts(
        ['a@x.com', 'b@x.com'].map((email) => ({
          email,
          properties: { first_name: 'New' },
          consent: 'subscribed' as const,
          source: 'local',
          time: clock.now(),
        })),
      )
      .map((c) => c.contactId);
    engine.enqueue(ids);
    const drain = engine.drain('hubspot');
    await esp.waiting;
    engine.erase(ids[0]!);
    esp.open();
    // Recording a's answer failed the whole batch's settle (a foreign key): b stayed queued to be sent again.
    await expect(drain).resolves.toMatchObject({ ok: 2, failed: 0 });
    expect(store.pendingOutbox('hubspot', ids[1]!)).toEqual([]);
    expect(store.getSyncState(ids[1]!, 'hubspot').find((s) => s.key === 'firstname')?.pushedValue).toBe('New');
    await engine.drainAll('hubspot');
    expect(esp.erased).toEqual(['a@x.com']);
    expect(store.outboxCounts().filter((o) => o.pending + o.dead > 0)).toEqual([]);
    engine.close();
  });

  it('claims nothing more once another process took over sending the ESP (its lease went stale while a batch waited)', async () => {
    const esp = new GatedEsp(clock);
    const engine = engineWith(esp);
    const emails = ['a@x.com', 'b@x.com', 'c@x.com'];
    const ids = store
      .upsertContacts(emails.map((email) => ({ email, properties: { first_name: 'New' }, consent: 'subscribed' as const, source: 'local', time: clock.now() })))
      .map((c) => c.contactId);
    engine.enqueue(ids);
    const drain = engine.drain('hubspot');
    await esp.waiting;
    const other = { esp: 'hubspot' as const, owner: 'box-b/77/x', pid: 77, host: 'box-b', command: 'daemon', renewedAt: clock.now() };
    expect(store.takePushLease(other, () => true)).toBeUndefined();
    esp.open();
    const report = await drain;
    // The two batches already sent (one per connection) are answered and recorded; c's, waiting for a connection, stays queued unsent.
    expect(esp.batches.flat().map((b) => b.split(' ')[0])).toEqual(['a@x.com', 'b@x.com']);
    expect(report.ok).toBe(2);
    expect(store.pendingOutbox('hubspot', ids[2]!).map((o) => o.sent)).toEqual([false]);
    await expect(engine.drain('hubspot')).resolves.toMatchObject({ items: 0, heldBy: { owner: other.owner } });
    engine.close();
  });

  it('records the tags a webhook brought while its push was in flight, beside the tag the push added', async () => {
    const esp = new GatedEsp(clock);
    const engine = engineWith(esp);
    const id = store.upsertContacts([{ email: 'a@x.com', properties: { first_name: 'A' }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!
      .contactId;
    store.updateTags(id, ['vip'], [], 'local', clock.now());
    engine.enqueue([id]);
    const drain = engine.drain('hubspot');
    await esp.waiting;
    // A user tags the record on the ESP while segsync's first write to it is on its way.
    engine.webhook(
      'hubspot',
      memoryWebhook([{ eventId: 'e1', ref: { email: 'a@x.com' }, kind: 'updated', fields: {}, tags: ['x'], occurredAt: clock.now() }], clock.now()),
    );
    esp.open();
    await drain;
    expect(store.getSyncState(id, 'hubspot').find((r) => r.key === '@tags')!.remoteValue).toEqual(['vip', 'x']);
    // What the ESP holds is known: nothing is sent again.
    expect(engine.enqueue([id])).toBe(0);
  });
});
