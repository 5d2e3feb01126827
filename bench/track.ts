/**
 * `/v1/track` under load, loopback only and bounded: the real daemon (fastify, auth, validation,
 * metrics, scheduler running) on the real services (src/daemon/wire.ts: a fresh SQLite store, the
 * rules engine re-evaluating five segments — time windows, sequences, an exact sum — for every
 * touched contact), driven by a keep-alive HTTP client in a worker thread (so client and server do
 * not share one event loop). One event per request. No ESP is configured, so nothing is pushed:
 * push throughput is bench/sync's subject. Runs once per `store.durability` (normal, full), each beside
 * a reference measured in the same run on the same disk: bare better-sqlite3 commits of one event row
 * each with the same synchronous setting (the floor a durable acknowledgement costs). Prints events/s,
 * p50/p99 latency, events lost (answered 200 but not in the store) and the machine.
 * Size: SEGSYNC_BENCH_TRACK_EVENTS (default 10,000 per setting), SEGSYNC_BENCH_TRACK_CONNECTIONS (default 32).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadConfigFile } from '../src/config/load';
import { startDaemon } from '../src/daemon/daemon';
import { createServices } from '../src/daemon/wire';
import { createLogger } from '../src/log/logger';
import { systemClock } from '../src/model/clock';
import type { Durability } from '../src/store/store';
import { SqliteStore } from '../src/store/sqlite/sqlite-store';
import { machineLine } from './machine';

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

// Plain CommonJS so the worker needs no TypeScript loader. A closed loop per connection: each sends
// its next request when the previous answer arrives, until the shared counter reaches the total.
const CLIENT = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const { url, token, total, connections, contacts } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const target = new URL(url + '/v1/track');
const names = ['Viewed Product', 'Added to Cart', 'Placed Order', 'Opened Email'];
const latencies = new Float64Array(total);
let next = 0, ok = 0, failed = 0;
function one(i) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ type: 'track', event: names[i % names.length], messageId: workerData.run + '-' + i,
      timestamp: new Date(Date.UTC(2026, 4, 1) + i * 1000).toISOString(),
      properties: { product_id: 'P' + (i % 500), value: (i % 100) + 0.5 },
      context: { traits: { email: 'user' + (i % contacts) + '@example.com' } } });
    const started = process.hrtime.bigint();
    const req = http.request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json',
      'content-length': Buffer.byteLength(body), authorization: 'Bearer ' + token } }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies[i] = Number(process.hrtime.bigint() - started) / 1e6;
        if (res.statusCode === 200) ok++; else failed++;
        resolve();
      });
    });
    req.on('error', () => { failed++; latencies[i] = NaN; resolve(); });
    req.end(body);
  });
}
async function lane() { while (next < total) await one(next++); }
(async () => {
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: connections }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  parentPort.postMessage({ sent: total, ok, failed, seconds, latencies: Array.from(latencies).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b) });
})();
`;

function runClient(url: string, total: number, connections: number, runId: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(CLIENT, { eval: true, workerData: { url, token: TOKEN, total, connections, contacts: 5_000, run: runId } });
    worker.once('message', (m: LoadResult) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
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
    const insert = store.db.prepare('INSERT INTO events (event_id, contact_id, name_id, time, properties, source) VALUES (?, ?, 1, ?, ?, \'track\')');
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

async function runMode(durability: Durability, total: number, connections: number): Promise<ModeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'segsync-bench-track-'));
  const configFile = join(dir, 'segsync.yaml');
  writeFileSync(configFile, CONFIG);
  const loaded = loadConfigFile(configFile);
  const { config } = loaded;
  const store = new SqliteStore({ path: join(dir, 'segsync.db'), durability });
  const logger = createLogger({ level: 'warn' });
  const services = await createServices({ config, loaded, store, clock: systemClock, logger });
  const daemon = await startDaemon({ services, logger, host: '127.0.0.1', port: 0, writeKey: TOKEN });
  try {
    // Warm-up: JIT, prepared statements, connections (not counted; its events are distinct).
    await runClient(daemon.url, Math.min(1_000, total), connections, 'warmup');
    const before = store.counts().events;
    const r = await runClient(daemon.url, total, connections, 'bench');
    const counts = store.counts();
    const stored = counts.events - before;
    return {
      durability,
      rate: r.ok / r.seconds,
      p50: percentile(r.latencies, 50),
      p99: percentile(r.latencies, 99),
      ok: r.ok,
      failed: r.failed,
      lost: r.ok - stored,
      segments: `${counts.segments.map((x) => `${x.segment} ${x.members.toLocaleString('en')}`).join(', ') || 'none'} (members, of ${counts.contacts.toLocaleString('en')} contacts)`,
      reference: referenceCommits(dir, durability, Math.min(5_000, total)),
    };
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the track load test once per durability setting and prints the figures side by side. */
export async function run(): Promise<void> {
  const total = Number(process.env.SEGSYNC_BENCH_TRACK_EVENTS ?? 10_000);
  const connections = Number(process.env.SEGSYNC_BENCH_TRACK_CONNECTIONS ?? 32);
  const results: ModeResult[] = [];
  for (const durability of ['normal', 'full'] as const) results.push(await runMode(durability, total, connections));
  console.log('== bench: daemon /v1/track (one event per request, loopback; SQLite writes and segment re-evaluation included), per store.durability');
  console.log(machineLine());
  console.log(`load: ${total.toLocaleString('en')} requests per setting over ${connections} keep-alive connections from a worker thread`);
  console.log(`reference: bare better-sqlite3, one event row per BEGIN IMMEDIATE … COMMIT, same synchronous setting, same run and disk`);
  const fmt = (n: number): string => Math.round(n).toLocaleString('en');
  for (const m of results) {
    console.log(
      `  ${m.durability.padEnd(6)} track: ${fmt(m.rate)} events/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms (${fmt(m.ok)} answered 200, ${m.failed} failed)` +
        ` | reference: ${fmt(m.reference.rate)} commits/s, p99 ${m.reference.p99.toFixed(3)} ms | track is ${(m.rate / m.reference.rate).toFixed(2)}× the reference rate`,
    );
  }
  const [normal, full] = results as [ModeResult, ModeResult];
  console.log(`full vs normal: ${(full.rate / normal.rate).toFixed(2)}× the throughput, ${(full.p99 / normal.p99).toFixed(2)}× the p99 (group commit shares one fsync among concurrent calls)`);
  console.log(`segments evaluated on intake (normal): ${normal.segments}`);
  const lost = results.reduce((n, m) => n + m.lost, 0);
  const failed = results.reduce((n, m) => n + m.failed, 0);
  console.log(`lost: ${lost} (answered 200 but not stored), failed: ${failed}   target 0 ${lost === 0 && failed === 0 ? 'OK' : 'MISSED'}`);
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
