/**
 * Benchmark: push 10,000 changed contacts through the HubSpot connector (real SDK) to the sandbox with
 * rate limits on. Reports HTTP calls made against the minimum (ceil(n / 100)) and elapsed time against
 * the rate-limit bound. The window is tightened but keeps HubSpot's shape (a rolling window, the same
 * window on both sides) so the run takes seconds instead of minutes; the output says which window.
 */
import os from 'node:os';
import { systemClock } from '../src/model/clock';
import type { ContactChange } from '../connectors/connector';
import { minimumDurationMs } from '../connectors/ratelimit';
import { createHubspotConnector } from '../connectors/hubspot';
import { startHubspotSandbox } from '../connectors/hubspot/sandbox';

const CONTACTS = 10_000;
const BATCH = 100;
/** 10 calls per 200 ms: HubSpot's 100 per 10 s scaled 1:10 in calls and 1:50 in time, so 100 calls span 10 windows. */
const WINDOW = { limit: 10, windowMs: 200 };

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown cpu'} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${os.platform()} ${os.arch()}`;
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const sandbox = await startHubspotSandbox({ rateLimits: { tenSecondly: WINDOW }, clock: systemClock });
  const connector = createHubspotConnector(
    { accessToken: sandbox.accessToken, baseUrl: sandbox.url, limits: { windows: { burst: WINDOW } } },
    { clock: systemClock, logger: silent },
  );
  try {
    await connector.ensureSchema([{ name: 'ltv', type: 'number' }, { name: 'plan', type: 'enum', options: ['free', 'pro'] }], ['vip', 'beta']);
    const ids = sandbox.seed(Array.from({ length: CONTACTS }, (_, i) => ({ email: `bench${i}@example.com`, properties: { plan: 'free', segsync_tags: 'beta' } })));
    const changes: ContactChange[] = ids.map((id, i) => ({
      ref: { email: `bench${i}@example.com`, externalId: id, contactId: i },
      set: { ltv: i * 1.25, plan: 'pro' },
      clear: [],
      addTags: ['vip'],
      removeTags: [],
      remoteTags: ['beta'],
    }));
    const batches: ContactChange[][] = [];
    for (let i = 0; i < changes.length; i += BATCH) batches.push(changes.slice(i, i + BATCH));

    // Let the schema calls above leave the window so the timed run starts with a full window.
    await new Promise((resolve) => setTimeout(resolve, WINDOW.windowMs + 10));
    const before = sandbox.stats();
    const started = performance.now();
    const results = (await Promise.all(batches.map((b) => connector.push(b)))).flat();
    const elapsed = performance.now() - started;
    const after = sandbox.stats();

    const calls = Object.values(after.requests).reduce((a, b) => a + b, 0) - Object.values(before.requests).reduce((a, b) => a + b, 0);
    const rejected = Object.values(after.rejected).reduce((a, b) => a + b, 0) - Object.values(before.rejected).reduce((a, b) => a + b, 0);
    const minimum = Math.ceil(CONTACTS / BATCH);
    const bound = minimumDurationMs(minimum, [WINDOW]);
    const ok = results.filter((r) => r.status === 'ok').length;
    const written = ids.filter((id) => sandbox.contact(id)?.properties.plan === 'pro').length;
    console.log(`hubspot push benchmark — ${machine()}`);
    console.log(`  rate window (sandbox and connector): ${WINDOW.limit} calls per ${WINDOW.windowMs} ms, rolling (HubSpot: 100 per 10 s; tightened, same shape)`);
    console.log(`  contacts pushed: ${CONTACTS} (ok ${ok}, written on the sandbox ${written})`);
    console.log(`  HTTP calls: ${calls} (minimum ${minimum}; ${rejected} answered 429)`);
    console.log(`  elapsed: ${elapsed.toFixed(0)} ms; rate-limit bound ${bound} ms; bound/elapsed ${((100 * bound) / elapsed).toFixed(1)} % (target ≥ 90 %)`);
    console.log(`  projected on the real window: ${((minimumDurationMs(minimum, [{ limit: 100, windowMs: 10_000 }]) / 1000) * 1).toFixed(0)} s bound for ${minimum} calls; ${(minimumDurationMs(minimum * 10, [{ limit: 100, windowMs: 10_000 }]) / 1000).toFixed(0)} s for 100,000 contacts`);
  } finally {
    await connector.close();
    await sandbox.close();
  }
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
