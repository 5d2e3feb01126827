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
import type { LoadedConfig } from '../config/load';
import type { RunningDaemon } from '../daemon/daemon';
import type { DaemonServices } from '../daemon/services';
import { ConfigError, UsageError } from '../errors';
import type { LogFormat } from '../log/logger';
import type { Logger } from '../log/logger';
import { systemClock } from '../model/clock';
import type { Clock } from '../model/clock';
import type { SqliteStore } from '../store/sqlite/sqlite-store';
import { globalOptions } from './global-options';
import { envSetting } from '../config/env';
import { numberOption } from './number-option';

/** What a services factory gets. The services own the store from then on (`close()` closes it). */
export interface DaemonContext {
  config: SegsyncConfig;
  /** The config as parsed once, with the positions rule errors point at (`config` is its `config`). */
  loaded: LoadedConfig;
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
  logFormat?: LogFormat;
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
  const [{ loadConfigFile }, { createLogger }, { openStoreAt }, { exitOnSignals, startDaemon }, { runningDaemon }] = await Promise.all([
    import('../config/load.js'),
    import('../log/logger.js'),
    import('./open-store.js'),
    import('../daemon/daemon.js'),
    import('../store/process-alive.js'),
  ]);
  const loaded = loadConfigFile(configFile);
  const { config } = loaded;
  const logger = createLogger({
    level: options.logLevel ?? envSetting('SEGSYNC_LOG_LEVEL') ?? 'info',
    ...(options.logFormat ? { format: options.logFormat } : {}),
  });
  const storePath = options.store ?? envSetting('SEGSYNC_STORE') ?? resolve(config.store.path);
  const store = openStoreAt(storePath, { durability: config.store.durability });
  // One daemon per store: each takes the notes of contacts another process changed, so two would each
  // miss the other's (and pull, evaluate and queue everything twice).
  const other = runningDaemon(store);
  if (other !== undefined) {
    store.close();
    throw new UsageError(`another segsync daemon (pid ${other}) already runs on the store ${storePath}`, {
      hint: 'stop that one first, or give this one a store of its own (store.path in segsync.yaml, or --store)',
    });
  }
  if (config.daemon.trackToken && !config.daemon.serverKey) {
    logger.warn(
      'daemon.trackToken is read as daemon.serverKey: it can identify contacts and change consent; rename it serverKey, and give browsers a separate daemon.writeKey (docs/deploy.md)',
    );
  }
  let services: DaemonServices;
  try {
    services = await createServices({ config, loaded, store, clock: systemClock, logger });
  } catch (err) {
    store.close();
    throw err;
  }
  let daemon: RunningDaemon;
  const host = options.host ?? config.daemon.host;
  const port = options.port ?? config.daemon.port;
  try {
    daemon = await startDaemon({
      services,
      logger,
      clock: systemClock,
      host,
      port,
      ...(config.daemon.writeKey ? { writeKey: config.daemon.writeKey } : {}),
      ...((config.daemon.serverKey ?? config.daemon.trackToken) ? { serverKey: (config.daemon.serverKey ?? config.daemon.trackToken)! } : {}),
      insecureNoToken: options.insecureNoToken ?? false,
      ...(config.daemon.publicUrl ? { publicUrl: config.daemon.publicUrl } : {}),
      pullIntervalMs: config.daemon.pullIntervalSeconds * 1000,
      reconcileIntervalMs: config.reconcile.everyMinutes * 60_000,
      corsOrigins: config.daemon.cors.origins,
      fields: config.fields,
    });
  } catch (err) {
    await services.close();
    throw listenError(err, host, port) ?? err;
  }
  if (options.handleSignals ?? true) exitOnSignals(daemon, { logger, timeoutMs: (options.shutdownTimeout ?? 10) * 1000 });
  return daemon;
}

/** The error a user can act on when the daemon cannot listen at `host:port`, or undefined for other failures. */
export function listenError(err: unknown, host: string, port: number): ConfigError | undefined {
  const code = (err as { code?: unknown }).code;
  const where = `--port, --host, or daemon.port and daemon.host in segsync.yaml`;
  if (code === 'EADDRINUSE')
    return new ConfigError(`cannot listen on ${host}:${port}: the port is in use`, {
      cause: err,
      hint: `another segsync daemon or another program has it: stop that one, or choose another port (${where})`,
    });
  if (code === 'EACCES')
    return new ConfigError(`cannot listen on ${host}:${port}: not allowed`, {
      cause: err,
      hint: `ports below 1024 need privileges: choose a port from 1024 up (${where})`,
    });
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new ConfigError(`cannot listen on ${host}:${port}: this machine has no such address`, {
      cause: err,
      hint: `use 127.0.0.1, 0.0.0.0 or one of this machine's addresses (${where})`,
    });
  return undefined;
}

/** Registers `segsync daemon`, running on the services `createServices` builds (src/daemon/wire.ts). */
export function register(program: Command, createServices: ServicesFactory): void {
  program
    .command('daemon')
    .description('run segsync as a service: ESP webhooks, the track API, health checks, metrics, scheduled pulls and pushes')
    .option('--host <host>', 'address to listen on (default: daemon.host from the config, 127.0.0.1)')
    .option('--port <n>', 'port to listen on (default: daemon.port from the config, 8787)', numberOption('--port', { integer: true, min: 0, max: 65_535 }))
    .option('--insecure-no-token', 'serve the track API without a token (only allowed on a loopback address)')
    .option(
      '--shutdown-timeout <seconds>',
      'most time a graceful stop may take before exiting with 1',
      numberOption('--shutdown-timeout', { positive: true }),
      10,
    )
    .addHelpText(
      'after',
      `
Routes:   POST /webhooks/hubspot|mailchimp|klaviyo (GET /webhooks/mailchimp for Mailchimp's URL check)
          POST /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias, /v1/batch (Segment-compatible,
               gzip bodies; Authorization: Bearer or Basic <daemon.writeKey or daemon.serverKey>; docs/intake.md)
          OPTIONS /v1/* (CORS preflight for daemon.cors.origins; browsers use the write key only)
          GET /healthz, /readyz, /metrics (Prometheus)
Signals:  SIGTERM/SIGINT stop intake, finish in-flight requests and pushes, then exit 0 (1 after --shutdown-timeout).
See docs/deploy.md for a systemd unit, environment variables, backups and upgrades.`,
    )
    .action(async (opts: { host?: string; port?: number; insecureNoToken?: boolean; shutdownTimeout: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const daemon = await runDaemonCommand(
        {
          ...opts,
          config: g.config,
          ...(g.store ? { store: g.store } : {}),
          ...(g.logLevel ? { logLevel: g.logLevel } : {}),
          ...(g.logFormat ? { logFormat: g.logFormat } : {}),
        },
        createServices,
      );
      process.stdout.write(`segsync daemon listening on ${daemon.url}\n`);
    });
}
