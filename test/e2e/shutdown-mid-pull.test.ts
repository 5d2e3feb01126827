/**
 * A SIGTERM while the daemon pulls a large account at the vendor's rate: the pull is one job that
 * reads page after page, and the stop waited for all of them, outlasting its bound (exit 1, "shutdown
 * did not finish in time"). It now ends after the page it is applying; each page is stored with its
 * cursor, so the next start goes on from there instead of reading the account again.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubspotSandbox } from '../../connectors/hubspot/sandbox';
import type { HubspotSandbox } from '../../connectors/hubspot/sandbox';
import { freeLoopbackPort } from '../../src/daemon/free-port';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { BIN } from '../support/cli';
import { until } from '../support/wait';

const CONTACTS = 1_500;

describe('a stop during a long pull', () => {
  let dir: string;
  let hubspot: HubspotSandbox;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-stop-pull-'));
    hubspot = await startHubspotSandbox({ accessToken: 'hs-stop', rateLimits: false });
    hubspot.seed(Array.from({ length: CONTACTS }, (_, i) => ({ email: `s${i}@stop.test`, properties: { firstname: `S${i}` } })));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await hubspot.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends after the page under way, exits 0 within its bound, and the next start reads on from there', async () => {
    const db = join(dir, 'store.db');
    const cfg = join(dir, 'segsync.yaml');
    // Ten requests in ten seconds: reading 1,500 contacts 100 a page takes about 15 s.
    writeFileSync(
      cfg,
      `version: 1
store: { path: ${db} }
fields:
  first_name: { type: string }
connectors:
  hubspot: { accessToken: "\${HS}", baseUrl: "${hubspot.url}", requestsPer10s: 10 }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
daemon: { port: ${await freeLoopbackPort()}, serverKey: "\${SK}" }
`,
    );
    const env = { ...process.env, HS: 'hs-stop', SK: 'stop-pull-server-key', SEGSYNC_CONFIG: '', SEGSYNC_STORE: '', SEGSYNC_LOG_LEVEL: 'info' };
    const start = (): { proc: ChildProcess; exited: Promise<number | null>; log: () => string } => {
      const proc = spawn(process.execPath, [BIN, '--config', cfg, 'daemon'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(proc);
      let log = '';
      proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      return { proc, exited: new Promise((r) => proc.on('exit', (code) => r(code))), log: () => log };
    };
    const stored = (): number => {
      const store = new SqliteStore({ path: db, readonly: true });
      try {
        return store.counts().contacts;
      } finally {
        store.close();
      }
    };
    const pages = (): number => hubspot.stats().requests['GET /crm/v3/objects/contacts'] ?? 0;

    const first = start();
    await until(() => pages() >= 3, 60_000, first.log);
    first.proc.kill('SIGTERM');
    const code = await first.exited;
    const lines = first
      .log()
      .split('\n')
      .filter((l) => /pull stopped|"level":[56]0/.test(l));
    expect({ code, lines: lines.map((l) => (JSON.parse(l) as { msg: string }).msg) }).toEqual({
      code: 0,
      lines: [expect.stringMatching(/^hubspot: pull stopped after \d+ pages; the next one goes on from there$/)],
    });
    const readBefore = pages();
    const storedBefore = stored();
    expect(storedBefore).toBeGreaterThan(0);
    expect(storedBefore).toBeLessThan(CONTACTS);

    const second = start();
    await until(() => stored() === CONTACTS, 120_000, second.log);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    // It went on from the stored cursor: the pages read before the stop were not read again.
    expect(pages() - readBefore).toBeLessThanOrEqual(Math.ceil((CONTACTS - storedBefore) / 100) + 1);
  }, 240_000);
});
