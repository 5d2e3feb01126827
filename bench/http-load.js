// The load generator of bench/track.ts, run as a process of its own so that it never shares an event
// loop (or a V8 heap) with the server it measures. Plain CommonJS: no TypeScript loader needed.
// `node bench/http-load.js '{"url":…,"token":…,"total":…,"first":…,"connections":…,"contacts":…,"run":…}'`
// sends `total` Segment track calls (numbered from `first`, which picks each call's contact and
// event) over `connections` keep-alive connections, each a closed loop
// (the next request when the answer arrives), and prints one JSON line: sent, ok, failed, seconds
// and the latencies (ms, sorted). undici's Pool: the fastest HTTP/1.1 client node has, so the client
// is not what limits the ceiling.
'use strict';
const { Pool } = require('undici');

const { url, token, total, first = 0, connections, contacts, run } = JSON.parse(process.argv[2]);
const names = ['Viewed Product', 'Added to Cart', 'Placed Order', 'Opened Email'];
const pool = new Pool(url, { connections, pipelining: 1 });
const latencies = new Float64Array(total);
let next = 0;
let ok = 0;
let failed = 0;

function body(n) {
  const i = first + n;
  return JSON.stringify({
    type: 'track',
    event: names[i % names.length],
    messageId: `${run}-${i}`,
    timestamp: new Date(Date.UTC(2026, 4, 1) + i * 1000).toISOString(),
    properties: { product_id: `P${i % 500}`, value: (i % 100) + 0.5 },
    context: { traits: { email: `user${i % contacts}@example.com` } },
  });
}

async function one(i) {
  const started = process.hrtime.bigint();
  try {
    const res = await pool.request({
      path: '/v1/track',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body(i),
    });
    await res.body.dump();
    if (res.statusCode === 200) ok++;
    else failed++;
  } catch {
    failed++;
  }
  latencies[i] = Number(process.hrtime.bigint() - started) / 1e6;
}

async function lane() {
  while (next < total) await one(next++);
}

(async () => {
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: connections }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  process.stdout.write(`${JSON.stringify({ sent: total, ok, failed, seconds, latencies: Array.from(latencies).sort((a, b) => a - b) })}\n`);
})();
