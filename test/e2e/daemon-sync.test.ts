import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubspotSandbox } from '../../connectors/hubspot/sandbox';
import type { HubspotSandbox } from '../../connectors/hubspot/sandbox';
import { startKlaviyoSandbox } from '../../connectors/klaviyo/sandbox';
import type { KlaviyoSandbox } from '../../connectors/klaviyo/sandbox';
import { startMailchimpSandbox } from '../../connectors/mailchimp/sandbox';
import type { MailchimpSandbox } from '../../connectors/mailchimp/sandbox';
import { loadConfigFile } from '../../src/config/load';
import { startDaemon } from '../../src/daemon/daemon';
import type { RunningDaemon } from '../../src/daemon/daemon';
import { createServices } from '../../src/daemon/wire';
import { createLogger } from '../../src/log/logger';
import { ShiftedClock } from '../../src/model/clock';
import { openStore } from '../../src/store/sqlite/sqlite-store';
import { freeLoopbackPort } from '../../src/daemon/free-port';
import { eventually } from '../support/wait';

const TOKEN = 'track-token-for-tests';
const HOUR = 3_600_000;

describe('daemon end to end: track API → rules → three sandboxes, and webhooks back', () => {
  const clock = new ShiftedClock(Date.UTC(2026, 10, 2, 9, 0));
  let dir: string;
  let hubspot: HubspotSandbox;
  let mailchimp: MailchimpSandbox;
  let klaviyo: KlaviyoSandbox;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-daemon-e2e-'));
    [hubspot, mailchimp, klaviyo] = await Promise.all([
      startHubspotSandbox({ accessToken: 'hs', rateLimits: false, clock }),
      startMailchimpSandbox({ apiKey: 'mc-us1', rateLimits: false, clock }),
      startKlaviyoSandbox({ apiKey: 'pk_e2e', rateLimits: false, clock, jobDurationMs: 0 }),
    ]);
    const port = await freeLoopbackPort();
    const configFile = join(dir, 'segsync.yaml');
    writeFileSync(
      configFile,
      `version: 1
store: { path: ${join(dir, 'segsync.db')} }
fields:
  first_name: { type: string, owner: mailchimp }
  plan: { type: string }
connectors:
  hubspot: { accessToken: "\${HS}", baseUrl: "${hubspot.url}", requestsPer10s: 10000 }
  mailchimp: { apiKey: "\${MC}", listId: ${mailchimp.listId}, baseUrl: "${mailchimp.url}", webhookSecret: "\${MC_HOOK}" }
  klaviyo: { apiKey: "\${KL}", baseUrl: "${klaviyo.url}", jobPollIntervalMs: 50 }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
tags:
  owned: { prefix: "seg:" }
segments:
  cart_abandoner:
    rule: |
      none_within("Placed Order", 24h, "Added to Cart")
        && !after("Placed Order", "Added to Cart")
    push:
      - { esp: mailchimp, name: "seg:cart-abandoner" }
      - { esp: hubspot }
      - { esp: klaviyo }
  pro_plan:
    rule: contact.plan == "pro"
    push:
      - { esp: hubspot }
daemon:
  port: ${port}
  trackToken: "\${TRACK}"
  publicUrl: "http://127.0.0.1:${port}"
`,
    );
    Object.assign(process.env, { HS: 'hs', MC: 'mc-us1', KL: 'pk_e2e', MC_HOOK: 'hook-secret', TRACK: TOKEN });
    const loaded = loadConfigFile(configFile);
    const logger = createLogger({ level: 'silent' });
    const store = openStore(loaded.config.store.path);
    const services = await createServices({ config: loaded.config, loaded, store, clock, logger });
    daemon = await startDaemon({
      services,
      logger,
      clock,
      port,
      trackToken: TOKEN,
      publicUrl: loaded.config.daemon.publicUrl!,
      pullIntervalMs: 3_600_000,
      reevaluateIntervalMs: 100,
    });
  }, 30_000);

  afterAll(async () => {
    await daemon?.stop();
    await Promise.all([hubspot?.close(), mailchimp?.close(), klaviyo?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function track(event: string, email: string): Promise<void> {
    const res = await fetch(`${daemon.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ event, email, timestamp: new Date(clock.now()).toISOString(), properties: { value: 40 } }),
    });
    expect(res.status).toBeLessThan(300);
  }
  const hsTags = (email: string): string[] => (hubspot.contact(email)?.properties.segsync_tags ?? '').split(';').filter(Boolean);
  const mcTags = (email: string): string[] => ((mailchimp.member(email)?.tags ?? []) as { name: string }[]).map((t) => t.name);
  const klTags = (email: string): string[] => (klaviyo.profileByEmail(email)?.properties.segsync_tags ?? []) as string[];

  it('tags a cart abandoner in all three ESPs exactly when 24 h pass, and untags after the order', async () => {
    const email = 'cart@example.com';
    await track('Added to Cart', email);
    clock.jump(23 * HOUR + 59 * 60_000);
    await new Promise((r) => setTimeout(r, 800));
    expect(hsTags(email)).not.toContain('cart_abandoner');
    expect(mcTags(email)).not.toContain('seg:cart-abandoner');

    clock.jump(60_000);
    await eventually(() => {
      expect(hsTags(email)).toContain('cart_abandoner');
      expect(mcTags(email)).toContain('seg:cart-abandoner');
      expect(klTags(email)).toContain('cart_abandoner');
    });

    await track('Placed Order', email);
    await eventually(() => {
      expect(hsTags(email)).not.toContain('cart_abandoner');
      expect(mcTags(email)).not.toContain('seg:cart-abandoner');
      expect(klTags(email)).not.toContain('cart_abandoner');
    });
  }, 60_000);

  it('carries a Mailchimp profile change delivered by webhook to HubSpot and Klaviyo, with no echo back', async () => {
    const email = 'cart@example.com';
    const mcWritesBefore = Object.entries(mailchimp.stats().calls)
      .filter(([route]) => /^(POST|PUT|PATCH) /.test(route) && !/webhooks/.test(route))
      .reduce((n, [, c]) => n + c, 0);
    mailchimp.admin.update(email, { merges: { FNAME: 'Zed' } });
    await mailchimp.flushWebhooks();
    await eventually(() => {
      expect(hubspot.contact(email)?.properties.firstname).toBe('Zed');
      expect(klaviyo.profileByEmail(email)?.first_name).toBe('Zed');
    });
    await new Promise((r) => setTimeout(r, 500));
    const mcWritesAfter = Object.entries(mailchimp.stats().calls)
      .filter(([route]) => /^(POST|PUT|PATCH) /.test(route) && !/webhooks/.test(route))
      .reduce((n, [, c]) => n + c, 0);
    expect(mcWritesAfter - mcWritesBefore).toBe(0);
    expect(mailchimp.deliveries.length).toBeGreaterThan(0);
  }, 30_000);

  it('saves the rules state at a clean stop, and the next start reads it and finds every stored answer still right', async () => {
    // Read through a second connection that writes nothing the rules read (opening a store may note
    // which events it checked): the daemon still saves its state.
    const other = openStore(join(dir, 'segsync.db'));
    const answers = (st: typeof other): unknown => [...st.scanSegmentStates()].map(([id, segment, value]) => [id, segment, value]);
    const stored = answers(other);
    other.close();
    await daemon.stop();
    const loaded = loadConfigFile(join(dir, 'segsync.yaml'));
    const store = openStore(loaded.config.store.path);
    expect(store.db.prepare('SELECT COUNT(*) FROM rules_state').pluck().get()).toBeGreaterThan(0);
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination, format: 'json' });
    const services = await createServices({ config: loaded.config, loaded, store, clock, logger });
    daemon = await startDaemon({
      services,
      logger,
      clock,
      port: loaded.config.daemon.port,
      trackToken: TOKEN,
      publicUrl: loaded.config.daemon.publicUrl!,
      pullIntervalMs: 3_600_000,
      reevaluateIntervalMs: 100,
    });
    expect(lines.find((l) => l.msg === 'rules caches loaded')).toMatchObject({ eventSnapshot: true, savedState: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(answers(store)).toEqual(stored);
  }, 30_000);

  it('evaluates and pushes the events another process stores while it runs (an import)', async () => {
    const email = 'imported@example.com';
    const other = openStore(join(dir, 'segsync.db'));
    other.appendEvents([{ email, name: 'Added to Cart', time: clock.now(), properties: {}, source: 'import' }]);
    other.close();
    // The re-evaluation timer reads the rows it never heard of and learns when the flag is due.
    await new Promise((r) => setTimeout(r, 500));
    clock.jump(24 * HOUR);
    await eventually(() => {
      expect(hsTags(email)).toContain('cart_abandoner');
      expect(mcTags(email)).toContain('seg:cart-abandoner');
      expect(klTags(email)).toContain('cart_abandoner');
    });
  }, 30_000);

  it('evaluates and pushes the contacts another process changes while it runs (an import of contacts)', async () => {
    const email = 'upgraded@example.com';
    const other = openStore(join(dir, 'segsync.db'));
    const at = clock.now();
    other.upsertContacts([{ email, properties: { plan: 'pro' }, consent: 'subscribed', source: 'local', time: at }]);
    await eventually(() => expect(hsTags(email)).toContain('pro_plan'));
    const id = other.findContactByEmail(email)!.id;
    other.setProperty(id, 'plan', { value: 'free', updatedAt: at + 1, source: 'local' });
    other.close();
    await eventually(() => expect(hsTags(email)).not.toContain('pro_plan'));
  }, 30_000);

  it('pushes the fields and the opt-out another process imports while it runs, though no segment flips', async () => {
    const email = 'imported-fan@example.com';
    const other = openStore(join(dir, 'segsync.db'));
    other.upsertContacts([{ email, properties: { first_name: 'Ola' }, consent: 'subscribed', source: 'local', time: clock.now() }]);
    await eventually(() => {
      expect(hubspot.contact(email)?.properties.firstname).toBe('Ola');
      expect(mailchimp.member(email)?.merge_fields.FNAME).toBe('Ola');
      expect(klaviyo.profileByEmail(email)?.first_name).toBe('Ola');
    });
    // An unsubscribe list imported beside the running daemon: every ESP hears of it.
    other.upsertContacts([{ email, properties: {}, consent: 'unsubscribed', source: 'local', time: clock.now() + 1 }]);
    other.close();
    await eventually(() => {
      expect(hubspot.contact(email)?.properties.hs_email_optout).toBe('true');
      expect(mailchimp.member(email)?.status).toBe('unsubscribed');
      expect(klaviyo.profileByEmail(email)?.marketing.consent).toBe('UNSUBSCRIBED');
    });
  }, 30_000);
});
