/**
 * The long-running service: the HTTP server and the scheduler over one set of services, and the
 * orderly stop a SIGTERM asks for. A daemon keeps no state of its own: after a crash the next start
 * resumes from the store (pull cursors, outbox, wake-up times), because every job runs once at start.
 */
import type { FieldShape } from '../config/field-values';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/logger';
import { systemClock } from '../model/clock';
import type { Clock } from '../model/clock';
import { checkTokenPolicy } from './auth';
import { DaemonMetrics } from './metrics';
import { Scheduler } from './scheduler';
import type { NextWakeupSource } from './scheduler';
import { buildServer } from './server';
import type { DaemonServices } from './services';

export interface DaemonOptions {
  services: DaemonServices & Partial<NextWakeupSource>;
  logger: Logger;
  clock?: Clock;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Key that may only send events (safe in a browser). */
  writeKey?: string;
  /** Key for everything (identify, traits, consent, events). A key is required unless loopback and `insecureNoToken`. */
  serverKey?: string;
  /** The former single key: same as `serverKey`. */
  trackToken?: string;
  insecureNoToken?: boolean;
  /** Public base URL the ESPs call (webhook signatures cover it). */
  publicUrl?: string;
  /** Default 60 s. */
  pullIntervalMs?: number;
  /** Default 5 s. */
  reevaluateIntervalMs?: number;
  /** Between two reconciles of one ESP; default: never. */
  reconcileIntervalMs?: number;
  bodyLimitBytes?: number;
  maxBatchItems?: number;
  /** Browser origins allowed to call the track API (CORS, write key only). */
  corsOrigins?: readonly string[];
  /** segsync.yaml's declared fields: an identify trait that does not fit its field's type is left out. */
  fields?: Readonly<Record<string, FieldShape>>;
}

/** A started daemon. */
export interface RunningDaemon {
  /** Base URL it listens on, e.g. http://127.0.0.1:8787. */
  url: string;
  scheduler: Scheduler;
  metrics: DaemonMetrics;
  /** Stops intake (new requests get 503), finishes in-flight requests and runs, then closes the services. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the server and the scheduler. */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const { services, logger } = options;
  const clock = options.clock ?? systemClock;
  const host = options.host ?? '127.0.0.1';
  const serverKey = options.serverKey ?? options.trackToken;
  const keys = { ...(options.writeKey ? { writeKey: options.writeKey } : {}), ...(serverKey ? { serverKey } : {}) };
  checkTokenPolicy(host, keys, options.insecureNoToken ?? false);
  const metrics = new DaemonMetrics(services, clock);
  const scheduler = new Scheduler({
    services,
    clock,
    logger,
    metrics,
    pullIntervalMs: options.pullIntervalMs ?? 60_000,
    ...(options.reevaluateIntervalMs !== undefined ? { reevaluateIntervalMs: options.reevaluateIntervalMs } : {}),
    ...(options.reconcileIntervalMs !== undefined ? { reconcileIntervalMs: options.reconcileIntervalMs } : {}),
  });
  const app = buildServer({
    services,
    metrics,
    logger,
    clock,
    keys,
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
    ...(options.maxBatchItems ? { maxBatchItems: options.maxBatchItems } : {}),
    ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
    ...(options.fields ? { fields: options.fields } : {}),
    onWork: () => scheduler.notifyChange(),
  });
  await app.listen({ host, port: options.port ?? 8787 });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  scheduler.start();
  logger.info({ url, esps: services.esps, auth: keys.serverKey || keys.writeKey ? Object.keys(keys).join(', ') : 'none (loopback)' }, 'daemon started');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info('stopping: intake closed, finishing in-flight requests and jobs');
      services.stopReads?.();
      await Promise.all([app.close(), scheduler.stop()]);
      await services.close();
      logger.info('daemon stopped');
    })();
    return stopping;
  };
  return { url, scheduler, metrics, stop };
}

export interface SignalOptions {
  logger: Logger;
  /** Most time a graceful stop may take before the process exits with 1 (default 10 s). */
  timeoutMs?: number;
  /** Injected by tests; default `process.exit`. */
  exit?: (code: number) => void;
}

/**
 * On SIGTERM or SIGINT: a graceful stop, then exit 0; exit 1 when it fails or outlasts the bound.
 * A second signal exits at once. Returns a function that removes the handlers.
 */
export function exitOnSignals(daemon: Pick<RunningDaemon, 'stop'>, options: SignalOptions): () => void {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const exitNow = options.exit ?? ((code: number) => process.exit(code));
  let exited = false;
  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    exitNow(code);
  };
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      logger.warn({ signal }, 'second signal: exiting without finishing');
      exit(1);
      return;
    }
    received = signal;
    logger.info({ signal, timeoutMs }, 'signal received: shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown did not finish in time: exiting with in-flight work abandoned (it resumes from the store on the next start)');
      exit(1);
    }, timeoutMs);
    daemon.stop().then(
      () => {
        clearTimeout(timer);
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
