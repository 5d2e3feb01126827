import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';

const CHILD = resolve(__dirname, '../support/daemon-child.ts');

interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout JSON line that has `key`. */
  waitFor(key: string, value?: string): Promise<Record<string, string>>;
  exited: Promise<{ code: number | null; ms: number; stderr: string }>;
  signalledAt: () => number;
}

function startChild(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--require', 'tsx/cjs', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, string>[] = [];
  const waiters: { key: string; value: string | undefined; resolve: (l: Record<string, string>) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, string>;
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.key in line && (w.value === undefined || line[w.key] === w.value)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let signalled = 0;
  const exited = new Promise<{ code: number | null; ms: number; stderr: string }>((res) =>
    proc.on('exit', (code) => res({ code, ms: Date.now() - signalled, stderr })),
  );
  return {
    proc,
    waitFor: (key, value) => {
      const seen = lines.find((l) => key in l && (value === undefined || l[key] === value));
      return seen ? Promise.resolve(seen) : new Promise((res) => waiters.push({ key, value, resolve: res }));
    },
    exited,
    signalledAt: () => (signalled = Date.now()),
  };
}

/** A store file holding one contact with one pending HubSpot operation (`seeded`). */
function seedStore(path: string): void {
  const store = new SqliteStore({ path });
  const id = store.resolveEmails(['seed@example.com']).get('seed@example.com')!;
  store.enqueue([{ esp: 'hubspot', contactId: id, key: 'seeded', op: 'set', value: 'v' }], Date.now() - 1_000);
  store.close();
}

function outboxKeys(path: string): string[] {
  const store = new SqliteStore({ path });
  try {
    return store.dueOutbox('hubspot', Date.now() + 86_400_000, 100).map((o) => o.key);
  } finally {
    store.close();
  }
}

describe('daemon process shutdown', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-daemon-e2e-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('on SIGTERM during a push and an in-flight request: refuses new requests, completes both, exits 0', async () => {
    const store = join(dir, 'store.db');
    seedStore(store);
    const child = startChild({ STORE: store, HOLD_DRAIN_MS: '700', HOLD_TRACK_MS: '400', SHUTDOWN_MS: '5000' });
    const { ready: url } = await child.waitFor('ready');
    await child.waitFor('started', 'push');
    const inFlight = fetch(`${url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', event: 'Placed Order', messageId: 'in-flight-1' }),
    });
    await child.waitFor('started', 'track');
    child.signalledAt();
    child.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const late = await fetch(`${url}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ ok: true, accepted: 1 });
    const { code, ms, stderr } = await child.exited;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(stderr).toContain('daemon stopped');
    // The push that was in flight finished and was recorded; the event is stored.
    expect(outboxKeys(store)).not.toContain('seeded');
    const s = new SqliteStore({ path: store });
    expect(s.counts().events).toBe(1);
    s.close();
  });

  it('exits 1 when shutdown outlasts its bound, and the next start resumes the unfinished push', async () => {
    const store = join(dir, 'store.db');
    seedStore(store);
    const stuck = startChild({ STORE: store, HOLD_DRAIN_MS: '20000', SHUTDOWN_MS: '300' });
    await stuck.waitFor('ready');
    await stuck.waitFor('started', 'push');
    stuck.signalledAt();
    stuck.proc.kill('SIGTERM');
    const first = await stuck.exited;
    expect(first.code).toBe(1);
    expect(first.ms).toBeLessThan(3_000);
    expect(first.stderr).toContain('shutdown did not finish in time');
    expect(outboxKeys(store)).toEqual(['seeded']);

    const next = startChild({ STORE: store, SHUTDOWN_MS: '5000' });
    await next.waitFor('started', 'push');
    await next.waitFor('ready');
    for (let i = 0; i < 50 && outboxKeys(store).length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(outboxKeys(store)).toEqual([]);
    next.proc.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  });
});
