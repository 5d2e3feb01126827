/**
 * `segsync daemon`: the long-running service (webhooks, track API, health, metrics, scheduler) until
 * SIGTERM or SIGINT. The work behind it comes from a `ServicesFactory` (src/daemon/wire.ts builds the
 * real services from config, store, rules and sync engine); this file turns options and config into
 * a running daemon.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { SegsyncConfig } from '../config/schema';
import { loadConfigFile } from '../config/load';
import { exitOnSignals, startDaemon } from '../daemon/daemon';
import type { RunningDaemon } from '../daemon/daemon';
import type { DaemonServices } from '../daemon/services';
import { UsageError } from '../errors';
import { createLogger } from '../log/logger';
import type { Logger } from '../log/logger';
import { systemClock } from '../model/clock';
import type { Clock } from '../model/clock';
import { openStore } from '../store/sqlite/sqlite-store';
import type { SqliteStore } from '../store/sqlite/sqlite-store';
import { globalOptions } from './context';
import { envSetting } from '../config/env';
import { numberOption } from './number-option';

/** What a services factory gets. The services own the store from then on (`close()` closes it). */
export interface DaemonContext {
  config: SegsyncConfig;
  configFile: string;
  store: SqliteStore;
  clock: Clock;
  logger: Logger;
}

/** Builds the daemon's services (src/daemon/wire.ts in the product; fixtures in tests). */
export type ServicesFactory = (ctx: DaemonContext) => Promise<DaemonServices>;

export interface DaemonCommandOptions {
  /** Config file path. */
  config: string;
  /** Store path override (else SEGSYNC_STORE, else store.path from the config). */
  store?: string;
  logLevel?: string;
  host?: string;
  port?: number;
  insecureNoToken?: boolean;
  /** Most seconds a graceful stop may take (default 10). */
  shutdownTimeout?: number;
  /** Install SIGTERM/SIGINT handlers that stop and exit (default true; tests turn it off). */
  handleSignals?: boolean;
}

/** Loads the config, builds the services and starts the daemon. */
export async function runDaemonCommand(options: DaemonCommandOptions, createServices: ServicesFactory): Promise<RunningDaemon> {
  const configFile = resolve(options.config);
  if (!existsSync(configFile)) {
    throw new UsageError(`no config at ${configFile}`, { hint: 'the daemon needs a segsync.yaml: run `segsync init`, or pass --config PATH' });
  }
  const { config } = loadConfigFile(configFile);
  const logger = createLogger({ level: options.logLevel ?? envSetting('SEGSYNC_LOG_LEVEL') ?? 'info' });
  const store = openStore(options.store ?? envSetting('SEGSYNC_STORE') ?? resolve(config.store.path));
  let services: DaemonServices;
  try {
    services = await createServices({ config, configFile, store, clock: systemClock, logger });
  } catch (err) {
    store.close();
    throw err;
  }
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon({
      services,
      logger,
      clock: systemClock,
      host: options.host ?? config.daemon.host,
      port: options.port ?? config.daemon.port,
      ...(config.daemon.trackToken ? { trackToken: config.daemon.trackToken } : {}),
      insecureNoToken: options.insecureNoToken ?? false,
      ...(config.daemon.publicUrl ? { publicUrl: config.daemon.publicUrl } : {}),
      pullIntervalMs: config.daemon.pullIntervalSeconds * 1000,
      reconcileIntervalMs: config.reconcile.everyMinutes * 60_000,
    });
  } catch (err) {
    await services.close();
    throw err;
  }
  if (options.handleSignals ?? true) exitOnSignals(daemon, { logger, timeoutMs: (options.shutdownTimeout ?? 10) * 1000 });
  return daemon;
}


/** Registers `segsync daemon`, running on the services `createServices` builds (src/daemon/wire.ts). */
export function register(program: Command, createServices: ServicesFactory): void {
  program
    .command('daemon')
    .description('run segsync as a service: ESP webhooks, the track API, health checks, metrics, scheduled pulls and pushes')
    .option('--host <host>', 'address to listen on (default: daemon.host from the config, 127.0.0.1)')
    .option('--port <n>', 'port to listen on (default: daemon.port from the config, 8787)', numberOption('--port', { integer: true, min: 0, max: 65_535 }))
    .option('--insecure-no-token', 'serve the track API without a token (only allowed on a loopback address)')
    .option('--shutdown-timeout <seconds>', 'most time a graceful stop may take before exiting with 1', numberOption('--shutdown-timeout', { positive: true }), 10)
    .addHelpText('after', `
Routes:   POST /webhooks/hubspot|mailchimp|klaviyo (GET /webhooks/mailchimp for Mailchimp's URL check)
          POST /v1/track, /v1/identify, /v1/batch (Segment-compatible; Authorization: Bearer <daemon.trackToken>)
          GET /healthz, /readyz, /metrics (Prometheus)
Signals:  SIGTERM/SIGINT stop intake, finish in-flight requests and pushes, then exit 0 (1 after --shutdown-timeout).
See docs/deploy.md for a systemd unit, environment variables, backups and upgrades.`)
    .action(async (opts: { host?: string; port?: number; insecureNoToken?: boolean; shutdownTimeout: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const daemon = await runDaemonCommand({ ...opts, config: g.config, ...(g.store ? { store: g.store } : {}), ...(g.logLevel ? { logLevel: g.logLevel } : {}) }, createServices);
      process.stdout.write(`segsync daemon listening on ${daemon.url}\n`);
    });
}
