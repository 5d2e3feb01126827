/**
 * Mailchimp push benchmark: 10,000 changed members against the sandbox with the 10-connection limit
 * on. Prints calls made against the minimum (ceil(n/500) for fields and for each tag) and elapsed time,
 * for one push of all changes and for pushes of 500 (the declared batch size), at 0 and 100 ms of
 * simulated latency per call. Run: `node bin/run-ts.js bench/mailchimp.ts`.
 */
import type { ContactChange } from '../connectors/connector';
import { createMailchimpConnector } from '../connectors/mailchimp';
import { startMailchimpSandbox } from '../connectors/mailchimp/sandbox';
import { systemClock } from '../src/model/clock';
import { machineLine } from './machine';

const N = 10_000;
const BATCH = 500;

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** The changes: every member gets fields and the tag `customer`; one in ten also `vip`. */
function changes(known: boolean): ContactChange[] {
  return Array.from({ length: N }, (_, i) => ({
    ref: { email: `member${i}@bench.example.com` },
    set: { plan: i % 2 ? 'pro' : 'free', score: i % 100, active: i % 3 === 0 },
    clear: [],
    addTags: known ? (i % 20 === 0 ? ['vip2'] : []) : ['customer', ...(i % 10 === 0 ? ['vip'] : [])],
    removeTags: known && i % 10 === 0 ? ['vip'] : [],
    localConsent: 'subscribed',
    ...(known ? { remoteConsent: 'subscribed' as const } : {}),
  }));
}

/** ceil(n/500) for the field writes plus, for each tag, ceil(max(adds, removes)/500). */
function minimumCalls(batch: ContactChange[]): number {
  const perTag = new Map<string, { add: number; remove: number }>();
  for (const c of batch) {
    for (const t of c.addTags) perTag.set(t, { add: (perTag.get(t)?.add ?? 0) + 1, remove: perTag.get(t)?.remove ?? 0 });
    for (const t of c.removeTags) perTag.set(t, { add: perTag.get(t)?.add ?? 0, remove: (perTag.get(t)?.remove ?? 0) + 1 });
  }
  let calls = Math.ceil(batch.length / BATCH);
  for (const { add, remove } of perTag.values()) calls += Math.ceil(Math.max(add, remove) / BATCH);
  return calls;
}

async function scenario(latencyMs: number, chunk: number): Promise<string[]> {
  const sandbox = await startMailchimpSandbox({ latencyMs, maxConnections: 10 });
  const connector = createMailchimpConnector(
    { apiKey: sandbox.apiKey, listId: sandbox.listId, baseUrl: sandbox.url, maxConnections: 10 },
    { clock: systemClock, logger: silent },
  );
  await connector.ensureSchema(
    [
      { name: 'plan', type: 'enum', options: ['free', 'pro'] },
      { name: 'score', type: 'number' },
      { name: 'active', type: 'boolean' },
    ],
    ['customer', 'vip', 'vip2'],
  );
  const lines: string[] = [];
  for (const [label, batch] of [
    ['new members (status unknown)', changes(false)],
    ['known members (fields + tag moves)', changes(true)],
  ] as const) {
    // The connector caches the audience's tags and fields; a first push pays for reading them once.
    sandbox.resetStats();
    const started = process.hrtime.bigint();
    let failed = 0;
    for (let i = 0; i < batch.length; i += chunk) {
      const results = await connector.push(batch.slice(i, i + chunk));
      failed += results.filter((r) => r.status !== 'ok').length;
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const stats = sandbox.stats();
    lines.push(
      `  ${label.padEnd(36)} push size ${String(chunk).padStart(5)}  latency ${String(latencyMs).padStart(3)} ms: ` +
        `${stats.requests} calls (minimum ${minimumCalls(batch)}), ${ms.toFixed(0)} ms, ` +
        `max in flight ${stats.maxInFlight}, 429s ${stats.rejected429}, failed ${failed}`,
    );
  }
  await connector.close();
  await sandbox.close();
  return lines;
}

/** Runs the benchmark and prints its figures and the machine. */
export async function run(): Promise<void> {
  console.log(`== bench: mailchimp push (${N.toLocaleString('en')} changed members, 10-connection limit on)`);
  console.log(machineLine());
  for (const latency of [0, 100]) {
    for (const chunk of [N, BATCH]) for (const line of await scenario(latency, chunk)) console.log(line);
  }
}

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
