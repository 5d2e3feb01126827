/**
 * Segment's analytics.js (@segment/analytics-next, its UMD build from node_modules, no CDN) in
 * headless Chromium on a local shop page, with its API host set to the daemon: a visitor browses
 * anonymously, adds to cart, then identifies. The anonymous events end up on the identified contact,
 * and a cart-abandoner rule sees them. The browser makes no request outside this machine.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import type { Browser } from 'playwright-core';
import { loadConfigFile } from '../../src/config/load';
import { SegmentEngine } from '../../src/rules/engine';
import { systemClock } from '../../src/model/clock';
import { launchChromium } from '../../src/preview/screenshots';
import { WRITE_KEY, startInProcess, writeDaemonConfig } from '../support/intake-daemon';
import type { InProcess } from '../support/intake-daemon';

const UMD = join(__dirname, '..', '..', 'node_modules', '@segment', 'analytics-next', 'dist', 'umd');

/** The shop: one page that loads analytics.js from this server and points it at the daemon. */
function shopPage(cdn: string, apiHost: string): string {
  const settings = {
    integrations: { 'Segment.io': { apiKey: WRITE_KEY, apiHost, protocol: 'http' } },
    plugins: [],
    remotePlugins: [],
    metrics: { sampleRate: 0 },
  };
  return `<!doctype html><html><head><title>Trail Shoe</title>
<script>window.analytics = { _cdn: ${JSON.stringify(cdn)} };</script>
<script src="/analytics-next/bundles/index.js"></script>
<script>
  window.ready = AnalyticsNext.AnalyticsBrowser.load(
    { writeKey: ${JSON.stringify(WRITE_KEY)}, cdnURL: ${JSON.stringify(cdn)}, cdnSettings: ${JSON.stringify(settings)} },
    { integrations: { 'Segment.io': { apiHost: ${JSON.stringify(apiHost)}, protocol: 'http' } }, retryQueue: false },
  ).then(([a]) => (window.shop = a));
</script></head><body><h1>Trail Shoe</h1></body></html>`;
}

/** Serves the shop page and analytics.js's own files (its lazily loaded bundles too). */
function startShop(page: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/' || path === '/shoes') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page());
      return;
    }
    const prefix = '/analytics-next/bundles/';
    const file = normalize(join(UMD, path.slice(prefix.length)));
    if (path.startsWith(prefix) && file.startsWith(UMD)) {
      try {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
      } catch {
        res.writeHead(404).end();
      }
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('analytics.js in a browser, pointed at the daemon', () => {
  let browser: Browser;
  let shop: Server;
  let r: InProcess;
  let dir: string;
  let pageHtml = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-browser-'));
    shop = await startShop(() => pageHtml);
    const origin = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
    const setup = await writeDaemonConfig(dir, {
      daemon: `cors: { origins: ["${origin}"] }`,
      segments: `  cart_abandoner:
    rule: none_within("Placed Order", 24h, "Added to Cart") && !after("Placed Order", "Added to Cart")
    push: [{ esp: klaviyo, as: property }]
  carted:
    rule: exists("Added to Cart", 1d)
    push: [{ esp: klaviyo, as: property }]`,
    });
    r = await startInProcess(setup);
    pageHtml = shopPage(origin, `127.0.0.1:${setup.port}/v1`);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await r?.close();
    await new Promise((resolve) => shop?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves the anonymous visit onto the contact at identify, where the cart-abandoner rule sees it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const outside: string[] = [];
    const errors: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith('http://127.0.0.1:')) outside.push(req.url());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`http://127.0.0.1:${(shop.address() as AddressInfo).port}/shoes?utm_source=newsletter&utm_campaign=spring`);
      await page.evaluate(() => (globalThis as unknown as { ready: Promise<unknown> }).ready);
      const anonymousId = await page.evaluate(async () => {
        const shopper = (
          globalThis as unknown as { shop: { page(): Promise<unknown>; track(e: string, p: object): Promise<unknown>; user(): { anonymousId(): string } } }
        ).shop;
        await shopper.page();
        await shopper.track('Viewed Product', { sku: 'TS-1', price: 89 });
        await shopper.track('Added to Cart', { sku: 'TS-1', price: 89 });
        return shopper.user().anonymousId();
      });
      // Three anonymous events are stored, on a profile, before the visitor says who they are.
      await waitFor(() => {
        const owner = r.store.identities.ownerOf({ kind: 'anonymousId', value: anonymousId });
        return owner?.profileId !== undefined && r.store.identities.profileEvents(owner.profileId).length === 3;
      });
      expect(r.store.counts().contacts).toBe(0);

      await page.evaluate(async () => {
        const shopper = (globalThis as unknown as { shop: { identify(id: string, traits: object): Promise<unknown> } }).shop;
        await shopper.identify('shopper-42', { email: 'Walker@Shop.example', first_name: 'Wal' });
      });
      await waitFor(() => r.store.findContactByEmail('walker@shop.example') !== undefined);
      const contact = r.store.findContactByEmail('walker@shop.example')!;
      const events = r.store.eventsOf(contact.id);
      expect(events.map((e) => e.name).sort()).toEqual(['Added to Cart', 'Viewed Page', 'Viewed Product']);
      expect(events.find((e) => e.name === 'Viewed Page')!.properties).toMatchObject({
        path: '/shoes',
        title: 'Trail Shoe',
        utm_source: 'newsletter',
        utm_campaign: 'spring',
      });
      expect(contact.properties.first_name!.value).toBe('Wal');
      expect(contact.consent).toBeUndefined();
      expect(r.store.identities.ownerOf({ kind: 'userId', value: 'shopper-42' })).toEqual({ contactId: contact.id });
      expect(r.store.identities.profileCounts()).toEqual({ profiles: 0, events: 0 });

      // Recomputed in the identify's transaction, and queued for the ESP.
      expect(r.store.getSegmentStates(contact.id).find((s) => s.segment === 'carted')?.value).toBe(true);
      expect(r.store.pendingOutbox('klaviyo', contact.id).map((o) => o.key)).toContain('carted');
      // The cart-abandoner rule sees the cart add: a day later with no order, the visitor is in.
      const rules = SegmentEngine.fromConfig(loadConfigFile(r.setup.cfg, { secrets: { connectors: false, daemon: false } }), r.store, systemClock);
      const later = rules.evaluateContact(contact.id, { now: Date.now() + 25 * 3_600_000, save: false })!;
      expect(later.states.find((s) => s.segment === 'cart_abandoner')?.value).toBe(true);

      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error("timed out waiting for the daemon to store the browser's calls");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
