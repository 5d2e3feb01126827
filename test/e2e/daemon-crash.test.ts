import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, sandboxConnectorsYaml, startSandboxes } from '../support/sandboxes';
import { freeLoopbackPort } from '../../src/daemon/free-port';
import { until } from '../support/wait';

const BIN = resolve(__dirname, '../../bin/segsync.js');
const N = 5000;
const TOKEN = 'crash-test-token';
const HOUR = 3_600_000;

describe('daemon crash: SIGKILL mid-push, restart', () => {
  let s: Sandboxes;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // The vendors' real limits: HubSpot's 100 calls per 10 s keeps a 5,000-contact push going long enough to kill it mid-way.
    s = await startSandboxes({ limits: 'real' });
    dir = mkdtempSync(join(tmpdir(), 'segsync-daemon-crash-'));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses and doubles nothing: every accepted event is stored once, every ESP ends with exactly the desired state', async () => {
    const port = await freeLoopbackPort();
    const db = join(dir, 'segsync.db');
    const cfg = join(dir, 'segsync.yaml');
    writeFileSync(
      cfg,
      `version: 1
store: { path: ${db} }
fields:
  plan: { type: string }
${sandboxConnectorsYaml(s)}
mappings:
  hubspot: [{ local: plan, remote: segsync_plan }]
  mailchimp: [{ local: plan, remote: PLAN }]
  klaviyo: [{ local: plan, remote: plan }]
segments:
  cart_abandoner:
    rule: none_within("Placed Order", 24h, "Added to Cart") && !after("Placed Order", "Added to Cart")
    push: [{ esp: hubspot }, { esp: mailchimp }, { esp: klaviyo }]
daemon: { port: ${port}, trackToken: "\${TRACK}", pullIntervalSeconds: 3600 }
`,
    );
    const env = { ...process.env, ...SECRETS, TRACK: TOKEN, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '', SEGSYNC_LOG_LEVEL: 'error' };
    const start = (): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } => {
      const proc = spawn(process.execPath, [BIN, '--config', cfg, 'daemon'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(proc);
      let stderr = '';
      proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      return { proc, stderr: () => stderr, exited: new Promise((r) => proc.on('exit', (c) => r(c))) };
    };
    const url = `http://127.0.0.1:${port}`;
    const post = (batch: object[]): Promise<Response> =>
      fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ batch }),
      });
    const ready = async (): Promise<void> => {
      // Up to 30 s: a cold start through tsx takes 8-15 s on a loaded 2-core machine.
      for (let i = 0; i < 600; i++) {
        if (
          await fetch(`${url}/healthz`).then(
            (r) => r.ok,
            () => false,
          )
        )
          return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('the daemon did not start');
    };

    const first = start();
    await ready();
    // Contacts with a plan, and a cart add two days ago for every third one (cart abandoners).
    const twoDaysAgo = new Date(Date.now() - 48 * HOUR).toISOString();
    for (let i = 0; i < N; i += 250) {
      const batch = Array.from({ length: Math.min(250, N - i) }, (_, k) => i + k).flatMap((n) => [
        { type: 'identify', messageId: `id-${n}`, email: `d${n}@x.com`, traits: { plan: n % 2 ? 'pro' : 'free' } },
        ...(n % 3 === 0 ? [{ type: 'track', messageId: `cart-${n}`, email: `d${n}@x.com`, event: 'Added to Cart', timestamp: twoDaysAgo }] : []),
      ]);
      expect((await post(batch)).status).toBe(200);
    }
    // Kill it while HubSpot is part-way through (the rate limit paces it at 100 calls per 10 s).
    await until(() => s.hubspot.contactCount() > 0, 20_000);
    const accepted = await post([{ type: 'track', messageId: 'late-order', email: 'd0@x.com', event: 'Placed Order', properties: { value: 10 } }]);
    expect(accepted.status).toBe(200);
    first.proc.kill('SIGKILL');
    await first.exited;
    expect(s.hubspot.contactCount()).toBeLessThan(N);

    const second = start();
    await ready();
    // A sender that did not see the answer before the crash sends the same event again: stored once.
    expect((await post([{ type: 'track', messageId: 'late-order', email: 'd0@x.com', event: 'Placed Order', properties: { value: 10 } }])).status).toBe(200);
    const store = new SqliteStore({ path: db });
    try {
      await until(
        () => store.outboxCounts().every((o) => o.pending === 0 && o.dead === 0) && s.hubspot.contactCount() === N,
        60_000,
        () => ({
          outbox: store.outboxCounts(),
          dead: store.deadOutbox(undefined, 3).map((o) => o.lastError),
          hubspot: s.hubspot.contactCount(),
          mailchimp: s.mailchimp.audience().members.size,
          klaviyo: s.klaviyo.state.profiles.size,
          contacts: store.counts().contacts,
          hubspotRejected: s.hubspot.stats().rejected,
          hubspotCalls: s.hubspot.stats().requests,
        }),
      );
      expect(store.counts().events).toBe(Math.ceil(N / 3) + 1);
    } finally {
      store.close();
    }
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.stderr()).toBe('');

    expect([s.hubspot.contactCount(), s.mailchimp.audience().members.size, s.klaviyo.state.profiles.size]).toEqual([N, N, N]);
    const wrong: string[] = [];
    for (let n = 0; n < N; n++) {
      const email = `d${n}@x.com`;
      const plan = n % 2 ? 'pro' : 'free';
      const abandoner = n % 3 === 0 && n !== 0;
      const hs = s.hubspot.contact(email)?.properties;
      const mc = s.mailchimp.member(email);
      const kl = s.klaviyo.profileByEmail(email)?.properties;
      const tags = {
        hubspot: (hs?.segsync_tags ?? '').split(';').includes('cart_abandoner'),
        mailchimp: ((mc?.tags ?? []) as { name: string }[]).some((t) => t.name === 'cart_abandoner'),
        klaviyo: ((kl?.segsync_tags ?? []) as string[]).includes('cart_abandoner'),
      };
      if (hs?.segsync_plan !== plan || mc?.merge_fields.PLAN !== plan || kl?.plan !== plan) wrong.push(`${email} plan`);
      for (const [esp, has] of Object.entries(tags)) if (has !== abandoner) wrong.push(`${email} ${esp} tag ${String(has)}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  }, 120_000);
});
