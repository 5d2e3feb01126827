/**
 * Sync benchmark, end to end through the real connectors and SDKs against the local sandboxes:
 * 1. push throughput per ESP with the vendors' real rate limits on, against the least time those
 *    limits allow (target: at least 90 % of the bound);
 * 2. one contact's change-to-push latency (local write → diff → outbox → batch → ESP confirmed),
 *    reported as segsync's own overhead plus the ESP call (target p99 ≤ 50 ms plus the call).
 * Size: SEGSYNC_BENCH_SYNC_CONTACTS (default 40,000, i.e. 400 HubSpot calls: four ten-second windows, so
 * the last window's own run time weighs little against the bound).
 */
import type { Connector } from '../connectors/connector';
import { minimumDurationMs } from '../connectors/ratelimit';
import type { EspName } from '../src/model/types';
import { harness, sandboxConfig, startSandboxes } from '../test/support/sandboxes';
import { machineLine } from './machine';

const MAPPING = `fields:
  plan: { type: string }
mappings:
  hubspot: [{ local: plan, remote: segsync_plan }]
  mailchimp: [{ local: plan, remote: PLAN }]
  klaviyo: [{ local: plan, remote: plan }]
`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Wraps a connector's push to time the ESP call itself. */
function timePushes(connector: Connector, into: number[]): void {
  const push = connector.push.bind(connector);
  connector.push = async (batch) => {
    const t = performance.now();
    try {
      return await push(batch);
    } finally {
      into.push(performance.now() - t);
    }
  };
}

async function throughput(n: number): Promise<void> {
  const s = await startSandboxes({ limits: 'real' });
  // The client keeps HubSpot's free tier (100 per 10 s), as the sandbox does.
  const h = harness(sandboxConfig(s, MAPPING, 100));
  try {
    h.store.upsertContacts(Array.from({ length: n }, (_, i) => ({ email: `b${i}@example.com`, properties: { plan: 'free' }, source: 'local' as const })));
    for (const e of h.esps) await h.engine.ensureSchema(e);
    console.log(`push throughput, ${n.toLocaleString('en')} changed contacts, vendor limits on in sandbox and client:`);
    for (const esp of h.esps) {
      // Wait out the schema calls' share of the window so each ESP starts with a full budget.
      await new Promise((r) => setTimeout(r, esp === 'hubspot' ? 10_500 : 0));
      h.engine.enqueue(
        Array.from({ length: n }, (_, i) => i + 1),
        [esp],
      );
      const t = performance.now();
      const r = await h.engine.drainAll(esp);
      const ms = performance.now() - t;
      const c = h.engine.connector(esp);
      const windows = (c.limits.buckets.default ?? []).map((w) => c.limits.windows[w]!).filter(Boolean);
      const bound = minimumDurationMs(r.calls, windows);
      const minimal = Math.ceil(n / c.limits.maxBatch.upsert);
      const ratio =
        bound > 0 ? `${((bound / ms) * 100).toFixed(0)} % of the rate-limit bound (${(bound / 1000).toFixed(1)} s)` : 'no rate-limit bound at this size';
      console.log(
        `  ${esp.padEnd(9)} ${r.ok.toLocaleString('en')} ok in ${(ms / 1000).toFixed(2)} s = ${Math.round(r.ok / (ms / 1000)).toLocaleString('en')} contacts/s; push calls ${r.calls} (minimum ${minimal}); ${ratio}; ${r.rateLimited} rate-limited`,
      );
    }
  } finally {
    await h.close();
    await s.close();
  }
}

async function latency(samples: number): Promise<void> {
  const s = await startSandboxes({ limits: 'off' });
  const h = harness(sandboxConfig(s, MAPPING, 100_000));
  try {
    h.store.upsertContacts([{ email: 'one@example.com', properties: { plan: 'free' }, source: 'local' }]);
    await h.pushAll();
    console.log(`change-to-push latency, one contact, ${samples} changes per ESP (sandbox limits off):`);
    for (const esp of h.esps as EspName[]) {
      const calls: number[] = [];
      timePushes(h.engine.connector(esp), calls);
      const total: number[] = [];
      for (let i = 0; i < samples; i++) {
        const t = performance.now();
        h.store.setProperty(1, 'plan', { value: `plan-${esp}-${i}`, updatedAt: Date.now(), source: 'local' });
        h.engine.enqueue([1], [esp]);
        await h.engine.drain(esp);
        total.push(performance.now() - t);
      }
      const overhead = total.map((t, i) => t - (calls[i] ?? 0)).sort((a, b) => a - b);
      const call = [...calls].sort((a, b) => a - b);
      console.log(
        `  ${esp.padEnd(9)} segsync overhead p50 ${percentile(overhead, 50).toFixed(1)} ms, p99 ${percentile(overhead, 99).toFixed(1)} ms (target ≤ 50 ms); ESP call p50 ${percentile(call, 50).toFixed(1)} ms, p99 ${percentile(call, 99).toFixed(1)} ms`,
      );
    }
  } finally {
    await h.close();
    await s.close();
  }
}

/** Runs both parts and prints their figures. */
export async function run(): Promise<void> {
  console.log('== bench: sync (real connectors and SDKs → local sandboxes over HTTP)');
  console.log(machineLine());
  await throughput(Number(process.env.SEGSYNC_BENCH_SYNC_CONTACTS ?? 40_000));
  await latency(Number(process.env.SEGSYNC_BENCH_SYNC_SAMPLES ?? 200));
}
