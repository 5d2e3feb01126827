/**
 * Benchmark: push 10,000 changed contacts through the HubSpot connector (real SDK) to the sandbox with
 * rate limits on, each moving a tag. Reports HTTP calls made against the minimum (per 100 contacts, a
 * read of the tag property and a batch update: a tag write replaces the whole value, so it reads it
 * first) and elapsed time against the rate-limit bound. The window is tightened but keeps HubSpot's shape (a rolling window, the same
 * window on both sides) so the run takes seconds instead of minutes; the output says which window.
 */
import { systemClock } from '../src/model/clock';
import type { ContactChange } from '../connectors/connector';
import { minimumDurationMs } from '../connectors/ratelimit';
import { createHubspotConnector } from '../connectors/hubspot';
import { startHubspotSandbox } from '../connectors/hubspot/sandbox';
import { machineLine } from './machine';

const CONTACTS = 10_000;
const BATCH = 100;
/** 10 calls per second: HubSpot's rate (100 per 10 s) in a window a tenth as long, so the 200 calls span 20 windows as 2,000 calls would on the real one. */
const WINDOW = { limit: 10, windowMs: 1_000 };

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const sandbox = await startHubspotSandbox({ rateLimits: { tenSecondly: WINDOW }, clock: systemClock });
  const connector = createHubspotConnector(
    { accessToken: sandbox.accessToken, baseUrl: sandbox.url, limits: { windows: { burst: WINDOW } } },
    { clock: systemClock, logger: silent },
  );
  try {
    await connector.ensureSchema(
      [
        { name: 'ltv', type: 'number' },
        { name: 'plan', type: 'enum', options: ['free', 'pro'] },
      ],
      ['vip', 'beta'],
    );
    const ids = sandbox.seed(
      Array.from({ length: CONTACTS }, (_, i) => ({ email: `bench${i}@example.com`, properties: { plan: 'free', segsync_tags: 'beta' } })),
    );
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
    const minimum = 2 * Math.ceil(CONTACTS / BATCH);
    const bound = minimumDurationMs(minimum, [WINDOW]);
    const ok = results.filter((r) => r.status === 'ok').length;
    const written = ids.filter((id) => sandbox.contact(id)?.properties.plan === 'pro').length;
    console.log(`== bench: hubspot push (${CONTACTS.toLocaleString('en')} changed contacts, rate limit on)`);
    console.log(machineLine());
    console.log(
      `  rate window (sandbox and connector): ${WINDOW.limit} calls per ${WINDOW.windowMs} ms, rolling (HubSpot: 100 per 10 s; tightened, same shape)`,
    );
    console.log(`  contacts pushed: ${CONTACTS} (ok ${ok}, written on the sandbox ${written})`);
    console.log(`  HTTP calls: ${calls} (minimum ${minimum}; ${rejected} answered 429)`);
    console.log(`  elapsed: ${elapsed.toFixed(0)} ms; rate-limit bound ${bound} ms; bound/elapsed ${((100 * bound) / elapsed).toFixed(1)} % (target ≥ 90 %)`);
    const real = { limit: 100, windowMs: 10_000 };
    console.log(
      `  on HubSpot's real window (100 per 10 s) these ${minimum} calls are bounded at ${minimumDurationMs(minimum, [real]) / 1000} s; 100,000 contacts (${minimum * 10} calls) at ${minimumDurationMs(minimum * 10, [real]) / 1000} s`,
    );
  } finally {
    await connector.close();
    await sandbox.close();
  }
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
