/**
 * Known members through `/3.0/batches` PATCH operations (the real SDK against the sandbox): the calls
 * either way for 1, 10, 100 and 1000 members, the break-even the connector chooses by, and the status
 * invariant on this route too: a status changed on Mailchimp between pull and push stays.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectorNotes, ContactChange } from '../../../connectors/connector';
import { mailchimpConfigSchema } from '../../../connectors/mailchimp/definition';
import { EspBusyError, EspPermanentError, EspTransientError } from '../../../src/errors';
import { systemClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { storeNotes } from '../../../src/sync/connector-notes';
import type { ValidatedSandbox } from '../../support/mailchimp';
import { memoryLogger, sandboxConnector, startValidatedSandbox } from '../../support/mailchimp';

const emails = (n: number, prefix = 'k'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`);

function known(email: string, over: Partial<ContactChange> = {}): ContactChange {
  return {
    ref: { email },
    set: { FNAME: `New ${email}` },
    clear: [],
    addTags: [],
    removeTags: [],
    localConsent: 'subscribed',
    remoteConsent: 'subscribed',
    ...over,
  };
}

describe('Mailchimp known members through /3.0/batches', () => {
  let v: ValidatedSandbox;
  afterEach(async () => {
    await v.sandbox.close();
  });

  it('costs one call per member one by one and a few calls as a batch job: measured for 1, 10, 100 and 1000', async () => {
    v = await startValidatedSandbox();
    const rows: string[] = [];
    const figures: Record<number, { patch: number; job: number; chosen: number }> = {};
    for (const n of [1, 10, 100, 1000]) {
      const list = emails(n, `m${n}-`);
      v.sandbox.seed(list.map((email) => ({ email })));
      const calls = async (options: { batchOperationsFrom?: number }, tag: string): Promise<number> => {
        const c = sandboxConnector(v.sandbox, { batchPollMs: 20, ...options });
        // The merge fields are read once per connector; that read is not what is measured.
        await c.push([known(list[0]!, { set: { FNAME: 'warm-up' } })]);
        const before = c.requestCount();
        const results = await c.push(list.map((email) => known(email, { set: { FNAME: `${tag}${email}` } })));
        expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
        for (const email of [list[0]!, list[n - 1]!]) expect(v.sandbox.member(email)!.merge_fields.FNAME).toBe(`${tag}${email}`);
        await c.close();
        return c.requestCount() - before;
      };
      const patch = await calls({ batchOperationsFrom: Number.MAX_SAFE_INTEGER }, 'p');
      const job = await calls({ batchOperationsFrom: 1 }, 'j');
      const chosen = await calls({}, 'd');
      figures[n] = { patch, job, chosen };
      rows.push(`${String(n).padStart(5)} members: PATCH each ${patch} calls, batch job ${job} calls, default ${chosen} calls`);
    }
    process.stdout.write(`mailchimp known members, HTTP requests:\n${rows.join('\n')}\n`);
    for (const n of [1, 10, 100, 1000]) expect(figures[n]!.patch).toBe(n);
    // A job is start + at least one poll + the results download.
    for (const n of [1, 10, 100, 1000]) expect(figures[n]!.job).toBeGreaterThanOrEqual(3);
    for (const n of [10, 100, 1000]) expect(figures[n]!.job).toBeLessThan(n);
    // The default keeps PATCH below the break-even and takes a job above it (its polls vary with timing).
    expect(figures[1]!.chosen).toBe(1);
    for (const n of [10, 100, 1000]) expect(figures[n]!.chosen).toBeLessThan(figures[n]!.patch);
  }, 120_000);

  it('keeps a status changed on Mailchimp between pull and push, and carries an opt-out, through a batch job', async () => {
    v = await startValidatedSandbox();
    const list = emails(12);
    v.sandbox.seed(list.map((email) => ({ email })));
    // After segsync's last look ("subscribed"): changed in Mailchimp's app.
    v.sandbox.admin.update(list[0]!, { status: 'transactional' });
    v.sandbox.admin.update(list[1]!, { status: 'pending' });
    v.sandbox.admin.update(list[2]!, { status: 'unsubscribed' });
    const c = sandboxConnector(v.sandbox, { batchPollMs: 20 });
    const results = await c.push(list.map((email, i) => known(email, i === 3 ? { optOut: { at: Date.now() } } : {})));
    expect(results.map((r) => r.status)).toEqual(list.map(() => 'ok'));
    expect(list.map((email) => v.sandbox.member(email)!.status)).toEqual([
      'transactional',
      'pending',
      'unsubscribed',
      'unsubscribed',
      ...list.slice(4).map(() => 'subscribed'),
    ]);
    for (const email of list) expect(v.sandbox.member(email)!.merge_fields.FNAME).toBe(`New ${email}`);
    // It went as one job, whose operations are PATCHes carrying a status only for the opt-out.
    const starts = v.exchanges.filter((x) => x.method === 'POST' && x.path === '/3.0/batches');
    expect(starts).toHaveLength(1);
    const ops = (starts[0]!.requestBody as { operations: { method: string; path: string; body: string }[] }).operations;
    expect(ops.map((o) => o.method)).toEqual(list.map(() => 'PATCH'));
    expect(ops.filter((o) => 'status' in (JSON.parse(o.body) as object)).map((o) => JSON.parse(o.body) as object)).toEqual([
      { merge_fields: { FNAME: `New ${list[3]}` }, status: 'unsubscribed' },
    ]);
    expect(v.exchanges.filter((x) => x.method === 'PATCH' && x.path.startsWith('/3.0/lists/')).length).toBe(list.length);
    // Statuses the job reported are what pushes record as the member's consent.
    expect(results[0]!.status === 'ok' && results[0]!.consent).toBe('non-marketing');
  }, 30_000);

  it('attributes each failed operation to its member: an archived member fails alone, a 5xx is retried, the rest are written', async () => {
    v = await startValidatedSandbox();
    const list = emails(12, 'f');
    v.sandbox.seed(list.map((email) => ({ email })));
    v.sandbox.admin.archive(list[5]!);
    const c = sandboxConnector(v.sandbox, { batchPollMs: 20 });
    const results = await c.push(list.map((email) => known(email)));
    expect(results.map((r) => r.status)).toEqual(list.map((_, i) => (i === 5 ? 'failed' : 'ok')));
    const failed = results[5]!;
    expect(failed.status === 'failed' && failed.error).toBeInstanceOf(EspPermanentError);
    expect(failed.status === 'failed' && failed.error.message).toMatch(/not an active member/);
    expect(v.sandbox.member(list[5]!)!.status).toBe('archived');

    // The job cannot be started (a 503): every member is left to retry, nothing is half-written.
    v.sandbox.inject({ method: 'POST', path: '/3.0/batches', status: 503 });
    const retried = await c.push(list.map((email) => known(email, { set: { FNAME: 'Again' } })));
    expect(new Set(retried.map((r) => r.status))).toEqual(new Set(['retry']));
    expect(v.sandbox.member(list[0]!)!.merge_fields.FNAME).toBe(`New ${list[0]}`);
    await c.close();
  }, 30_000);

  it("waits for a slow job as long as segsync.yaml's batchTimeoutMs says, leaves its members to be sent again, and sends a newer value only after it", async () => {
    v = await startValidatedSandbox();
    const list = emails(10, 't');
    v.sandbox.seed(list.map((email) => ({ email })));
    // Each PATCH inside the job is slowed, so the job runs about 10 × 60 ms.
    const slow = (): void => v.sandbox.inject({ method: 'PATCH', path: '/members/', delayMs: 60, times: list.length });
    const settings = (yaml: Record<string, number>): { batchPollMs: number; batchTimeoutMs: number } => {
      const mc = mailchimpConfigSchema.parse({ apiKey: 'k', listId: 'l', ...yaml });
      return { batchPollMs: mc.batchPollMs, batchTimeoutMs: mc.batchTimeoutMs };
    };
    expect(settings({})).toEqual({ batchPollMs: 1_000, batchTimeoutMs: 600_000 });

    slow();
    // Two processes on one store, as two `segsync push` runs from cron: the first stops waiting for the job and ends.
    const dir = mkdtempSync(join(tmpdir(), 'segsync-mc-notes-'));
    const stores = [new SqliteStore({ path: join(dir, 'segsync.db') }), new SqliteStore({ path: join(dir, 'segsync.db') })];
    const notesOf = (i: number): ConnectorNotes => storeNotes(stores[i]!, 'mailchimp', systemClock);
    const first = sandboxConnector(v.sandbox, settings({ batchPollMs: 10, batchTimeoutMs: 100 }), systemClock, memoryLogger(), notesOf(0));
    const early = await first.push(list.map((email) => known(email, { set: { FNAME: 'Early' } })));
    expect(early.map((r) => r.status === 'retry' && r.error)).toEqual(list.map(() => expect.any(EspTransientError)));
    expect(early[0]!.status === 'retry' && early[0]!.error.message).toMatch(/did not finish within/);
    await first.close();
    stores[0]!.close();
    // The job runs on at Mailchimp. A newer value for one of its members (one member: a single PATCH, not
    // queued behind the job) waits until the job has finished, or the job's older value would land last.
    const impatient = sandboxConnector(v.sandbox, settings({ batchPollMs: 10, batchTimeoutMs: 100 }), systemClock, memoryLogger(), notesOf(1));
    const newest = [known(list[9]!, { set: { FNAME: 'Newest' } })];
    const waiting = await impatient.push(newest);
    expect(waiting[0]!.status === 'retry' && waiting[0]!.error).toBeInstanceOf(EspBusyError);
    for (let i = 0; i < 200 && v.sandbox.member(list[9]!)!.merge_fields.FNAME !== 'Early'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(v.sandbox.member(list[9]!)!.merge_fields.FNAME).toBe('Early');
    expect((await impatient.push(newest))[0]!.status).toBe('ok');
    expect(v.sandbox.member(list[9]!)!.merge_fields.FNAME).toBe('Newest');
    await impatient.close();
    stores[1]!.close();
    rmSync(dir, { recursive: true, force: true });

    slow();
    const patient = sandboxConnector(v.sandbox, settings({ batchPollMs: 10, batchTimeoutMs: 10_000 }));
    const done = await patient.push(list.map((email) => known(email, { set: { FNAME: 'Later' } })));
    expect(done.map((r) => r.status)).toEqual(list.map(() => 'ok'));
    expect(v.sandbox.member(list[9]!)!.merge_fields.FNAME).toBe('Later');
    await patient.close();
  }, 30_000);

  it('notes a batch job in the store while it is waited for, so a process killed meanwhile leaves the next one waiting for it', async () => {
    v = await startValidatedSandbox();
    const list = emails(10, 'w');
    v.sandbox.seed(list.map((email) => ({ email })));
    v.sandbox.inject({ method: 'PATCH', path: '/members/', delayMs: 60, times: list.length });
    const dir = mkdtempSync(join(tmpdir(), 'segsync-mc-notes-'));
    const stores = [new SqliteStore({ path: join(dir, 'segsync.db') }), new SqliteStore({ path: join(dir, 'segsync.db') })];
    const notesOf = (i: number): ConnectorNotes => storeNotes(stores[i]!, 'mailchimp', systemClock);
    const noted = (): number => stores[1]!.db.prepare("SELECT COUNT(*) FROM connector_notes WHERE kind = 'unfinished-job'").pluck().get() as number;
    try {
      const waiting = sandboxConnector(v.sandbox, { batchPollMs: 10, batchTimeoutMs: 10_000 }, systemClock, memoryLogger(), notesOf(0));
      const first = waiting.push(list.map((email) => known(email, { set: { FNAME: 'Job' } })));
      for (let i = 0; i < 200 && noted() === 0; i++) await new Promise((r) => setTimeout(r, 10));
      // Still waiting, far from its timeout: were this process killed now, the note is what the next one has.
      expect(noted()).toBe(1);
      const next = sandboxConnector(v.sandbox, { batchPollMs: 10, batchTimeoutMs: 10_000 }, systemClock, memoryLogger(), notesOf(1));
      const newest = [known(list[3]!, { set: { FNAME: 'Newest' } })];
      const held = await next.push(newest);
      expect(held[0]!.status === 'retry' && held[0]!.error).toBeInstanceOf(EspBusyError);
      expect((await first).map((r) => r.status)).toEqual(list.map(() => 'ok'));
      // Its answer read, the job is forgotten: nothing of it can land later.
      expect(noted()).toBe(0);
      expect((await next.push(newest))[0]!.status).toBe('ok');
      expect(v.sandbox.member(list[3]!)!.merge_fields.FNAME).toBe('Newest');
      await waiting.close();
      await next.close();
    } finally {
      for (const s of stores) s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
