/**
 * A dry run predicts exactly the HTTP requests the push then makes, on the same state, against the
 * three sandboxes through the real SDKs: creates and updates, tags added and removed (also mirrored as
 * lists), consent given and withdrawn, below and above Klaviyo's bulk threshold and across HubSpot's
 * batch size. Each step is run as a user runs it: `segsync pull`, then `push --dry-run`, then `push`.
 */
import { parseConfig } from '../../../src/config/load';
import type { SegsyncConfig } from '../../../src/config/schema';
import type { EspName } from '../../../src/model/types';
import type { EspPlan } from '../../../src/sync/plan';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { SECRETS, harness, startSandboxes } from '../../support/sandboxes';

function config(s: Sandboxes): SegsyncConfig {
  const text = `version: 1
connectors:
  hubspot:
    accessToken: \${HS_TOKEN}
    baseUrl: ${s.hubspot.url}
    requestsPer10s: 10000
    subscriptionIds: ["1", "2"]
    tags: { property: segsync_tags, lists: true }
  mailchimp:
    apiKey: \${MC_KEY}
    listId: ${s.mailchimp.listId}
    baseUrl: ${s.mailchimp.url}
  klaviyo:
    apiKey: \${KL_KEY}
    baseUrl: ${s.klaviyo.url}
    jobPollIntervalMs: 150
    tags: { property: segsync_tags, lists: true }
fields:
  first_name: { type: string }
  city: { type: string }
mappings:
  hubspot: [{ local: first_name, remote: firstname }, { local: city, remote: city }]
  mailchimp: [{ local: first_name, remote: FNAME }, { local: city, remote: CITY }]
  klaviyo: [{ local: first_name, remote: first_name }, { local: city, remote: city }]
tags:
  owned: { prefix: "seg:" }
segments:
  vip:
    rule: 'true'
    push: [{ esp: hubspot, name: "seg:vip" }, { esp: mailchimp, name: "seg:vip" }, { esp: klaviyo, name: "seg:vip" }]
  cart:
    rule: 'true'
    push: [{ esp: hubspot, name: "seg:cart" }, { esp: mailchimp, name: "seg:cart" }, { esp: klaviyo, name: "seg:cart" }]
`;
  return parseConfig(text, 'segsync.yaml', { env: SECRETS }).config;
}

describe('push --dry-run predicts the real push', () => {
  let s: Sandboxes;
  let h: Harness;
  let now = Date.now();
  beforeAll(async () => {
    // Bulk jobs take a moment, as on Klaviyo, and are done by the connector's first status read.
    s = await startSandboxes({ klaviyoJobMs: 100 });
    h = harness(config(s));
  });
  afterAll(async () => {
    await h.close();
    await s.close();
  });

  const emails = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `shopper${from + i}@x.com`);
  function upsert(list: string[], properties: Record<string, string>, consent: 'subscribed' | 'unsubscribed' = 'subscribed'): number[] {
    now += 1000;
    return h.store.upsertContacts(list.map((email) => ({ email, properties, consent, source: 'local' as const, time: now }))).map((o) => o.contactId);
  }
  function flag(list: string[], segment: 'vip' | 'cart', on: boolean): void {
    for (const email of list) {
      const id = h.store.findContactByEmail(email)!.id;
      h.store.saveEvaluation(id, [{ contactId: id, segment, value: on, since: now }], undefined);
    }
  }

  /** `segsync pull`, then the dry run, then the push; returns the plans and what the push did, per ESP. */
  async function step(): Promise<{ esp: EspName; planned: number; requests: number; contacts: number; ok: number; failed: number }[]> {
    for (const esp of h.esps) await h.engine.pull(esp);
    for (const esp of h.esps) await h.engine.ensureSchema(esp);
    const plans = new Map<EspName, EspPlan>(h.engine.plan().map((p) => [p.esp, p]));
    h.engine.enqueueAll();
    const out = [];
    for (const esp of h.esps) {
      // Forced: removing a tag from many contacts is the point of a step here, not an accident.
      const r = await h.engine.drainAll(esp, { force: true });
      const plan = plans.get(esp)!;
      out.push({ esp, planned: plan.calls, requests: r.requests, contacts: plan.contacts, ok: r.ok, failed: r.failed });
    }
    return out;
  }
  const agree = (rows: Awaited<ReturnType<typeof step>>): void => {
    for (const row of rows) expect(row).toEqual({ ...row, planned: row.requests, ok: row.contacts, failed: 0 });
  };

  it('adopts each account before its first write, and says so in the plan', async () => {
    upsert(emails(0, 1), { first_name: 'First' });
    const [plan] = h.engine.plan().filter((p) => p.esp === 'hubspot');
    expect(plan!.readsAccountFirst).toBe(true);
    await step();
    upsert(emails(0, 1), { first_name: 'Again' });
    expect(h.engine.plan().map((p) => p.readsAccountFirst)).toEqual([false, false, false]);
    await step();
  });

  it('creates 30 contacts (below Klaviyo bulk threshold) with tags and consent', async () => {
    upsert(emails(1, 31), { first_name: 'Ann', city: 'Oslo' });
    flag(emails(1, 16), 'vip', true);
    const rows = await step();
    expect(rows.map((r) => r.contacts)).toEqual([30, 30, 30]);
    agree(rows);
  });

  it('updates fields and moves tags on known contacts', async () => {
    upsert(emails(1, 21), { first_name: 'Bea', city: 'Oslo' });
    flag(emails(1, 11), 'vip', false);
    flag(emails(11, 26), 'cart', true);
    agree(await step());
  });

  it('carries opt-outs, and creates a few new contacts in the same push', async () => {
    upsert(emails(3, 8), { first_name: 'Bea', city: 'Oslo' }, 'unsubscribed');
    upsert(emails(31, 36), { first_name: 'Cy' });
    flag(emails(31, 34), 'cart', true);
    agree(await step());
  });

  it('creates contacts already opted out: each unsubscribed where a new record could still be emailed', async () => {
    upsert(emails(40, 43), { first_name: 'Di' }, 'unsubscribed');
    agree(await step());
  });

  it('creates 150 contacts (Klaviyo bulk job, two HubSpot batches) with tags and consent', async () => {
    upsert(emails(100, 250), { first_name: 'Dee', city: 'Rome' });
    flag(emails(100, 180), 'vip', true);
    flag(emails(150, 250), 'cart', true);
    const rows = await step();
    expect(rows.map((r) => r.contacts)).toEqual([150, 150, 150]);
    agree(rows);
  });

  it('updates 120 known contacts in bulk, removing a tag from some', async () => {
    upsert(emails(100, 220), { first_name: 'Eve', city: 'Rome' });
    flag(emails(100, 140), 'vip', false);
    agree(await step());
  });

  it('plans zero calls when nothing changed, and the push makes none', async () => {
    const rows = await step();
    expect(rows.map((r) => [r.planned, r.requests])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  });
});
