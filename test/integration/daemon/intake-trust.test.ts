/**
 * The daemon's intake on the real services (src/daemon/wire.ts), in this process: writers wait for
 * another process's lock, an intake commits whole or not at all, /readyz says what is true and keeps
 * saying it, the write key can only send events, and identify traits that do not fit their declared
 * type are left out and named.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSandboxes } from '../../support/sandboxes';
import type { Sandboxes } from '../../support/sandboxes';
import { capturedLogger } from '../../support/captured-log';
import { WRITE_KEY, startInProcess, writeDaemonConfig } from '../../support/intake-daemon';
import type { InProcess } from '../../support/intake-daemon';

type Running = InProcess;

const dirs: string[] = [];

async function run(options: { hubspotUrl?: string; klaviyoUrl?: string; env?: Record<string, string> } = {}): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'segsync-intake-trust-'));
  dirs.push(dir);
  return startInProcess(await writeDaemonConfig(dir, options), options.env);
}

/**
 * Another process that takes the store's write lock, says so, holds it `ms` from when this process
 * answered (a busy test process may read the news late: the hold must not be over by then), then commits.
 */
function holdWriteLock(db: string, ms: number): Promise<{ released: Promise<void> }> {
  const script = `
    const Database = require(${JSON.stringify(resolve(__dirname, '../../../node_modules/better-sqlite3'))});
    const db = new Database(process.argv[1]);
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO store_meta (key, value) VALUES ('lock-test', '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value").run();
    process.stdout.write('locked\\n');
    require('node:fs').readSync(0, Buffer.alloc(1));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
    db.exec('COMMIT');
    db.close();`;
  const child = spawn(process.execPath, ['-e', script, db, String(ms)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const released = new Promise<void>((r) => child.on('exit', () => r()));
  return new Promise((resolveLocked, fail) => {
    child.stdout.on('data', (d: Buffer) => {
      if (!d.toString().includes('locked')) return;
      child.stdin.end('x');
      resolveLocked({ released });
    });
    child.on('exit', (code) => fail(new Error(`the lock holder exited with ${code} before locking`)));
  });
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('intake on the real services (ESPs unreachable)', () => {
  let r: Running;
  beforeAll(async () => {
    r = await run();
  });
  afterAll(() => r.close());

  it('waits for another process holding the write lock for 2 s: concurrent track calls all succeed, /readyz says locked meanwhile', async () => {
    const { released } = await holdWriteLock(r.setup.db, 2000);
    const probeStarted = Date.now();
    const during = await r.ready();
    expect(Date.now() - probeStarted).toBeLessThan(1000);
    expect(during.status).toBe(503);
    expect(during.body.checks.store).toEqual({ ok: false, detail: expect.stringMatching(/locked by another process/) });

    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        r.post('/v1/track', { messageId: `lock-${i}`, email: `lock${i % 4}@x.com`, event: 'Placed Order', properties: { value: 10 } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(Date.now() - started).toBeGreaterThan(500);
    await released;
    const ids = r.store.db.prepare("SELECT event_id FROM events WHERE event_id LIKE 'lock-%'").pluck().all();
    expect(ids).toHaveLength(20);
    expect((await r.ready()).body.checks.store).toEqual({ ok: true });
  });

  it('commits an intake whole or not at all: a failure while queueing its pushes leaves none of its events or segment answers', async () => {
    const enqueue = r.store.enqueue.bind(r.store);
    r.store.enqueue = () => {
      throw new Error('disk I/O error (injected)');
    };
    try {
      const failed = await r.post('/v1/track', { messageId: 'atomic-1', email: 'atomic@x.com', event: 'Placed Order', properties: { value: 99 } });
      expect(failed.status).toBe(500);
    } finally {
      r.store.enqueue = enqueue;
    }
    expect(r.store.db.prepare("SELECT COUNT(*) FROM events WHERE event_id = 'atomic-1'").pluck().get()).toBe(0);
    const contact = r.store.findContactByEmail('atomic@x.com');
    expect(contact && r.store.getSegmentStates(contact.id).filter((s) => s.value !== 0 && s.value !== false && s.value !== null)).toEqual(
      contact ? [] : undefined,
    );
    // Sent again, it is stored with everything it implies.
    expect((await r.post('/v1/track', { messageId: 'atomic-1', email: 'atomic@x.com', event: 'Placed Order', properties: { value: 99 } })).status).toBe(200);
    const id = r.store.findContactByEmail('atomic@x.com')!.id;
    expect(r.store.getSegmentStates(id).find((s) => s.segment === 'lifetime_value')?.value).toBe(99);
    expect(r.store.pendingOutbox('klaviyo', id).map((o) => o.key)).toContain('lifetime_value');
  });

  it('reports an unreachable ESP from its last real call, the same on every poll', async () => {
    await r.services.pull('klaviyo').catch(() => undefined);
    await r.services.pull('hubspot').catch(() => undefined);
    const polls = [];
    for (let i = 0; i < 20; i++) {
      polls.push(await r.ready());
      // Drains with nothing due and failing pushes alike must not turn it green.
      await r.services.drainOutbox('klaviyo').catch(() => undefined);
    }
    expect(new Set(polls.map((p) => p.status))).toEqual(new Set([503]));
    for (const p of polls) {
      expect(p.body.checks.klaviyo?.ok).toBe(false);
      expect(p.body.checks.hubspot?.ok).toBe(false);
    }
  });

  it('lets the write key send events and identify, but never set consent or tags; the server key may', async () => {
    expect((await r.post('/v1/track', { messageId: 'wk-1', email: 'wk@x.com', event: 'Viewed Product' }, WRITE_KEY)).status).toBe(200);
    const identify = await r.post('/v1/identify', { email: 'wk@x.com', traits: { plan: 'pro' }, consent: 'subscribed' }, WRITE_KEY);
    expect(identify.status).toBe(403);
    expect(identify.body.message).toMatch(/write key may not set consent/);
    const tags = await r.post('/v1/identify', { email: 'wk@x.com', traits: { plan: 'pro', tags: ['vip'] } }, WRITE_KEY);
    expect(tags.status).toBe(403);
    const batch = await r.post(
      '/v1/batch',
      {
        batch: [
          { type: 'track', messageId: 'wk-2', email: 'wk@x.com', event: 'Viewed Product' },
          { type: 'identify', email: 'wk@x.com', consent: 'subscribed' },
        ],
      },
      WRITE_KEY,
    );
    expect(batch.status).toBe(207);
    expect(batch.body.rejected).toEqual([expect.objectContaining({ index: 1, message: expect.stringMatching(/server key/) })]);
    expect((await r.post('/v1/batch', { batch: [{ type: 'identify', email: 'wk@x.com', consent: 'subscribed' }] }, WRITE_KEY)).status).toBe(403);
    const c = r.store.findContactByEmail('wk@x.com')!;
    expect(c.consent).toBeUndefined();
    expect(c.properties.plan).toBeUndefined();
    expect((await r.post('/v1/identify', { email: 'wk@x.com', traits: { plan: 'pro' }, consent: 'subscribed' })).status).toBe(200);
    expect(r.store.findContactByEmail('wk@x.com')!.consent?.status).toBe('subscribed');
    expect((await r.post('/v1/track', { email: 'wk@x.com', event: 'X' }, 'not-a-key')).status).toBe(401);
    expect((await r.post('/v1/identify', { userId: 'wk-user', traits: { email: 'wk@x.com', first_name: 'Wanda' } }, WRITE_KEY)).status).toBe(200);
    expect(r.store.findContactByEmail('wk@x.com')!.properties.first_name?.value).toBe('Wanda');
    expect(r.store.findContactByEmail('wk@x.com')!.consent?.status).toBe('subscribed');
  });
});

describe('identify traits checked against the declared field types', () => {
  it('stores what fits (in its type), leaves out what does not, names it in the answer and logs it once per field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segsync-intake-trust-'));
    dirs.push(dir);
    const { logger, text: logged } = capturedLogger('warn');
    const setup = await writeDaemonConfig(dir, { fields: '  tier: { type: enum, options: [free, pro] }\n  score: { type: number }' });
    const d = await startInProcess(setup, {}, { logger });
    try {
      const first = await d.post('/v1/identify', { email: 'fit@x.com', traits: { tier: 'gold', score: '42', first_name: 'Fay' } }, WRITE_KEY);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        ok: true,
        accepted: 1,
        warnings: [
          {
            index: 0,
            field: 'tier',
            message: `"gold" is not one of tier's options (free, pro): left out`,
            hint: 'use one of them, or add it to fields.tier.options in segsync.yaml',
          },
        ],
      });
      const c = d.store.findContactByEmail('fit@x.com')!;
      expect([c.properties.tier, c.properties.score?.value, c.properties.first_name?.value]).toEqual([undefined, 42, 'Fay']);
      const batch = await d.post('/v1/batch', {
        batch: [
          { type: 'identify', email: 'fit@x.com', traits: { tier: 'pro' } },
          { type: 'identify', email: 'fit2@x.com', traits: { tier: 'platinum', score: 'lots' } },
        ],
      });
      expect(batch.status).toBe(200);
      expect(batch.body.warnings).toEqual([expect.objectContaining({ index: 1, field: 'tier' }), expect.objectContaining({ index: 1, field: 'score' })]);
      expect(d.store.findContactByEmail('fit@x.com')!.properties.tier?.value).toBe('pro');
      expect(Object.keys(d.store.findContactByEmail('fit2@x.com')!.properties)).toEqual([]);
      expect(logged().match(/"tier"/g)).toHaveLength(1);
      expect(logged().match(/"score"/g)).toHaveLength(1);
    } finally {
      await d.close();
    }
  });
});

describe('/readyz against the sandboxes', () => {
  let s: Sandboxes;
  beforeAll(async () => {
    s = await startSandboxes();
  });
  afterAll(() => s.close());

  it('a wrong Klaviyo key: 503 naming klaviyo on every poll, while HubSpot (right key) stays ok', async () => {
    const r = await run({ hubspotUrl: s.hubspot.url, klaviyoUrl: s.klaviyo.url, env: { KL_KEY: 'pk_wrong' } });
    try {
      await r.services.pull('hubspot');
      await expect(r.services.pull('klaviyo')).rejects.toThrow();
      const polls = [];
      for (let i = 0; i < 20; i++) {
        polls.push(await r.ready());
        await r.services.drainOutbox('klaviyo').catch(() => undefined);
        await r.services.drainOutbox('hubspot');
      }
      expect(new Set(polls.map((p) => p.status))).toEqual(new Set([503]));
      for (const p of polls) {
        expect(p.body.checks.klaviyo).toEqual({ ok: false, detail: expect.stringMatching(/klaviyo/i) });
        expect(p.body.checks.hubspot?.ok).toBe(true);
        expect(p.body.checks.store).toEqual({ ok: true });
      }
    } finally {
      await r.close();
    }
  });
});

describe('identify consent the store keeps its own against', () => {
  it('answers with a warning naming the consent left out for being older than the stored one (a call without a time is dated on receipt)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segsync-intake-trust-'));
    dirs.push(dir);
    const d = await startInProcess(await writeDaemonConfig(dir), {});
    try {
      expect((await d.post('/v1/identify', { email: 'cons@x.com', consent: 'subscribed' })).status).toBe(200);
      const older = await d.post('/v1/identify', { email: 'cons@x.com', consent: 'unsubscribed', timestamp: '2026-01-01T00:00:00Z' });
      expect(older.status).toBe(200);
      expect(older.body).toEqual({
        ok: true,
        accepted: 1,
        warnings: [
          {
            index: 0,
            field: 'consent',
            message: expect.stringMatching(/^"unsubscribed" is older than the stored consent, subscribed since /),
            hint: 'a newer consent stands',
          },
        ],
      });
      expect(d.store.findContactByEmail('cons@x.com')!.consent?.status).toBe('subscribed');

      const batch = await d.post('/v1/batch', {
        batch: [
          { type: 'track', email: 'cons@x.com', event: 'Viewed Product' },
          { type: 'identify', email: 'cons@x.com', traits: { first_name: 'Con' }, consent: 'cleaned', timestamp: '2026-02-01T00:00:00Z' },
          { type: 'identify', email: 'other@x.com', consent: 'unsubscribed' },
        ],
      });
      expect(batch.status).toBe(200);
      expect(batch.body.warnings).toEqual([expect.objectContaining({ index: 1, field: 'consent', message: expect.stringMatching(/^"cleaned" is older/) })]);
      const c = d.store.findContactByEmail('cons@x.com')!;
      expect([c.consent?.status, c.properties.first_name?.value]).toEqual(['subscribed', 'Con']);
      expect(d.store.findContactByEmail('other@x.com')!.consent?.status).toBe('unsubscribed');
    } finally {
      await d.close();
    }
  });
});
