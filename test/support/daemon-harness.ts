/**
 * Starts a real daemon (fastify on 127.0.0.1, port 0) over the store-backed fixture services, with a
 * ManualClock and a logger whose lines are kept for assertions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startDaemon } from '../../src/daemon/daemon';
import type { DaemonOptions, RunningDaemon } from '../../src/daemon/daemon';
import { createLogger } from '../../src/log/logger';
import { ManualClock } from '../../src/model/clock';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { FixtureServices } from './daemon-services';
import type { FixtureOptions } from './daemon-services';

export interface Harness {
  url: string;
  daemon: RunningDaemon;
  services: FixtureServices;
  store: SqliteStore;
  clock: ManualClock;
  /** Every log line written so far. */
  logs(): string;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<Omit<DaemonOptions, 'services' | 'logger' | 'clock'>> {
  fixture?: Partial<Omit<FixtureOptions, 'store' | 'clock'>>;
  start?: number;
}

/** Starts a daemon for one test file; `close()` stops it and removes its store. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'segsync-daemon-'));
  const clock = new ManualClock(options.start ?? Date.UTC(2026, 4, 1, 12));
  const store = new SqliteStore({ path: join(dir, 'store.db'), now: () => clock.now() });
  const services = new FixtureServices({ store, clock, ...options.fixture });
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  const { fixture: _fixture, start: _start, ...daemonOptions } = options;
  const daemon = await startDaemon({
    host: '127.0.0.1',
    port: 0,
    trackToken: 'test-token-0123456789',
    ...daemonOptions,
    services,
    clock,
    logger: createLogger({ level: 'debug', destination: sink }),
  });
  return {
    url: daemon.url,
    daemon,
    services,
    store,
    clock,
    logs: () => text,
    close: async () => {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
