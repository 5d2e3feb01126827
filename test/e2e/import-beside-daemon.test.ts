/**
 * One daemon per store, and a large first import while the daemon runs (start the daemon, then load the history): the import
 * takes the fast path that sets the event indexes aside, and the daemon reads each contact's new events
 * as they arrive. Both must finish: the import whole, the daemon with every contact evaluated.
 * Before, the daemon's reads scanned every new row per contact without the contact index, its
 * catch-ups held the write lock for minutes and the import gave up with "database is locked".
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../src/daemon/free-port';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { startChild, waitHealthy, writeDaemonConfig } from '../support/intake-daemon';
import type { DaemonSetup } from '../support/intake-daemon';
import { until } from '../support/wait';

const EVENTS = 150_000;
const CONTACTS = 15_000;

describe('the daemon and other processes on one store', () => {
  let dir: string;
  let setup: DaemonSetup;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-import-daemon-'));
    setup = await writeDaemonConfig(dir);
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports every event while the daemon evaluates every contact; the daemon keeps the contact index in use', async () => {
    const now = Date.now();
    const lines: string[] = [];
    const orders = new Map<number, number>();
    // Round after round, contact i gets i % 3 orders within the last day and some product views.
    for (let i = 0, n = 0; n < EVENTS; i = (i + 1) % CONTACTS) {
      for (let k = 0; k < i % 3 && n < EVENTS; k++, n++) {
        orders.set(i, (orders.get(i) ?? 0) + 1);
        lines.push(
          JSON.stringify({
            id: `o${n}`,
            email: `c${i}@shop.example`,
            name: 'Placed Order',
            time: new Date(now - (k + 1) * 3_600_000 - n).toISOString(),
            properties: { value: 10 },
          }),
        );
      }
      for (let k = 0; k < 7 && n < EVENTS; k++, n++) {
        lines.push(
          JSON.stringify({ id: `v${n}`, email: `c${i}@shop.example`, name: 'Viewed Product', time: new Date(now - (k + 1) * 60_000 - n).toISOString() }),
        );
      }
    }
    const file = join(dir, 'history.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);

    const daemon = startChild(setup, ['daemon'], children);
    await waitHealthy(setup, daemon);
    const read = new SqliteStore({ path: setup.db, readonly: true });
    try {
      expect(read.db.prepare("SELECT value FROM store_meta WHERE key = 'live_reader_pid'").pluck().get()).toBe(String(daemon.proc.pid));

      const imp = startChild(setup, ['import', 'events', file], children);
      // While the import runs, its bulk load has set the event-id index aside but kept the contact one.
      const duringBulk: string[][] = [];
      const seen = setInterval(() => {
        const names = read.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name").pluck().all() as string[];
        if (!names.includes('events_by_event_id')) duringBulk.push(names);
      }, 20);
      const code = await imp.exited;
      clearInterval(seen);
      expect({ code, stderr: imp.stderr() }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(duringBulk.length).toBeGreaterThan(0);
      expect(new Set(duringBulk.map((n) => n.join()))).toEqual(new Set(['events_by_contact']));
      expect(read.db.prepare('SELECT COUNT(*) FROM events').pluck().get()).toBe(EVENTS);

      // The daemon catches up with every contact: the repeat buyers are exactly those with two orders or more.
      const repeatBuyers = (): number =>
        (read.db.prepare('SELECT answers FROM segment_answers').pluck().all() as string[]).filter((a) => a.includes('repeat_buyer\u001ftrue')).length;
      const withTwoOrders = [...orders.values()].filter((n) => n >= 2).length;
      await until(
        () => repeatBuyers() === withTwoOrders,
        120_000,
        () => ({ repeatBuyers: repeatBuyers(), withTwoOrders, answered: read.db.prepare('SELECT COUNT(*) FROM segment_answers').pluck().get() }),
      );
      expect((await fetch(`${setup.url}/healthz`)).status).toBe(200);
    } finally {
      read.close();
    }
    daemon.proc.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    const after = new SqliteStore({ path: setup.db, readonly: true });
    expect(after.db.prepare("SELECT COUNT(*) FROM store_meta WHERE key = 'live_reader_pid'").pluck().get()).toBe(0);
    after.close();
  }, 240_000);

  it('refuses a second daemon on the same store while the first runs, and an unlink under it; after a SIGKILL of the first, one starts', async () => {
    const first = startChild(setup, ['daemon'], children);
    await waitHealthy(setup, first);
    // On another port, so only the store is shared: each would take the other's notes of changed contacts.
    const second = startChild(setup, ['daemon', '--port', String(await freeLoopbackPort())], children);
    expect({ code: await second.exited, stderr: second.stderr() }).toEqual({
      code: 2,
      stderr: expect.stringContaining(`another segsync daemon (pid ${first.proc.pid}) already runs on the store ${setup.db}`),
    });
    expect((await fetch(`${setup.url}/healthz`)).status).toBe(200);
    // Nor may an ESP be unlinked under it: it would record that account's ids again at its next pull or push.
    const unlink = startChild(setup, ['unlink', '--esp', 'hubspot'], children);
    expect({ code: await unlink.exited, stderr: unlink.stderr() }).toEqual({
      code: 2,
      stderr: expect.stringContaining(`the daemon (pid ${first.proc.pid}) still syncs with hubspot on this store`),
    });
    // A crash leaves its announcement behind; a pid that no longer runs is no daemon.
    first.proc.kill('SIGKILL');
    await first.exited;
    const third = startChild(setup, ['daemon'], children);
    await waitHealthy(setup, third);
    third.proc.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }, 120_000);
});
