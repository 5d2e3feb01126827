/**
 * `/v1/track` under load, loopback only and bounded: the real daemon (fastify, auth, validation,
 * metrics, scheduler running) on the real services (src/daemon/wire.ts: a fresh SQLite store, the
 * rules engine re-evaluating five segments — time windows, sequences, an exact sum — for every
 * touched contact), driven by a keep-alive HTTP client in a process of its own (bench/http-load.js,
 * undici), beside the HTTP ceiling: the same fastify on the same port answering a constant 200,
 * loaded by the same client in the same run (target: track ≥ 50 % of it). One event per request.
 * No ESP is configured, so nothing is pushed: push throughput is bench/sync's subject. Runs once per `store.durability` (normal, full), each beside
 * a reference measured in the same run on the same disk: bare better-sqlite3 commits of one event row
 * each with the same synchronous setting (the floor a durable acknowledgement costs). Prints events/s,
 * p50/p99 latency, events lost (answered 200 but not in the store), peak RSS and the machine.
 * Size: SEGSYNC_BENCH_TRACK_EVENTS (default 10,000 per setting), SEGSYNC_BENCH_TRACK_CONNECTIONS
 * (default 32), SEGSYNC_BENCH_TRACK_ROUNDS (default 5: the daemon and the ceiling take turns).
 * Then a real client's stream: RudderStack's Node SDK sending gzip batches (SEGSYNC_BENCH_TRACK_GZIP_EVENTS,
 * default 20,000, in batches of SEGSYNC_BENCH_TRACK_GZIP_BATCH, default 100).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import { loadConfigFile } from '../src/config/load';
import { startDaemon } from '../src/daemon/daemon';
import { createServices } from '../src/daemon/wire';
import { createLogger } from '../src/log/logger';
import { systemClock } from '../src/model/clock';
import type { Durability } from '../src/store/store';
import { SqliteStore } from '../src/store/sqlite/sqlite-store';
import { machineLine, peakRssMiB } from './machine';

const TOKEN = 'bench-token-0123456789abcdef';

const CONFIG = `version: 1
segments:
  cart_abandoner:
    rule: none_within("Placed Order", 24h, "Added to Cart") && !after("Placed Order", "Added to Cart")
  browse_abandoner:
    rule: count("Viewed Product", 48h) >= 3 && !exists("Added to Cart", 48h)
  repeat_buyer:
    rule: count("Placed Order", 180d) >= 2
  lifetime_value:
    type: value
    rule: sum("Placed Order", "value")
  vip:
    rule: segments.lifetime_value >= 1000.0
`;

interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  seconds: number;
  /** Latencies in ms, sorted. */
  latencies: number[];
}

const LOAD_CLIENT = join(__dirname, 'http-load.js');

/** `total` track calls from the load generator, a process of its own (bench/http-load.js). */
function runClient(url: string, total: number, connections: number, runId: string, first = 0): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = JSON.stringify({ url, token: TOKEN, total, first, connections, contacts: 5_000, run: runId });
    execFile(process.execPath, [LOAD_CLIENT, args], { maxBuffer: 256 * 2 ** 20, timeout: 600_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout) as LoadResult);
    });
  });
}

/**
 * The HTTP ceiling: the same fastify, on the same port, answering every track call with a constant
 * 200 (its JSON body parsed, nothing done with it), loaded by the same client: what the daemon would
 * reach if storing and evaluating cost nothing. `warmUp` first sends calls that are not counted.
 */
async function ceilingPhase(port: number, n: number, connections: number, warmUp: boolean): Promise<LoadResult> {
  const app = Fastify({ logger: false });
  app.post('/v1/track', async () => ({ ok: true, accepted: 1 }));
  await app.listen({ host: '127.0.0.1', port });
  try {
    if (warmUp) await runClient(`http://127.0.0.1:${port}`, Math.min(1_000, n), connections, 'ceiling-warmup');
    return await runClient(`http://127.0.0.1:${port}`, n, connections, 'ceiling');
  } finally {
    await app.close();
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface ModeResult {
  durability: Durability;
  rate: number;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
  lost: number;
  segments: string;
  reference: { rate: number; p99: number };
  ceiling: { rate: number; p50: number; p99: number };
}

/**
 * The reference: `n` transactions of one event row each, straight through better-sqlite3 on a fresh
 * store with the same durability (no HTTP, no rules): what a durable acknowledgement costs at least.
 */
function referenceCommits(dir: string, durability: Durability, n: number): { rate: number; p99: number } {
  const store = new SqliteStore({ path: join(dir, `reference-${durability}.db`), durability });
  try {
    const contact = store.resolveEmails(['ref@example.com']).get('ref@example.com')!;
    store.db.prepare("INSERT INTO event_names (name) VALUES ('Placed Order')").run();
    const insert = store.db.prepare("INSERT INTO events (event_id, contact_id, name_id, time, properties, source) VALUES (?, ?, 1, ?, ?, 'track')");
    const one = store.db.transaction((i: number) => insert.run(`ref-${i}`, contact, Date.UTC(2026, 4, 1) + i, '{"value":1.5}')).immediate;
    const latencies: number[] = [];
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      one(i);
      latencies.push(performance.now() - t);
    }
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((x, y) => x - y);
    return { rate: n / seconds, p99: percentile(latencies, 99) };
  } finally {
    store.close();
  }
}

/** One daemon phase: the real daemon on the store in `dir`, on `port` (0: any), loaded with `n` calls. */
async function daemonPhase(
  dir: string,
  durability: Durability,
  port: number,
  n: number,
  connections: number,
  runId: string,
  first = 0,
): Promise<{ load: LoadResult; port: number; stored: number; counts: StoreCounts }> {
  const configFile = join(dir, 'segsync.yaml');
  const loaded = loadConfigFile(configFile);
  const { config } = loaded;
  const store = new SqliteStore({ path: join(dir, 'segsync.db'), durability });
  const logger = createLogger({ level: 'warn' });
  const services = await createServices({ config, loaded, store, clock: systemClock, logger });
  const daemon = await startDaemon({ services, logger, host: '127.0.0.1', port, writeKey: TOKEN });
  try {
    const before = store.counts().events;
    const load = await runClient(daemon.url, n, connections, runId, first);
    const counts = store.counts();
    return { load, port: Number(new URL(daemon.url).port), stored: counts.events - before, counts };
  } finally {
    await daemon.stop();
  }
}

type StoreCounts = ReturnType<SqliteStore['counts']>;

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

/**
 * The daemon and the ceiling take turns, `rounds` times on the same port (after a warm-up of each),
 * so that load from other processes on a shared machine falls on both alike; rates are the medians
 * of the rounds, latencies are over all rounds.
 */
async function runMode(durability: Durability, total: number, connections: number, rounds: number): Promise<ModeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'segsync-bench-track-'));
  writeFileSync(join(dir, 'segsync.yaml'), CONFIG);
  try {
    // Warm-up: JIT, prepared statements, connections (not counted; its events are distinct).
    const warm = await daemonPhase(dir, durability, 0, Math.min(1_000, total), connections, 'warmup');
    const port = warm.port;
    const perRound = Math.ceil(total / rounds);
    const track = { rates: [] as number[], latencies: [] as number[], ok: 0, failed: 0, lost: 0 };
    const top = { rates: [] as number[], latencies: [] as number[] };
    let counts = warm.counts;
    for (let r = 0; r < rounds; r++) {
      // Round r sends calls r·perRound…: over the rounds, the same calls as one run of `total`.
      const d = await daemonPhase(dir, durability, port, perRound, connections, 'bench', r * perRound);
      track.rates.push(d.load.ok / d.load.seconds);
      track.latencies.push(...d.load.latencies);
      track.ok += d.load.ok;
      track.failed += d.load.failed;
      track.lost += d.load.ok - d.stored;
      counts = d.counts;
      const c = await ceilingPhase(port, perRound, connections, r === 0);
      top.rates.push(c.ok / c.seconds);
      top.latencies.push(...c.latencies);
    }
    track.latencies.sort((a, b) => a - b);
    top.latencies.sort((a, b) => a - b);
    return {
      durability,
      rate: median(track.rates),
      p50: percentile(track.latencies, 50),
      p99: percentile(track.latencies, 99),
      ok: track.ok,
      failed: track.failed,
      lost: track.lost,
      segments: `${counts.segments.map((x) => `${x.segment} ${x.members.toLocaleString('en')}`).join(', ') || 'none'} (members, of ${counts.contacts.toLocaleString('en')} contacts)`,
      reference: referenceCommits(dir, durability, Math.min(5_000, total)),
      ceiling: { rate: median(top.rates), p50: percentile(top.latencies, 50), p99: percentile(top.latencies, 99) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the track load test once per durability setting and prints the figures side by side. */
export async function run(): Promise<void> {
  const total = Number(process.env.SEGSYNC_BENCH_TRACK_EVENTS ?? 10_000);
  const connections = Number(process.env.SEGSYNC_BENCH_TRACK_CONNECTIONS ?? 32);
  const rounds = Number(process.env.SEGSYNC_BENCH_TRACK_ROUNDS ?? 5);
  const results: ModeResult[] = [];
  for (const durability of ['normal', 'full'] as const) results.push(await runMode(durability, total, connections, rounds));
  console.log('== bench: daemon /v1/track (one event per request, loopback; SQLite writes and segment re-evaluation included), per store.durability');
  console.log(machineLine());
  console.log(
    `load: ${total.toLocaleString('en')} requests per setting over ${connections} keep-alive connections from a separate process (undici), in ${rounds} rounds`,
  );
  console.log(
    'ceiling: the same fastify on the same port answering a constant 200, same client, taking turns with the daemon round by round; rates are medians of the rounds',
  );
  console.log('reference: bare better-sqlite3, one event row per BEGIN IMMEDIATE … COMMIT, same synchronous setting, same run and disk');
  const fmt = (n: number): string => Math.round(n).toLocaleString('en');
  for (const m of results) {
    const share = m.rate / m.ceiling.rate;
    console.log(
      `  ${m.durability.padEnd(6)} track: ${fmt(m.rate)} events/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms (${fmt(m.ok)} answered 200, ${m.failed} failed)` +
        ` | ceiling: ${fmt(m.ceiling.rate)} requests/s, p99 ${m.ceiling.p99.toFixed(2)} ms | track is ${(share * 100).toFixed(1)} % of the ceiling (target ≥ 50 % ${share >= 0.5 ? 'OK' : 'MISSED'})`,
    );
    console.log(
      `         reference: ${fmt(m.reference.rate)} commits/s, p99 ${m.reference.p99.toFixed(3)} ms (track is ${(m.rate / m.reference.rate).toFixed(2)}× the bare commit rate)`,
    );
  }
  const [normal, full] = results as [ModeResult, ModeResult];
  console.log(
    `full vs normal: ${(full.rate / normal.rate).toFixed(2)}× the throughput, ${(full.p99 / normal.p99).toFixed(2)}× the p99 (group commit shares one fsync among concurrent calls)`,
  );
  console.log(`segments evaluated on intake (normal): ${normal.segments}`);
  const lost = results.reduce((n, m) => n + m.lost, 0);
  const failed = results.reduce((n, m) => n + m.failed, 0);
  console.log(`lost: ${lost} (answered 200 but not stored), failed: ${failed}   target 0 ${lost === 0 && failed === 0 ? 'OK' : 'MISSED'}`);
  console.log(`peak RSS: ${peakRssMiB().toFixed(0)} MiB (bench process: daemon, store and ceiling server; the load generator runs apart)`);
  await printGzipClientStream();
}

// --- A real client's gzip batch stream (issue 16) ------------------------------------------------

const SERVER_TOKEN = 'bench-server-0123456789abcdef';

/**
 * RudderStack's Node SDK, unmodified, in a worker thread: identifies `users` users (userId + email),
 * then streams `total` track calls by userId in gzip batches of `batch`, one request in flight at a
 * time, as one busy app server sends them.
 */
const GZIP_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const Rudder = require(workerData.sdk);
const { url, token, total, batch, users, run } = workerData;
// flushAt above the batch: every request is one of ours, and its callback says when it was answered.
const client = new Rudder(token, { dataPlaneUrl: url, flushAt: batch + 1, flushInterval: 3600000, logLevel: 'error', retryCount: 0 });
const names = ['Viewed Product', 'Added to Cart', 'Placed Order', 'Opened Email'];
let failed = 0, gzipBytes = 0, requests = 0;
const flush = () => new Promise((resolve) => client.flush((err, data) => {
  if (err) failed++; else if (data) { requests++; gzipBytes += data.length || 0; }
  resolve();
}));
(async () => {
  for (let u = 0; u < users; u++) {
    client.identify({ userId: 'u' + u, traits: { email: 'u' + u + '@example.com' } });
    if (u % batch === batch - 1) await flush();
  }
  await flush();
  requests = 0; gzipBytes = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < total; i += batch) {
    for (let j = i; j < Math.min(total, i + batch); j++) {
      client.track({ userId: 'u' + (j % users), event: names[j % names.length], messageId: run + '-' + j,
        properties: { product_id: 'P' + (j % 500), value: (j % 100) + 0.5 } });
    }
    await flush();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  parentPort.postMessage({ seconds, failed, gzipBytes, requests });
})();
`;

interface GzipStreamResult {
  total: number;
  batch: number;
  rate: number;
  requests: number;
  kbPerRequest: number;
  failed: number;
  lost: number;
}

/** The daemon (durability normal, same rules) fed by one real client's gzip batch stream. */
export async function runGzipClientStream(total: number, batch: number): Promise<GzipStreamResult> {
  const dir = mkdtempSync(join(tmpdir(), 'segsync-bench-gzip-'));
  const configFile = join(dir, 'segsync.yaml');
  writeFileSync(configFile, CONFIG);
  const loaded = loadConfigFile(configFile);
  const { config } = loaded;
  const store = new SqliteStore({ path: join(dir, 'segsync.db') });
  const logger = createLogger({ level: 'warn' });
  const services = await createServices({ config, loaded, store, clock: systemClock, logger });
  const daemon = await startDaemon({ services, logger, host: '127.0.0.1', port: 0, writeKey: TOKEN, serverKey: SERVER_TOKEN });
  try {
    const users = 2_000;
    const r = await new Promise<{ seconds: number; failed: number; gzipBytes: number; requests: number }>((resolve, reject) => {
      const worker = new Worker(GZIP_CLIENT, {
        eval: true,
        workerData: { sdk: require.resolve('@rudderstack/rudder-sdk-node'), url: daemon.url, token: SERVER_TOKEN, total, batch, users, run: 'gz' },
      });
      worker.once('message', (m: { seconds: number; failed: number; gzipBytes: number; requests: number }) => {
        resolve(m);
        void worker.terminate();
      });
      worker.once('error', reject);
    });
    const stored = store.counts().events;
    return {
      total,
      batch,
      rate: stored / r.seconds,
      requests: r.requests,
      kbPerRequest: r.gzipBytes / Math.max(1, r.requests) / 1024,
      failed: r.failed,
      lost: total - stored,
    };
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints the gzip client stream's figures. */
async function printGzipClientStream(): Promise<void> {
  const total = Number(process.env.SEGSYNC_BENCH_TRACK_GZIP_EVENTS ?? 20_000);
  const batch = Number(process.env.SEGSYNC_BENCH_TRACK_GZIP_BATCH ?? 100);
  const g = await runGzipClientStream(total, batch);
  const fmt = (n: number): string => Math.round(n).toLocaleString('en');
  console.log(
    `== bench: daemon /v1/batch fed by @rudderstack/rudder-sdk-node (gzip batches of ${batch}, one request in flight, track by userId of 2,000 identified users; durability normal)`,
  );
  console.log(
    `  gzip stream: ${fmt(g.rate)} events/s stored, ${fmt(g.requests)} requests of ${g.kbPerRequest.toFixed(1)} KB gzip each, ${g.failed} failed flushes, ${g.lost} events lost   target 0 ${g.lost === 0 && g.failed === 0 ? 'OK' : 'MISSED'}`,
  );
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
