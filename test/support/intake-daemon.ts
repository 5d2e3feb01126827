/**
 * The real daemon (bin/segsync.js) in a child process over a config written for the test, with the
 * ESPs pointed at a closed port: intake works, nothing drains, so the outbox stays exactly what
 * intake put there and can be compared with a recompute.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { signV3 } from '../../connectors/hubspot/webhooks';
import { signWebhook } from '../../connectors/klaviyo/webhooks';
import { freeLoopbackPort } from '../../src/daemon/free-port';
import { startDaemon } from '../../src/daemon/daemon';
import type { RunningDaemon } from '../../src/daemon/daemon';
import { createServices } from '../../src/daemon/wire';
import type { WiredServices } from '../../src/daemon/wire';
import { loadConfigFile } from '../../src/config/load';
import { createLogger } from '../../src/log/logger';
import type { Logger } from '../../src/log/logger';
import { systemClock } from '../../src/model/clock';
import { openStore } from '../../src/store/sqlite/sqlite-store';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store';

export const BIN = resolve(__dirname, '../../bin/segsync.js');
export const SERVER_KEY = 'server-key-0123456789abcdef';
export const WRITE_KEY = 'write-key-0123456789abcdef';
export const KLAVIYO_SECRET = 'klaviyo-webhook-secret';
export const HUBSPOT_SECRET = 'hubspot-client-secret';
export const MAILCHIMP_SECRET = 'mailchimp-webhook-secret';
/** Every secret the config refers to. */
export const SECRET_NAMES = ['HS_TOKEN', 'HS_SECRET', 'KL_KEY', 'KL_HOOK', 'MC_KEY', 'MC_HOOK', 'SERVER_KEY', 'WRITE_KEY'];

export interface DaemonSetup {
  dir: string;
  db: string;
  cfg: string;
  port: number;
  url: string;
  env: NodeJS.ProcessEnv;
}

/** Writes a config whose ESPs all point at `espUrl` (a closed port unless a sandbox is given). */
export async function writeDaemonConfig(
  dir: string,
  options: { espUrl?: string; hubspotUrl?: string; klaviyoUrl?: string; extra?: string; segments?: string; daemon?: string; fields?: string } = {},
): Promise<DaemonSetup> {
  const port = await freeLoopbackPort();
  const espUrl = options.espUrl ?? `http://127.0.0.1:${await freeLoopbackPort()}`;
  const db = join(dir, 'segsync.db');
  const cfg = join(dir, 'segsync.yaml');
  writeFileSync(
    cfg,
    `version: 1
store: { path: ${db} }
fields:
  plan: { type: string }
${options.fields ?? ''}
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: "${options.hubspotUrl ?? espUrl}", clientSecret: "\${HS_SECRET}" }
  mailchimp: { apiKey: "\${MC_KEY}", listId: L1, baseUrl: "${espUrl}", webhookSecret: "\${MC_HOOK}" }
  klaviyo: { apiKey: "\${KL_KEY}", baseUrl: "${options.klaviyoUrl ?? espUrl}", webhookSecret: "\${KL_HOOK}", jobPollIntervalMs: 50 }
mappings:
  hubspot: [{ local: plan, remote: segsync_plan }]
  klaviyo: [{ local: plan, remote: plan }]
segments:
  repeat_buyer:
    rule: count("Placed Order", 30d) >= 2
    push: [{ esp: hubspot }, { esp: klaviyo }]
  lifetime_value:
    type: value
    rule: sum("Placed Order", "value")
    push: [{ esp: klaviyo, as: property, name: lifetime_value }]
${options.segments ?? ''}
daemon: { port: ${port}, serverKey: "\${SERVER_KEY}", writeKey: "\${WRITE_KEY}", pullIntervalSeconds: 3600${options.daemon ? `, ${options.daemon}` : ''} }
${options.extra ?? ''}`,
  );
  const env = {
    ...process.env,
    HS_TOKEN: 'hs-token',
    KL_KEY: 'pk_test',
    KL_HOOK: KLAVIYO_SECRET,
    HS_SECRET: HUBSPOT_SECRET,
    MC_KEY: 'mc-key-us1',
    MC_HOOK: MAILCHIMP_SECRET,
    SERVER_KEY,
    WRITE_KEY,
    SEGSYNC_CONFIG: '',
    SEGSYNC_STORE: '',
    SEGSYNC_LOG_LEVEL: 'error',
  };
  return { dir, db, cfg, port, url: `http://127.0.0.1:${port}`, env };
}

export interface Child {
  proc: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts `segsync daemon` (or another command) as a child. */
export function startChild(setup: DaemonSetup, args: string[] = ['daemon'], children?: ChildProcess[]): Child {
  const proc = spawn(process.execPath, [BIN, '--config', setup.cfg, ...args], { env: setup.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children?.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout!.resume();
  return { proc, stderr: () => stderr, exited: new Promise((r) => proc.on('exit', (c) => r(c))) };
}

/** Waits until /healthz answers (or the child exits, or 15 s pass). */
export async function waitHealthy(setup: DaemonSetup, child: Child): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.proc.exitCode !== null) throw new Error(`the daemon exited with ${child.proc.exitCode}: ${child.stderr()}`);
    if (
      await fetch(`${setup.url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the daemon did not start: ${child.stderr()}`);
}

/** POSTs a body given as text (values too deep for JSON.stringify) to the track API with the server key. */
export function postRaw(setup: DaemonSetup, path: string, text: string): Promise<Response> {
  return fetch(`${setup.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` }, body: text });
}

/** POSTs JSON to the track API with a key (the server key unless told). */
export function postJson(setup: DaemonSetup, path: string, body: unknown, key = SERVER_KEY): Promise<Response> {
  return fetch(`${setup.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
}

/** One Klaviyo webhook item: a metric event of a profile, as Klaviyo's system webhooks send it. */
export function klaviyoItem(id: string, email: string, metric: string, properties: unknown, at = new Date()): object {
  return {
    topic: 'event:klaviyo.placed_order',
    external_id: id,
    payload: {
      data: {
        type: 'event',
        id,
        attributes: { datetime: at.toISOString(), event_properties: properties },
        relationships: { profile: { data: { type: 'profile', id: `P-${email}` } } },
      },
      included: [
        { type: 'profile', id: `P-${email}`, attributes: { email } },
        { type: 'metric', id: `M-${metric}`, attributes: { name: metric } },
      ],
    },
  };
}

/** POSTs a signed Klaviyo webhook delivery. */
export function postKlaviyo(setup: DaemonSetup, items: object[], bodyText?: string): Promise<Response> {
  const body = bodyText ?? JSON.stringify({ data: items, meta: { klaviyo_webhook_id: 'wh-1' } });
  const timestamp = String(Date.now());
  return fetch(`${setup.url}/webhooks/klaviyo`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'klaviyo-signature': signWebhook(KLAVIYO_SECRET, body, timestamp),
      'klaviyo-timestamp': timestamp,
      'klaviyo-webhook-id': 'wh-1',
    },
    body,
  });
}

/** POSTs a HubSpot webhook delivery signed with v3. */
export function postHubspot(setup: DaemonSetup, events: unknown[]): Promise<Response> {
  const body = JSON.stringify(events);
  const timestamp = String(Date.now());
  const url = `${setup.url}/webhooks/hubspot`;
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hubspot-signature-v3': signV3(HUBSPOT_SECRET, 'POST', url, body, timestamp),
      'x-hubspot-request-timestamp': timestamp,
    },
    body,
  });
}

/** POSTs a Mailchimp webhook delivery (form-encoded, the secret in the URL). */
export function postMailchimp(setup: DaemonSetup, form: string): Promise<Response> {
  return fetch(`${setup.url}/webhooks/mailchimp?secret=${MAILCHIMP_SECRET}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
}

/** The daemon on the real services in this process (faster to start than a child). */
export interface InProcess {
  setup: DaemonSetup;
  services: WiredServices;
  store: SqliteStore;
  daemon: RunningDaemon;
  post(path: string, body: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  ready(): Promise<{ status: number; body: { ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> } }>;
  close(): Promise<void>;
}

/** Starts the daemon over `setup` in this process, with the ESP secrets it names set in process.env. */
export async function startInProcess(
  setup: DaemonSetup,
  env: Record<string, string> = {},
  options: { reevaluateIntervalMs?: number; logger?: Logger } = {},
): Promise<InProcess> {
  const all = { ...setup.env, ...env } as Record<string, string>;
  const loaded = loadConfigFile(setup.cfg, { env: all });
  const { config } = loaded;
  const store = openStore(config.store.path);
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const services = await createServices({ config, loaded, store, clock: systemClock, logger });
  const daemon = await startDaemon({
    services,
    logger,
    host: '127.0.0.1',
    port: setup.port,
    serverKey: SERVER_KEY,
    writeKey: WRITE_KEY,
    corsOrigins: config.daemon.cors.origins,
    fields: config.fields,
    // Jobs run once at start (a pull per ESP), then rarely unless told: the tests call what they need.
    pullIntervalMs: 3_600_000,
    reevaluateIntervalMs: options.reevaluateIntervalMs ?? 3_600_000,
  });
  const post = async (path: string, body: unknown, key = SERVER_KEY): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await postJson(setup, path, body, key);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const ready = async (): Promise<Awaited<ReturnType<InProcess['ready']>>> => {
    const r = await fetch(`${setup.url}/readyz`);
    return { status: r.status, body: (await r.json()) as Awaited<ReturnType<InProcess['ready']>>['body'] };
  };
  return { setup, services, store, daemon, post, ready, close: () => daemon.stop() };
}
