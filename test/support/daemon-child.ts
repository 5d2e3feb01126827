/**
 * A daemon over the store-backed fixture services in a process of its own, for the shutdown and
 * restart tests: `node --require tsx/cjs test/support/daemon-child.ts`. Configured by environment:
 * STORE (SQLite file), ESPS (comma list), HOLD_TRACK_MS / HOLD_DRAIN_MS (how long those calls stay in
 * flight), SHUTDOWN_MS (the shutdown bound). Prints one JSON line per milestone on stdout:
 * {"ready": url} and {"started": kind}; logs go to stderr.
 */
import { exitOnSignals, startDaemon } from '../../src/daemon/daemon';
import { createLogger } from '../../src/log/logger';
import { systemClock } from '../../src/model/clock';
import type { EspName } from '../../src/model/types';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { FixtureServices } from './daemon-services';

async function main(): Promise<void> {
  const env = process.env;
  const logger = createLogger({ level: 'info' });
  const store = new SqliteStore({ path: env.STORE ?? '' });
  const say = (o: object): void => {
    process.stdout.write(`${JSON.stringify(o)}\n`);
  };
  const services = new FixtureServices({
    store,
    clock: systemClock,
    esps: (env.ESPS ?? 'hubspot').split(',') as EspName[],
    holdMs: { track: Number(env.HOLD_TRACK_MS ?? 0), drain: Number(env.HOLD_DRAIN_MS ?? 0) },
    onStart: (kind) => say({ started: kind }),
  });
  const daemon = await startDaemon({ services, logger, host: '127.0.0.1', port: 0, insecureNoToken: true });
  exitOnSignals(daemon, { logger, timeoutMs: Number(env.SHUTDOWN_MS ?? 10_000) });
  say({ ready: daemon.url });
}

main().catch((err: unknown) => {
  process.stderr.write(`daemon-child: ${String(err)}\n`);
  process.exit(2);
});
