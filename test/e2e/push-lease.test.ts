/**
 * One process at a time sends an ESP's outbox (src/sync/push-lease.ts), with the real CLI and daemon
 * as separate processes against the sandboxes. Two senders each claimed what the other had not
 * answered yet: every change sent twice or more, and two rate limiters that knew nothing of each other.
 * HubSpot takes 100 contacts an upsert, so N contacts cost exactly N / 100 upserts when each change
 * goes once; its rate is set low so that each push lasts long enough for the other to start.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../src/daemon/free-port';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { BIN, runCli } from '../support/cli';
import type { CliRun } from '../support/cli';
import { SECRETS, startSandboxes } from '../support/sandboxes';
import type { Sandboxes } from '../support/sandboxes';
import { until } from '../support/wait';

const CONTACTS = 2_000;
const UPSERTS = CONTACTS / 100;
const SERVER_KEY = 'push-lease-server-key';

describe('one sender per ESP outbox', () => {
  let dir: string;
  let s: Sandboxes;
  let cfg: string;
  let db: string;
  let daemonPort: number;
  const children: ChildProcess[] = [];
  const env = { ...process.env, ...SECRETS, SK: SERVER_KEY, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '', SEGSYNC_LOG_LEVEL: 'error' };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-push-lease-'));
    s = await startSandboxes();
    db = join(dir, 'store.db');
    cfg = join(dir, 'segsync.yaml');
    daemonPort = await freeLoopbackPort();
    writeFileSync(
      cfg,
      `version: 1
store: { path: ${db} }
fields:
  plan: { type: string }
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: "${s.hubspot.url}", requestsPer10s: 10 }
  mailchimp: { apiKey: "\${MC_KEY}", listId: ${s.mailchimp.listId}, baseUrl: "${s.mailchimp.url}" }
  klaviyo: { apiKey: "\${KL_KEY}", baseUrl: "${s.klaviyo.url}", jobPollIntervalMs: 50 }
mappings:
  hubspot: [{ local: plan, remote: segsync_plan }]
  mailchimp: [{ local: plan, remote: PLAN }]
  klaviyo: [{ local: plan, remote: plan }]
daemon: { port: ${daemonPort}, serverKey: "\${SK}", pullIntervalSeconds: 3600 }
`,
    );
    const file = join(dir, 'contacts.jsonl');
    writeFileSync(
      file,
      Array.from({ length: CONTACTS }, (_, i) => JSON.stringify({ email: `p${i}@lease.test`, properties: { plan: `plan-${i}` } })).join('\n'),
    );
    expect((await runCli(['--config', cfg, 'import', 'contacts', file], env)).code).toBe(0);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const upserts = (): number => s.hubspot.stats().requests['POST /crm/v3/objects/contacts/batch/upsert'] ?? 0;
  /** `segsync push` as a child that can be killed, and its end. */
  const startPush = (args: string[] = []): { proc: ChildProcess; done: Promise<CliRun> } => {
    const proc = spawn(process.execPath, [BIN, '--config', cfg, 'push', '--esp', 'hubspot', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return { proc, done: new Promise((r) => proc.on('close', (code) => r({ code, stdout, stderr }))) };
  };
  /** Every contact on HubSpot with the plan the store holds. */
  const expectAllOnHubspot = (): void => {
    const wrong = Array.from({ length: CONTACTS }, (_, i) => [`p${i}@lease.test`, `plan-${i}`] as const).filter(
      ([email, plan]) => s.hubspot.contact(email)?.properties.segsync_plan !== plan,
    );
    expect(wrong).toEqual([]);
    const store = new SqliteStore({ path: db });
    try {
      expect(store.outboxCounts().filter((o) => o.pending + o.dead > 0)).toEqual([]);
    } finally {
      store.close();
    }
  };

  it('two pushes at once (cron runs that overlap): the second waits for the first, and each change is sent once', async () => {
    const first = startPush();
    await until(() => upserts() > 0, 60_000);
    const second = await runCli(['--config', cfg, 'push', '--esp', 'hubspot', '--max-wait', '120'], env, 180_000);
    const firstRun = await first.done;
    expect({ code: firstRun.code, stderr: firstRun.stderr }).toEqual({ code: 0, stderr: '' });
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
    expect(firstRun.stdout).toMatch(`hubspot: ${CONTACTS.toLocaleString('en-US')} contacts updated`);
    expect(second.stdout).toMatch(new RegExp(`hubspot: sent by \`segsync push\` \\(pid ${first.proc.pid}\\)`));
    expect(upserts()).toBe(UPSERTS);
    expectAllOnHubspot();
  }, 240_000);

  it('a push beside the daemon leaves the sending to it, and says so when it cannot wait', async () => {
    const daemon = spawn(process.execPath, [BIN, '--config', cfg, 'daemon'], {
      env: { ...env, SEGSYNC_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(daemon);
    let log = '';
    daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await until(
      () => upserts() > 0,
      60_000,
      () => log,
    );
    // It cannot wait: what is left stays queued for the daemon, and the exit code says it was not delivered.
    const impatient = await runCli(['--config', cfg, 'push', '--esp', 'hubspot', '--max-wait', '0'], env);
    expect(impatient.code).toBe(1);
    expect(impatient.stderr).toMatch(
      new RegExp(`hubspot: \\d+ operations not delivered \\(\\d+ queued for the daemon \\(pid ${daemon.pid}\\) to send, 0 failed\\)`),
    );
    // `status` names the sender.
    const status = await runCli(['--config', cfg, 'status', '--json'], env);
    expect(JSON.parse(status.stdout).senders.hubspot).toMatchObject({ pid: daemon.pid, command: 'daemon' });
    const patient = await runCli(['--config', cfg, 'push', '--esp', 'hubspot', '--max-wait', '120'], env, 180_000);
    expect({ code: patient.code, stderr: patient.stderr }).toEqual({ code: 0, stderr: '' });
    expect(patient.stdout).toMatch(`hubspot: sent by the daemon (pid ${daemon.pid})`);
    expect(upserts()).toBe(UPSERTS);
    expectAllOnHubspot();
    daemon.kill('SIGTERM');
    expect({ exit: await new Promise((r) => daemon.on('exit', r)), errors: log.split('\n').filter((l) => /"level":[56]0/.test(l)) }).toEqual({
      exit: 0,
      errors: [],
    });
    // The daemon gave its lease up: a push now sends itself (nothing is left, so it sends nothing).
    const after = await runCli(['--config', cfg, 'push', '--esp', 'hubspot'], env);
    expect(after.code).toBe(0);
    expect(after.stdout).not.toMatch('sent by');
  }, 240_000);

  it('a push killed mid-way leaves a lease the next one takes at once (its holder no longer runs)', async () => {
    const killed = startPush();
    await until(() => upserts() >= 2, 60_000);
    killed.proc.kill('SIGKILL');
    await killed.done;
    const sentBefore = upserts();
    const next = await runCli(['--config', cfg, 'push', '--esp', 'hubspot'], env, 180_000);
    expect({ code: next.code, stderr: next.stderr }).toEqual({ code: 0, stderr: '' });
    expect(next.stdout).not.toMatch('sent by');
    // Had it found the lease held, it would have waited its 60 s for the dead holder and exited 1 ("queued for … to send").
    // At most the batches in flight at the kill go again (HubSpot's connector sends up to 10 at once).
    expect(upserts()).toBeGreaterThanOrEqual(UPSERTS);
    expect(upserts() - UPSERTS).toBeLessThanOrEqual(10);
    expect(sentBefore).toBeLessThan(UPSERTS);
    expectAllOnHubspot();
  }, 240_000);
});
