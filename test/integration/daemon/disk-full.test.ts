/**
 * The daemon on a store whose disk fills up (SQLite's page cap on the daemon's own connection stands
 * in for the disk: it fails writes with the same SQLITE_FULL): calls that store something are
 * answered 503 with Retry-After and nothing half-stored, the log says so once, /readyz blames the
 * store and not the ESPs, and everything goes on by itself once there is room.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/log/logger';
import { startSandboxes } from '../../support/sandboxes';
import type { Sandboxes } from '../../support/sandboxes';
import { startInProcess, writeDaemonConfig } from '../../support/intake-daemon';
import type { InProcess } from '../../support/intake-daemon';

describe('a full disk under the daemon', () => {
  let s: Sandboxes;
  let r: InProcess;
  let dir: string;
  const logLines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-disk-full-'));
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const setup = await writeDaemonConfig(dir, { espUrl: s.mailchimp.url, hubspotUrl: s.hubspot.url, klaviyoUrl: s.klaviyo.url });
    r = await startInProcess(setup, {}, { logger: createLogger({ level: 'info', destination: sink, format: 'json' }) });
  });
  afterAll(async () => {
    await r.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const batch = (from: number, n: number): unknown => ({
    batch: Array.from({ length: n }, (_, i) => ({
      type: 'track',
      messageId: `full-${from + i}`,
      email: `full${from + i}@x.com`,
      event: 'Placed Order',
      properties: { value: 10, note: 'x'.repeat(2000) },
    })),
  });
  const stored = (): number => r.store.db.prepare("SELECT COUNT(*) FROM events WHERE event_id LIKE 'full-%'").pluck().get() as number;

  it('answers 503 with Retry-After, stores nothing of the refused calls, logs it once, and takes calls again once there is room', async () => {
    await r.services.pull('hubspot');
    await r.services.pull('klaviyo');
    expect((await r.post('/v1/batch', batch(0, 5))).status).toBe(200);
    const db = r.store.db;
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${r.setup.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${r.setup.env.SERVER_KEY}` },
        body: JSON.stringify(batch(100 + i * 50, 50)),
      });
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> });
    }
    for (const a of answers) {
      expect(a).toEqual({
        status: 503,
        retryAfter: '30',
        body: { error: 'unavailable', message: expect.stringMatching(/disk is full\): nothing of this call was stored/), hint: 'send it again later' },
      });
    }
    expect(stored()).toBe(5);

    const ready = await r.ready();
    expect(ready.status).toBe(503);
    expect(ready.body.checks.store).toEqual({
      ok: false,
      detail: expect.stringContaining(`no room left to write the store ${r.setup.db}: the disk that holds it is full`),
    });
    expect(ready.body.checks.store?.detail).toContain(`df -h ${dir}`);
    // A pull that cannot store what it read fails on the store, not on the ESP: the ESP stays ok.
    s.hubspot.seed(Array.from({ length: 300 }, (_, i) => ({ email: `pulled${i}@x.com`, properties: { firstname: 'y'.repeat(500) } })));
    await expect(r.services.pull('hubspot')).rejects.toThrow(/no room left to write the store/);
    const after = await r.ready();
    expect(after.body.checks.hubspot).toEqual({ ok: true });
    expect(after.body.checks.klaviyo).toEqual({ ok: true });

    const refusals = logLines.filter((l) => String(l.msg).includes('calls that store anything are answered 503'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: 50, code: 'E_STORE_FULL', hint: expect.stringContaining(`df -h ${dir}`) });
    expect(logLines.filter((l) => l.msg === 'request failed' || String(l.msg).includes('group commit failed'))).toEqual([]);

    db.pragma('max_page_count = 1073741823');
    expect((await r.post('/v1/batch', batch(100, 50))).status).toBe(200);
    expect(stored()).toBe(55);
    expect((await r.ready()).body.checks.store).toEqual({ ok: true });
    expect(logLines.filter((l) => l.msg === 'the store takes writes again')).toEqual([expect.objectContaining({ level: 30, refusedCalls: 3 })]);
  });
});
