/**
 * The rules' event cache snapshot under SIGKILL: a child process saves snapshots back to back and is
 * killed at random points again and again. After every kill, a fresh engine either loads a snapshot
 * that gives exactly the answers read straight from the events, or finds none (or a damaged one) and
 * rebuilds from the events: never a snapshot that loads wrong.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfigFile } from '../../src/config/load';
import { ManualClock } from '../../src/model/clock';
import { SegmentEngine } from '../../src/rules/engine';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { snapshotFolder } from '../../src/store/sqlite/snapshot-files';

const KILLS = 8;
const CONTACTS = 400;
const TEMPLATE = resolve(__dirname, '../../templates/segsync.yaml');
const WRITER = resolve(__dirname, '../support/snapshot-writer.ts');
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);
const NAMES = ['Viewed Product', 'Placed Order', 'Opened Email', 'Added to Cart', 'Clicked Email'];

/** A small deterministic generator, so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const config = (): ReturnType<typeof loadConfigFile> => loadConfigFile(TEMPLATE, { secrets: { connectors: false, daemon: false } });

/** Starts the writer and resolves once it is saving snapshots. */
function startWriter(path: string, children: ChildProcess[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', WRITER, path, TEMPLATE], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((ok, fail) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('writing')) ok(child);
    });
    child.on('exit', (code) => fail(new Error(`snapshot writer exited (${code}) before writing: ${err}`)));
  });
}

describe('rules cache snapshot under SIGKILL', () => {
  let dir: string;
  let path: string;
  const children: ChildProcess[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-snapshot-crash-'));
    path = join(dir, 'store.db');
    const rand = random(Number(process.env.SEGSYNC_CRASH_SEED ?? 20261203));
    const store = new SqliteStore({ path });
    store.upsertContacts(
      Array.from({ length: CONTACTS }, (_, i) => ({
        email: `c${i}@example.com`,
        properties: { country: 'DE', plan: i % 3 ? 'free' : 'pro' },
        consent: 'subscribed' as const,
        source: 'local' as const,
        time: NOW - 400 * DAY,
      })),
    );
    for (let b = 0; b < 20; b++) {
      store.appendEvents(
        Array.from({ length: 1000 }, () => {
          const name = NAMES[Math.floor(rand() * NAMES.length)]!;
          return {
            email: `c${Math.floor(rand() * CONTACTS)}@example.com`,
            name,
            time: NOW - Math.floor(rand() * 200 * DAY),
            properties: { value: Math.round(rand() * 50_000) / 100, category: rand() < 0.5 ? 'shoes' : 'bags' },
            source: 'track' as const,
          };
        }),
      );
    }
    store.close();
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`never loads a wrong snapshot after ${KILLS} kills mid-write`, async () => {
    const rand = random(7);
    const outcomes: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      const child = await startWriter(path, children);
      await new Promise((r) => setTimeout(r, 20 + Math.floor(rand() * 400)));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;

      // The live snapshot's file, and at most the one the kill cut short, which no row names.
      expect(readdirSync(snapshotFolder(path)).length).toBeLessThanOrEqual(2);
      const store = new SqliteStore({ path });
      try {
        const clock = new ManualClock(NOW);
        const loaded = SegmentEngine.fromConfig(config(), store, clock, { workers: 0 });
        loaded.load();
        outcomes.push(loaded.lastLoad!.fromSnapshot ? 'snapshot' : loaded.lastLoad!.snapshotRejected ? 'rejected' : 'none');
        // A rebuild saved a snapshot of its own and deleted every other file.
        if (!loaded.lastLoad!.fromSnapshot) expect(readdirSync(snapshotFolder(path))).toHaveLength(1);
        // Not loaded: every answer read straight from the stored events.
        const direct = SegmentEngine.fromConfig(config(), store, clock, { workers: 0 });
        for (let id = 1; id <= CONTACTS; id++) {
          const a = loaded.evaluateContact(id, { now: NOW, save: false });
          const b = direct.evaluateContact(id, { now: NOW, save: false });
          expect({ id, states: a?.states, next: a?.nextChangeAt }).toEqual({ id, states: b?.states, next: b?.nextChangeAt });
        }
      } finally {
        store.close();
      }
    }
    // The check above ran against loaded snapshots, not only against rebuilds.
    expect(outcomes).toContain('snapshot');
  }, 120_000);
});
