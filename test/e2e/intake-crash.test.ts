/**
 * Atomic intake under SIGKILL: a track / batch / Klaviyo-webhook workload against the real daemon,
 * killed at random points again and again. Afterwards every acknowledged event is stored exactly
 * once, and every contact's segment answers and outbox agree with a recompute from its events.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load';
import { systemClock } from '../../src/model/clock';
import { SegmentEngine } from '../../src/rules/engine';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { resolveMapping } from '../../src/sync/mapping';
import { plansForContact } from '../../src/sync/outbound';
import { klaviyoItem, postJson, postKlaviyo, startChild, waitHealthy, writeDaemonConfig } from '../support/intake-daemon';
import type { DaemonSetup } from '../support/intake-daemon';

const KILLS = 22;
const CONTACTS = 12;

/** A small deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('intake under SIGKILL', () => {
  let dir: string;
  let setup: DaemonSetup;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-intake-crash-'));
    setup = await writeDaemonConfig(dir);
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`stores every acknowledged event once, with segment answers and outbox agreeing with its events, after ${KILLS} kills`, async () => {
    const rand = random(Number(process.env.SEGSYNC_CRASH_SEED ?? 20261203));
    const acked = new Set<string>();
    let n = 0;
    const email = (): string => `c${Math.floor(rand() * CONTACTS)}@shop.example`;
    const order = (): { messageId: string; email: string; event: string; properties: { value: number } } => ({
      messageId: `m-${n++}`,
      email: email(),
      event: 'Placed Order',
      properties: { value: Math.round(rand() * 10_000) / 100 },
    });

    /** One sender: calls until `stop`, noting the events whose call was acknowledged. */
    const sender = async (stop: { now: boolean }): Promise<void> => {
      while (!stop.now) {
        const kind = rand();
        try {
          if (kind < 0.4) {
            const e = order();
            if ((await postJson(setup, '/v1/track', e)).status === 200) acked.add(e.messageId);
          } else if (kind < 0.8) {
            const items = Array.from({ length: 1 + Math.floor(rand() * 20) }, () =>
              rand() < 0.7 ? { type: 'track', ...order() } : { type: 'identify', email: email(), traits: { plan: rand() < 0.5 ? 'pro' : 'free' } },
            );
            if ((await postJson(setup, '/v1/batch', { batch: items })).status === 200) {
              for (const i of items) if ('messageId' in i) acked.add(i.messageId);
            }
          } else {
            const items = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => {
              const id = `kl-${n++}`;
              return { id, item: klaviyoItem(id, email(), 'Placed Order', { value: Math.round(rand() * 5000) / 100 }) };
            });
            if (
              (
                await postKlaviyo(
                  setup,
                  items.map((i) => i.item),
                )
              ).status === 200
            )
              for (const i of items) acked.add(`klaviyo:${i.id}`);
          }
        } catch {
          // The daemon was killed under this call: it was never acknowledged.
        }
      }
    };

    const loaded = loadConfigFile(setup.cfg, { secrets: { connectors: false, daemon: false } });
    const mapping = resolveMapping(loaded.config);
    /** What disagrees in the store right now: acknowledged events missing, answers or outbox unlike a recompute. */
    const check = (when: string): string[] => {
      const store = new SqliteStore({ path: setup.db });
      try {
        const problems: string[] = [];
        const stored = new Map<string, number>();
        for (const row of store.db.prepare('SELECT event_id, COUNT(*) AS n FROM events GROUP BY event_id').all() as { event_id: string; n: number }[])
          stored.set(row.event_id, row.n);
        for (const id of acked) if (stored.get(id) !== 1) problems.push(`${when}: acknowledged event ${id} stored ${stored.get(id) ?? 0} times`);
        const engine = SegmentEngine.fromConfig(loaded, store, systemClock);
        for (const id of store.contactIds(0, 1000)) {
          const answers = new Map(store.getSegmentStates(id).map((s) => [s.segment, JSON.stringify(s.value)]));
          for (const s of engine.evaluateContact(id, { save: false })!.states) {
            const isDefault = s.value === false || s.value === null || s.value === 0;
            const have = answers.get(s.segment);
            if (have === undefined ? !isDefault : have !== JSON.stringify(s.value))
              problems.push(`${when}: contact ${id} ${s.segment}: stored ${have}, recomputed ${JSON.stringify(s.value)}`);
          }
          const key = (o: { esp: string; key: string; op: string; value?: unknown }): string => `${o.esp} ${o.key} ${o.op} ${JSON.stringify(o.value ?? null)}`;
          const needed = plansForContact(store, mapping, id)
            .flatMap((p) => p.ops)
            .map(key)
            .sort();
          const queued = (
            store.db.prepare('SELECT esp, key, op, value FROM outbox WHERE contact_id = ?').all(id) as {
              esp: string;
              key: string;
              op: string;
              value: string | null;
            }[]
          )
            .map((o) => key({ ...o, value: o.value === null ? null : JSON.parse(o.value) }))
            .sort();
          if (JSON.stringify(needed) !== JSON.stringify(queued))
            problems.push(`${when}: contact ${id} outbox: queued ${JSON.stringify(queued)}, needed ${JSON.stringify(needed)}`);
        }
        return problems;
      } finally {
        store.close();
      }
    };

    const problems: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      const child = startChild(setup, ['daemon'], children);
      await waitHealthy(setup, child);
      const stop = { now: false };
      const senders = Array.from({ length: 6 }, () => sender(stop));
      await new Promise((r) => setTimeout(r, 80 + rand() * 500));
      child.proc.kill('SIGKILL');
      await child.exited;
      stop.now = true;
      await Promise.all(senders);
      // Checked before the next start, so nothing a start does can hide what the kill left.
      problems.push(...check(`after kill ${k + 1}`));
    }
    expect(acked.size).toBeGreaterThan(KILLS * 5);
    expect(problems.slice(0, 5)).toEqual([]);

    // A last, clean start and stop: the store opens and the daemon runs on it.
    const last = startChild(setup, ['daemon', '--shutdown-timeout', '60'], children);
    await waitHealthy(setup, last);
    last.proc.kill('SIGTERM');
    expect(await last.exited).toBe(0);
    expect(check('after a clean restart')).toEqual([]);
  }, 240_000);
});
