/**
 * The daemon pushes segments from a complete picture. Klaviyo's events are pulled metric by metric: a
 * shopper's product views are stored before the cart add that followed them, and between the two the
 * shopper looks like a browse abandoner. Found by hand: the daemon's first start pushed such
 * transient tags to Mailchimp, and their removal then tripped the safety valve and left them there.
 * Here the second metric's request is held up 3 s (a slow answer, retried), long enough for several
 * drains: Mailchimp must never be asked to tag anyone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKlaviyoSandbox } from '../../../connectors/klaviyo/sandbox';
import type { KlaviyoSandbox } from '../../../connectors/klaviyo/sandbox';
import { startMailchimpSandbox } from '../../../connectors/mailchimp/sandbox';
import type { MailchimpSandbox } from '../../../connectors/mailchimp/sandbox';
import type { SandboxExchange } from '../../../connectors/connector';
import { loadConfigFile } from '../../../src/config/load';
import { startDaemon } from '../../../src/daemon/daemon';
import type { RunningDaemon } from '../../../src/daemon/daemon';
import { freeLoopbackPort } from '../../../src/daemon/free-port';
import { createServices } from '../../../src/daemon/wire';
import { createLogger } from '../../../src/log/logger';
import { systemClock } from '../../../src/model/clock';
import { openStore } from '../../../src/store/sqlite/sqlite-store';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { until } from '../../support/wait';

const HOUR = 3_600_000;
const SHOPPERS = ['ana@x.com', 'ben@x.com', 'cy@x.com', 'dee@x.com', 'eli@x.com'];

describe('daemon: segments pushed from a complete picture', () => {
  let dir: string;
  let klaviyo: KlaviyoSandbox;
  let mailchimp: MailchimpSandbox;
  let daemon: RunningDaemon | undefined;
  let store: SqliteStore | undefined;
  const tagWrites: SandboxExchange[] = [];
  let eventsServed = 0;
  /** The store's note of Klaviyo's events being read, as another process would see it while the second metric is asked for. */
  let noteDuringPull: string | undefined;
  const eventsPullNote = (): string | undefined => {
    const db = new Database(join(dir, 'segsync.db'), { readonly: true });
    try {
      return (db.prepare("SELECT value FROM store_meta WHERE key = 'events_pull:klaviyo'").pluck().get() as string | undefined) ?? undefined;
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-complete-picture-'));
    klaviyo = await startKlaviyoSandbox({
      apiKey: 'pk_picture',
      rateLimits: false,
      jobDurationMs: 0,
      onExchange: (x) => {
        // The first metric's events are served; the next request (the cart adds) answers 3 s late, once, with a 503 that is retried.
        if (x.method === 'GET' && x.path.startsWith('/api/events') && x.status === 200 && ++eventsServed === 1) {
          klaviyo.fail({ method: 'GET', pathPrefix: '/api/events', status: 503, delayMs: 3_000, times: 1 });
          noteDuringPull = eventsPullNote();
        }
      },
    });
    mailchimp = await startMailchimpSandbox({
      apiKey: 'mc-us1',
      rateLimits: false,
      onExchange: (x) => {
        // A tag given to members (creating the tag itself is the schema step's, and harmless).
        const body = x.requestBody as { members_to_add?: string[] } | undefined;
        if (x.method === 'POST' && /\/segments\/\d+$/.test(x.path.split('?')[0]!) && body?.members_to_add?.length) tagWrites.push(x);
      },
    });
    const now = Date.now();
    for (const email of SHOPPERS) {
      klaviyo.seedProfile({ email, consent: 'SUBSCRIBED' });
      for (const h of [4, 3, 2]) klaviyo.seedEvent({ email, metric: 'Viewed Product', time: now - h * HOUR });
    }
    for (const email of SHOPPERS) klaviyo.seedEvent({ email, metric: 'Added to Cart', time: now - HOUR });
  }, 30_000);

  afterAll(async () => {
    await daemon?.stop();
    store?.close();
    await Promise.all([klaviyo?.close(), mailchimp?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('tags no browse abandoner on Mailchimp while the cart adds that clear them are still being pulled', async () => {
    const port = await freeLoopbackPort();
    const configFile = join(dir, 'segsync.yaml');
    writeFileSync(
      configFile,
      `version: 1
store: { path: ${join(dir, 'segsync.db')} }
connectors:
  mailchimp: { apiKey: "\${MC}", listId: ${mailchimp.listId}, baseUrl: "${mailchimp.url}" }
  klaviyo: { apiKey: "\${KL}", baseUrl: "${klaviyo.url}", eventMetrics: ["Viewed Product", "Added to Cart"] }
tags:
  owned: { prefix: "seg:" }
segments:
  browse_abandoner:
    rule: count("Viewed Product", 48h) >= 3 && !exists("Added to Cart", 48h)
    push:
      - { esp: mailchimp, name: "seg:browse-abandoner" }
daemon:
  port: ${port}
  serverKey: "\${SERVER}"
`,
    );
    Object.assign(process.env, { MC: 'mc-us1', KL: 'pk_picture', SERVER: 'picture-server-key-0123456789abcdef' });
    const loaded = loadConfigFile(configFile);
    const logger = createLogger({ level: 'silent' });
    store = openStore(loaded.config.store.path);
    const services = await createServices({ config: loaded.config, loaded, store, clock: systemClock, logger });
    daemon = await startDaemon({
      services,
      logger,
      clock: systemClock,
      port,
      serverKey: 'picture-server-key-0123456789abcdef',
      pullIntervalMs: 3_600_000,
      reevaluateIntervalMs: 100,
    });

    // The pull has read both metrics, and whatever was queued has been sent (or dropped).
    const s = store;
    await until(
      () => s.counts().events === 4 * SHOPPERS.length && s.outboxCounts().every((o) => o.pending === 0),
      20_000,
      () => ({ events: s.counts().events, outbox: s.outboxCounts() }),
    );
    // Drains that would still come (every 250 ms to 5 s while idle) have had their chance.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(eventsServed).toBeGreaterThanOrEqual(2);
    // The pull noted itself in the store for a daemon in another process to see, and took the note back.
    expect([noteDuringPull, eventsPullNote()]).toEqual([String(process.pid), undefined]);
    expect(s.counts().segments.find((x) => x.segment === 'browse_abandoner')?.members ?? 0).toBe(0);
    expect(tagWrites.map((x) => x.requestBody)).toEqual([]);
    expect(SHOPPERS.filter((e) => mailchimp.member(e) !== undefined)).toEqual([]);
  }, 40_000);
});
