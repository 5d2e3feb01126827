/**
 * Klaviyo push/pull benchmark against the local sandbox with Klaviyo's real rate limits:
 * 10,000 changed profiles (properties + tags) pushed through bulk import jobs, with and without
 * tag lists, then pulled back. Prints calls made per endpoint bucket, elapsed time and the lower
 * bound the published rate limits put on those calls (and on the one-call-per-profile alternative).
 */
import type { ContactChange, RateWindow } from '../connectors/connector';
import { createKlaviyoConnector } from '../connectors/klaviyo';
import { KLAVIYO_ENDPOINT_LIMITS } from '../connectors/klaviyo/limits';
import { startKlaviyoSandbox } from '../connectors/klaviyo/sandbox';
import { minimumDurationMs } from '../connectors/ratelimit';
import { systemClock } from '../src/model/clock';
import { machineLine, peakRssMiB, seededRandom } from './machine';

const PROFILES = 10_000;
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function windowsOf(bucket: keyof typeof KLAVIYO_ENDPOINT_LIMITS): RateWindow[] {
  const [perSecond, perMinute] = KLAVIYO_ENDPOINT_LIMITS[bucket];
  return [
    { limit: perSecond, windowMs: 1_000, kind: 'fixed' },
    { limit: perMinute, windowMs: 60_000, kind: 'fixed' },
  ];
}

/** The rate-limit lower bound of a set of calls per bucket: buckets run in parallel, so the slowest. */
function boundMs(calls: Record<string, number>): number {
  return Math.max(0, ...Object.entries(calls).map(([bucket, n]) => minimumDurationMs(n, windowsOf(bucket as keyof typeof KLAVIYO_ENDPOINT_LIMITS))));
}

function changes(seed: number): ContactChange[] {
  const random = seededRandom(seed);
  const tags = ['vip', 'beta', 'churn-risk', 'newsletter', 'repeat-buyer'];
  return Array.from({ length: PROFILES }, (_, i) => ({
    ref: { email: `bench${i}@example.com` },
    set: { first_name: `Bench ${i}`, plan: random() < 0.3 ? 'pro' : 'free', score: Math.floor(random() * 100) },
    clear: [],
    addTags: tags.filter(() => random() < 0.3),
    removeTags: [],
  }));
}

async function scenario(name: string, tagLists: boolean): Promise<void> {
  const sandbox = await startKlaviyoSandbox({ jobDurationMs: 1_000 });
  try {
    const connector = createKlaviyoConnector(
      { apiKey: 'pk_bench', baseUrl: sandbox.url, tagLists, jobPollIntervalMs: 1_000 },
      { clock: systemClock, logger: quiet },
    );
    if (tagLists) await connector.ensureSchema([], ['vip', 'beta', 'churn-risk', 'newsletter', 'repeat-buyer']);
    const before = connector.client.limiter.stats().calls;
    const started = performance.now();
    const results = await connector.push(changes(42));
    const pushMs = performance.now() - started;
    const after = connector.client.limiter.stats().calls;
    const pushCalls: Record<string, number> = {};
    for (const [bucket, n] of Object.entries(after)) if (n > (before[bucket] ?? 0)) pushCalls[bucket] = n - (before[bucket] ?? 0);
    const ok = results.filter((r) => r.status === 'ok').length;
    const total = Object.values(pushCalls).reduce((a, b) => a + b, 0);
    console.log(`${name}: pushed ${ok}/${PROFILES} ok in ${(pushMs / 1000).toFixed(2)} s with ${total} calls ${JSON.stringify(pushCalls)}`);
    console.log(`  rate-limit lower bound for these calls: ${(boundMs(pushCalls) / 1000).toFixed(2)} s (the sandbox's bulk job takes 1 s; polls every 1 s)`);

    const pullStart = performance.now();
    const statsBefore = connector.client.limiter.stats().calls['profiles'] ?? 0;
    let pulled = 0;
    for await (const page of connector.pull({ cursor: undefined, until: new Date(Date.now() + 60_000), fields: ['first_name', 'plan', 'score'] }))
      pulled += page.contacts.length;
    const pullMs = performance.now() - pullStart;
    const pullCalls = (connector.client.limiter.stats().calls['profiles'] ?? 0) - statsBefore;
    console.log(
      `  pulled ${pulled} profiles in ${(pullMs / 1000).toFixed(2)} s with ${pullCalls} calls; rate-limit bound ${(minimumDurationMs(pullCalls, windowsOf('profiles')) / 1000).toFixed(2)} s`,
    );
  } finally {
    await sandbox.close();
  }
}

/** Runs the Klaviyo benchmark and prints its figures. */
export async function run(): Promise<void> {
  console.log(`klaviyo: ${PROFILES} changed profiles against the sandbox (Klaviyo's published per-endpoint limits enforced on both sides)`);
  console.log(machineLine());
  await scenario('bulk import, tags as a list property', false);
  await scenario('bulk import, tags also as static lists', true);
  console.log(
    `for comparison, one profile-import call per profile: ${PROFILES} calls, rate-limit bound ${(minimumDurationMs(PROFILES, windowsOf('profiles')) / 60_000).toFixed(1)} min (75/s · 750/min)`,
  );
  console.log(`peak RSS ${peakRssMiB().toFixed(0)} MiB`);
}

if (require.main === module) {
  run().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
