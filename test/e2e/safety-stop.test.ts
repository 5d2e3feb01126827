/**
 * The safety valve in the running daemon (`segsync daemon`, a child process, against the three
 * sandboxes): a queue that would take an owned tag off most of the contacts carrying it stops that
 * ESP only, says why in `segsync status`, the log, the `segsync_push_stopped` metric and `/readyz`,
 * while the other ESPs keep going; `segsync push --force` sends it and the daemon goes on.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../src/daemon/free-port';
import { BIN, runCli } from '../support/cli';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, startSandboxes } from '../support/sandboxes';
import { until } from '../support/wait';

const TOKEN = 'safety-track-token';
const N = 12;

describe('daemon: the safety valve stops one ESP and says so everywhere', () => {
  let s: Sandboxes;
  let dir: string;
  let daemon: ChildProcess | undefined;
  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-safety-'));
  });
  afterAll(async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds HubSpot with the reason in status, logs, metric and /readyz; Mailchimp and Klaviyo go on; push --force resumes', async () => {
    const port = await freeLoopbackPort();
    const url = `http://127.0.0.1:${port}`;
    const cfg = join(dir, 'segsync.yaml');
    writeFileSync(
      cfg,
      `version: 1
store: { path: ${join(dir, 'segsync.db')} }
fields:
  plan: { type: string, owner: local }
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: "${s.hubspot.url}", requestsPer10s: 10000 }
  mailchimp: { apiKey: "\${MC_KEY}", listId: ${s.mailchimp.listId}, baseUrl: "${s.mailchimp.url}" }
  klaviyo: { apiKey: "\${KL_KEY}", baseUrl: "${s.klaviyo.url}", jobPollIntervalMs: 50 }
mappings:
  hubspot: [{ local: plan, remote: segsync_plan, direction: out }]
  mailchimp: [{ local: plan, remote: PLAN, direction: out }]
  klaviyo: [{ local: plan, remote: plan, direction: out }]
tags:
  owned: { prefix: "seg:" }
segments:
  pro:
    rule: contact.plan == "pro"
    push: [{ esp: hubspot, name: "seg:pro" }]
safety: { maxShare: 0.2, minContacts: 5 }
daemon: { port: ${port}, trackToken: "\${TRACK}", pullIntervalSeconds: 3600 }
`,
    );
    const env = { ...process.env, ...SECRETS, TRACK: TOKEN, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '', SEGSYNC_LOG_LEVEL: 'info', SEGSYNC_LOG_FORMAT: 'json' };
    const proc = spawn(process.execPath, [BIN, '--config', cfg, 'daemon'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    daemon = proc;
    let logs = '';
    proc.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    await until(
      () =>
        fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      60_000,
      () => logs,
    );
    const identify = async (plan: string): Promise<void> => {
      const batch = Array.from({ length: N }, (_, i) => ({ type: 'identify', email: `p${i}@x.com`, traits: { plan } }));
      const res = await fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ batch }),
      });
      expect(res.status).toBe(200);
    };
    const hsTagged = (): number =>
      Array.from({ length: N }, (_, i) => s.hubspot.contact(`p${i}@x.com`)?.properties.segsync_tags ?? '').filter((t) => t.split(';').includes('seg:pro'))
        .length;
    const plans = (): string[] =>
      Array.from(
        { length: N },
        (_, i) => `${String(s.mailchimp.member(`p${i}@x.com`)?.merge_fields.PLAN)}/${String(s.klaviyo.profileByEmail(`p${i}@x.com`)?.properties.plan)}`,
      );
    const metric = async (): Promise<string[]> =>
      (await (await fetch(`${url}/metrics`)).text())
        .split('\n')
        .filter((l) => l.startsWith('segsync_push_stopped{'))
        .sort();

    await identify('pro');
    await until(
      () => hsTagged() === N && plans().every((p) => p === 'pro/pro'),
      30_000,
      () => ({ hsTagged: hsTagged(), plans: plans() }),
    );
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    // Everyone leaves the segment at once (a broken import, say): HubSpot would lose `seg:pro` on 12 of 12.
    await identify('free');
    // The other ESPs are not held up: their plan changes go through.
    await until(
      () => plans().every((p) => p === 'free/free'),
      30_000,
      () => plans(),
    );
    await until(async () => (await fetch(`${url}/readyz`)).status === 503, 15_000);
    const ready = (await (await fetch(`${url}/readyz`)).json()) as { checks: Record<string, { ok: boolean; detail?: string }> };
    expect(ready.checks.hubspot).toEqual({
      ok: false,
      detail: expect.stringMatching(/^hubspot: push stopped: it would remove tag seg:pro from 12 of the 12 contacts that carry it/),
    });
    expect([ready.checks.mailchimp?.ok, ready.checks.klaviyo?.ok]).toEqual([true, true]);
    expect(await metric()).toEqual([
      'segsync_push_stopped{esp="hubspot"} 1',
      'segsync_push_stopped{esp="klaviyo"} 0',
      'segsync_push_stopped{esp="mailchimp"} 0',
    ]);
    expect(hsTagged()).toBe(N);
    // Logged once with the reason, however often the daemon tries again.
    await new Promise((r) => setTimeout(r, 1500));
    expect(logs.split('\n').filter((l) => l.includes('push stopped: it would remove tag seg:pro'))).toHaveLength(1);

    const status = await runCli(['--config', cfg, 'status'], env, 60_000);
    expect(status.stdout).toMatch(/hubspot: queue STOPPED by the safety valve: hubspot: push stopped: it would remove tag seg:pro from 12 of the 12 contacts/);

    // The documented way on: look at the plan, then force it.
    const forced = await runCli(['--config', cfg, 'push', '--esp', 'hubspot', '--force'], env, 60_000);
    expect(forced.code).toBe(0);
    await until(
      () => hsTagged() === 0,
      15_000,
      () => hsTagged(),
    );
    await until(async () => (await fetch(`${url}/readyz`)).status === 200, 15_000);
    expect(await metric()).toEqual([
      'segsync_push_stopped{esp="hubspot"} 0',
      'segsync_push_stopped{esp="klaviyo"} 0',
      'segsync_push_stopped{esp="mailchimp"} 0',
    ]);

    // The daemon's HubSpot queue runs again by itself: a new change goes out without --force.
    await identify('pro');
    await until(
      () => hsTagged() === N,
      30_000,
      () => hsTagged(),
    );
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 180_000);
});
