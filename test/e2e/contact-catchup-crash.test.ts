/**
 * The daemon's contact catch-up under SIGKILL: another process (`segsync import contacts`) changes the
 * property a segment reads, for thousands of contacts at a time, and the daemon is killed at a random
 * point of catching up with it (before, during or after the evaluation, mid-push), then restarted.
 * In the end every contact's stored answer follows its stored property, no noted change is left,
 * and every ESP carries the segment tag on exactly the contacts in the segment.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../src/daemon/free-port';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { runCli } from '../support/cli';
import { startChild, waitHealthy } from '../support/intake-daemon';
import type { Child, DaemonSetup } from '../support/intake-daemon';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, planDaemonYaml, segmentToAllYaml, startSandboxes } from '../support/sandboxes';
import { until } from '../support/wait';

const N = 4000;
const ROUNDS = 4;
const TOKEN = 'catchup-crash-token';

/** A small deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const email = (n: number): string => `k${n}@x.com`;

describe('daemon crash: SIGKILL while catching up with another process’s contact changes', () => {
  let s: Sandboxes;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-catchup-crash-'));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`ends with every answer and every ESP tag following the last import, after ${ROUNDS} kills`, async () => {
    const seed = Number(process.env.SEGSYNC_CRASH_SEED ?? 20261205);
    const rand = random(seed);
    const port = await freeLoopbackPort();
    const db = join(dir, 'segsync.db');
    const cfg = join(dir, 'segsync.yaml');
    writeFileSync(
      cfg,
      planDaemonYaml(s, {
        db,
        segments: [segmentToAllYaml('pro', 'contact.plan == "pro"')],
        // Each round takes the tag from about a sixth of its carriers, and rounds can pile up unpushed:
        // the mass-removal stop would rightly hold them, and it has tests of its own.
        extra: 'safety: { maxShare: 1 }\n',
        daemon: `port: ${port}, trackToken: "\${TRACK}", pullIntervalSeconds: 3600`,
      }),
    );
    const env = { ...process.env, ...SECRETS, TRACK: TOKEN, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '', SEGSYNC_LOG_LEVEL: 'error' };
    const plans: boolean[] = Array.from({ length: N }, (_, n) => n % 2 === 0);
    const importPlans = async (round: number): Promise<ReturnType<typeof runCli>> => {
      const file = join(dir, `contacts-${round}.jsonl`);
      writeFileSync(
        file,
        plans.map((pro, n) => JSON.stringify({ email: email(n), properties: { plan: pro ? 'pro' : 'free' }, consent: 'subscribed' })).join('\n') + '\n',
      );
      return runCli(['--config', cfg, 'import', 'contacts', file], env);
    };
    const setup: DaemonSetup = { dir, db, cfg, port, url: `http://127.0.0.1:${port}`, env };
    const start = (): Child => startChild(setup, ['daemon'], children);
    // Waits for /healthz, and fails at once with the daemon's stderr if it exits instead.
    const ready = (): Promise<void> => waitHealthy(setup, daemon);

    // Every contact exists (half of them pro) before the daemon's first start.
    expect((await importPlans(0)).code).toBe(0);
    let daemon = start();
    await ready();
    const kills: { wait: number; noted: number; outbox: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // About a third of the contacts change plan each round, both ways.
      for (let n = 0; n < N; n++) if (rand() < 0.35) plans[n] = !plans[n];
      const imported = importPlans(round);
      // The first kill comes before the import writes anything, so the restart finds every change
      // noted before its load. The daemon re-evaluates every 5 s: a later kill within 7 s of the
      // import's start falls before, in or after its catch-up or the pushes that follow.
      const wait = round === 1 ? 0 : Math.floor(rand() * 7000);
      await new Promise((r) => setTimeout(r, wait));
      const atKill = new SqliteStore({ path: db });
      kills.push({ wait, noted: atKill.contactChanges().length, outbox: atKill.outboxCounts().reduce((n, o) => n + o.pending, 0) });
      atKill.close();
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      const run = await imported;
      expect({ round, code: run.code, stderr: run.stderr }).toEqual({ round, code: 0, stderr: '' });
      daemon = start();
      await ready();
    }

    const wrongAt = (): string[] => {
      const wrong: string[] = [];
      for (let n = 0; n < N && wrong.length < 5; n++) {
        const hs = (s.hubspot.contact(email(n))?.properties.segsync_tags ?? '').split(';').includes('pro');
        const mc = ((s.mailchimp.member(email(n))?.tags ?? []) as { name: string }[]).some((t) => t.name === 'pro');
        const kl = ((s.klaviyo.profileByEmail(email(n))?.properties.segsync_tags ?? []) as string[]).includes('pro');
        if (hs !== plans[n] || mc !== plans[n] || kl !== plans[n]) wrong.push(`${email(n)} pro=${plans[n]}: hubspot ${hs}, mailchimp ${mc}, klaviyo ${kl}`);
      }
      return wrong;
    };
    const store = new SqliteStore({ path: db });
    try {
      await until(
        () => store.contactChanges().length === 0 && store.outboxCounts().every((o) => o.pending === 0 && o.dead === 0) && wrongAt().length === 0,
        60_000,
        () => ({ seed, kills, noted: store.contactChanges().length, outbox: store.outboxCounts(), wrong: wrongAt(), log: daemon.stderr().slice(-3000) }),
      );
      const answers: string[] = [];
      for (let n = 0; n < N; n++) {
        const id = store.findContactByEmail(email(n))!.id;
        // A flag never set is not stored: absent reads as false.
        const pro = store.getSegmentStates(id).find((a) => a.segment === 'pro')?.value ?? false;
        if (pro !== plans[n]) answers.push(`${email(n)}: stored ${String(pro)}, plan ${plans[n] ? 'pro' : 'free'}`);
      }
      expect({ seed, kills, answers: answers.slice(0, 5) }).toEqual({ seed, kills, answers: [] });
      expect(store.counts().contacts).toBe(N);
    } finally {
      store.close();
    }
    daemon.proc.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(daemon.stderr()).toBe('');
  }, 240_000);
});
