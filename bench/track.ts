/**
 * `/v1/track` under load, loopback only and bounded: the real daemon (fastify, auth, validation,
 * metrics, scheduler running) on the real services (src/daemon/wire.ts: a fresh SQLite store, the
 * rules engine re-evaluating five segments — time windows, sequences, an exact sum — for every
 * touched contact), driven by a keep-alive HTTP client in a worker thread (so client and server do
 * not share one event loop). One event per request. No ESP is configured, so nothing is pushed:
 * push throughput is bench/sync's subject. Prints events/s, p50/p99 latency, events lost (answered
 * 200 but not in the store) and the machine.
 * Size: SEGSYNC_BENCH_TRACK_EVENTS (default 50,000), SEGSYNC_BENCH_TRACK_CONNECTIONS (default 32).
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

/** Runs the track load test and prints its figures. */
export async function run(): Promise<void> {
  const total = Number(process.env.SEGSYNC_BENCH_TRACK_EVENTS ?? 50_000);
  const connections = Number(process.env.SEGSYNC_BENCH_TRACK_CONNECTIONS ?? 32);
  const dir = mkdtempSync(join(tmpdir(), 'segsync-bench-track-'));
  const configFile = join(dir, 'segsync.yaml');
  writeFileSync(configFile, CONFIG);
  const { config } = loadConfigFile(configFile);
  const store = new SqliteStore({ path: join(dir, 'segsync.db') });
  const logger = createLogger({ level: 'warn' });
  const services = await createServices({ config, configFile, store, clock: systemClock, logger });
  const daemon = await startDaemon({ services, logger, host: '127.0.0.1', port: 0, trackToken: TOKEN });
  try {
    // Warm-up: JIT, prepared statements, connections (not counted; its events are distinct).
    await runClient(daemon.url, Math.min(2_000, total), connections, 'warmup');
    const before = store.counts().events;
    const r = await runClient(daemon.url, total, connections, 'bench');
    const counts = store.counts();
    const stored = counts.events - before;
    const rate = r.ok / r.seconds;
    const p50 = percentile(r.latencies, 50);
    const p99 = percentile(r.latencies, 99);
    const lost = r.ok - stored;
    console.log('== bench: daemon /v1/track (one event per request, loopback; SQLite writes and segment re-evaluation included)');
    console.log(machineLine());
    console.log(`load: ${total.toLocaleString('en')} requests over ${connections} keep-alive connections from a worker thread; ${r.ok.toLocaleString('en')} answered 200, ${r.failed} failed`);
    console.log(`throughput: ${Math.round(rate).toLocaleString('en')} events/s (${r.seconds.toFixed(2)} s)   target ≥ 5,000 events/s ${rate >= 5_000 ? 'OK' : 'MISSED'}`);
    console.log(`latency: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${(r.latencies.at(-1) ?? Number.NaN).toFixed(2)} ms   target p99 ≤ 20 ms ${p99 <= 20 ? 'OK' : 'MISSED'}`);
    console.log(`segments evaluated on intake: ${counts.segments.map((x) => `${x.segment} ${x.members.toLocaleString('en')}`).join(', ') || 'none'} (members, of ${counts.contacts.toLocaleString('en')} contacts)`);
    console.log(`lost: ${lost} (acknowledged ${r.ok.toLocaleString('en')}, stored ${stored.toLocaleString('en')})   target 0 ${lost === 0 && r.failed === 0 ? 'OK' : 'MISSED'}`);
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
