import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { ManualClock } from '../../../src/model/clock';
import type { EspName } from '../../../src/model/types';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { SyncEngine } from '../../../src/sync/engine';
import { MemoryEsp } from '../../support/memory-esp';

const CONFIG = `version: 1
fields:
  first_name: { type: string, conflict: latest }
  plan: { type: string }
  city: { type: string, owner: mailchimp }
connectors:
  hubspot: { accessToken: "\${T}" }
  mailchimp: { apiKey: "\${T}", listId: L1 }
  klaviyo: { apiKey: "\${T}" }
mappings:
  hubspot: [{ local: first_name, remote: firstname }, { local: plan, remote: plan }, { local: city, remote: city }]
  mailchimp: [{ local: first_name, remote: FNAME }, { local: plan, remote: PLAN }, { local: city, remote: CITY }]
  klaviyo: [{ local: first_name, remote: first_name }, { local: plan, remote: plan, direction: out }, { local: city, remote: city }]
tags:
  owned: { prefix: "seg:" }
segments:
  cart_abandoner:
    rule: 'true'
    push: [{ esp: hubspot, name: "seg:cart" }, { esp: mailchimp, name: "seg:cart" }, { esp: klaviyo, name: "seg:cart" }]
`;

const ESPS: EspName[] = ['hubspot', 'mailchimp', 'klaviyo'];

describe('SyncEngine', () => {
  let dir: string;
  let store: SqliteStore;
  let clock: ManualClock;
  let esps: Record<EspName, MemoryEsp>;
  let engine: SyncEngine;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-sync-'));
    clock = new ManualClock(Date.UTC(2026, 5, 1));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
    esps = { hubspot: new MemoryEsp('hubspot', clock), mailchimp: new MemoryEsp('mailchimp', clock, 500), klaviyo: new MemoryEsp('klaviyo', clock) };
    const { config } = parseConfig(CONFIG, 'segsync.yaml', { env: { T: 'secret' } });
    engine = new SyncEngine({ config, store, connectors: new Map(ESPS.map((e) => [e, esps[e]])), clock, logger: createLogger({ level: 'silent' }) });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function pushAll(): Promise<void> {
    engine.enqueueAll();
    for (const e of ESPS) await engine.drainAll(e);
  }
  function resetCalls(): void {
    for (const e of ESPS) esps[e].calls = 0;
  }
  function addContact(email: string, props: Record<string, string>, tags: string[] = []): number {
    return store.upsertContacts([{ email, properties: props, tags, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!.contactId;
  }
  function flag(contactId: number, on: boolean): void {
    store.saveEvaluation(contactId, [{ contactId, segment: 'cart_abandoner', value: on, since: clock.now() }], undefined);
  }

  it('pushes mapped fields and segment flags as tags to every ESP, then costs zero calls when nothing changed', async () => {
    const id = addContact('ada@x.com', { first_name: 'Ada', plan: 'pro' });
    flag(id, true);
    await pushAll();
    expect(esps.hubspot.byEmail('ada@x.com')).toMatchObject({ fields: { firstname: 'Ada', plan: 'pro' }, tags: new Set(['seg:cart']) });
    expect(esps.mailchimp.byEmail('ada@x.com')!.fields).toEqual({ FNAME: 'Ada', PLAN: 'pro' });
    expect(store.getContact(id)!.externalIds).toEqual({ hubspot: 'hubspot-1', mailchimp: 'mailchimp-1', klaviyo: 'klaviyo-1' });
    resetCalls();
    await pushAll();
    expect(ESPS.map((e) => esps[e].calls)).toEqual([0, 0, 0]);
    expect(store.counts().outbox).toEqual([]);
  });

  it('fans a change made in Mailchimp out to HubSpot and Klaviyo, and never back to Mailchimp', async () => {
    addContact('ada@x.com', { first_name: 'Ada' });
    await pushAll();
    await clock.advance(60_000);
    esps.mailchimp.edit('ada@x.com', { FNAME: 'Adeline' });
    resetCalls();
    const pulled = await engine.pull('mailchimp');
    expect(pulled).toMatchObject({ contacts: 1, changed: 1 });
    for (const e of ESPS) await engine.drainAll(e);
    expect(esps.hubspot.byEmail('ada@x.com')!.fields.firstname).toBe('Adeline');
    expect(esps.klaviyo.byEmail('ada@x.com')!.fields.first_name).toBe('Adeline');
    expect(esps.mailchimp.calls).toBe(0);
  });

  it('treats a value it pushed coming back as no change (echo guard): zero changes, zero calls', async () => {
    addContact('ada@x.com', { first_name: 'Ada', plan: 'pro' });
    await pushAll();
    resetCalls();
    for (const e of ESPS) expect(await engine.pull(e)).toMatchObject({ changed: 0, queued: 0 });
    for (const e of ESPS) await engine.drainAll(e);
    expect(ESPS.map((e) => esps[e].calls)).toEqual([0, 0, 0]);
  });

  it('resolves the same field changed on two ESPs by the newest change under `latest`, and records why', async () => {
    const id = addContact('ada@x.com', { first_name: 'Ada' });
    await pushAll();
    await clock.advance(1000);
    esps.hubspot.edit('ada@x.com', { firstname: 'Ada H' });
    await clock.advance(1000);
    esps.klaviyo.edit('ada@x.com', { first_name: 'Ada K' });
    await engine.pull('klaviyo');
    await engine.pull('hubspot');
    expect(store.getContact(id)!.properties.first_name).toMatchObject({ value: 'Ada K', source: 'klaviyo' });
    const decisions = store.decisionsFor(id, 'first_name');
    expect(decisions.at(-1)).toMatchObject({ winner: 'klaviyo', reason: expect.stringContaining('latest wins') });
    for (const e of ESPS) await engine.drainAll(e);
    expect(esps.hubspot.byEmail('ada@x.com')!.fields.firstname).toBe('Ada K');
    expect(esps.mailchimp.byEmail('ada@x.com')!.fields.FNAME).toBe('Ada K');
  });

  it("keeps the owner's value under the default policy and writes it back over the ESP's", async () => {
    const id = addContact('ada@x.com', { plan: 'pro', city: 'Berlin' });
    await pushAll();
    await clock.advance(1000);
    esps.hubspot.edit('ada@x.com', { plan: 'free', city: 'Paris' });
    await engine.pull('hubspot');
    expect(store.getContact(id)!.properties.plan!.value).toBe('pro');
    expect(store.getContact(id)!.properties.city!.value).toBe('Berlin');
    expect(store.decisionsFor(id, 'plan')[0]).toMatchObject({ winner: 'local', reason: expect.stringContaining('local owns this field') });
    await engine.drainAll('hubspot');
    expect(esps.hubspot.byEmail('ada@x.com')!.fields).toMatchObject({ plan: 'pro', city: 'Berlin' });
    esps.mailchimp.edit('ada@x.com', { CITY: 'Rome' });
    await engine.pull('mailchimp');
    expect(store.getContact(id)!.properties.city!.value).toBe('Rome');
  });

  it('removes the segment tag when the behaviour goes, and never removes a tag it does not own', async () => {
    const id = addContact('ada@x.com', { first_name: 'Ada' }, ['newsletter']);
    flag(id, true);
    await pushAll();
    await clock.advance(1000);
    esps.mailchimp.edit('ada@x.com', {}, ['seg:cart', 'newsletter', 'marketer-vip']);
    await engine.pull('mailchimp');
    flag(id, false);
    store.updateTags(id, [], ['newsletter'], 'local', clock.now());
    await pushAll();
    expect([...esps.mailchimp.byEmail('ada@x.com')!.tags].sort()).toEqual(['marketer-vip', 'newsletter']);
    expect([...esps.hubspot.byEmail('ada@x.com')!.tags].sort()).toEqual(['marketer-vip', 'newsletter']);
  });

  it('follows tags found only through tag memberships (Mailchimp-style), adding and removing', async () => {
    const id = addContact('ada@x.com', { first_name: 'Ada' }, ['newsletter']);
    await pushAll();
    esps.mailchimp.membershipTags = ['vip', 'newsletter'];
    esps.mailchimp.byEmail('ada@x.com')!.tags = new Set(['vip']);
    await engine.pull('mailchimp');
    expect([...store.getContact(id)!.tags].sort()).toEqual(['vip']);
    for (const e of ESPS) await engine.drainAll(e);
    expect([...esps.hubspot.byEmail('ada@x.com')!.tags].sort()).toEqual(['newsletter', 'vip']);
    expect(esps.mailchimp.calls).toBe(1);
  });

  it('sends 1,000 changed contacts of 10,000 in the fewest calls, then none on a second run', async () => {
    store.upsertContacts(
      Array.from({ length: 10_000 }, (_, i) => ({ email: `u${i}@x.com`, properties: { plan: 'free' }, source: 'local' as const, time: clock.now() })),
    );
    await pushAll();
    await clock.advance(1000);
    for (let i = 0; i < 10_000; i += 10) store.setProperty(i + 1, 'plan', { value: 'pro', updatedAt: clock.now(), source: 'local' });
    resetCalls();
    await pushAll();
    expect({ hubspot: esps.hubspot.calls, mailchimp: esps.mailchimp.calls, klaviyo: esps.klaviyo.calls }).toEqual({ hubspot: 10, mailchimp: 2, klaviyo: 10 });
    resetCalls();
    await pushAll();
    expect(ESPS.map((e) => esps[e].calls)).toEqual([0, 0, 0]);
  });

  it('dead-letters a contact the ESP refuses and delivers the rest of the batch', async () => {
    addContact('ok@x.com', { plan: 'pro' });
    addContact('bad@x.com', { plan: 'pro' });
    esps.hubspot.refuse.add('bad@x.com');
    engine.enqueueAll();
    const r = await engine.drainAll('hubspot');
    expect(r).toMatchObject({ ok: 1, failed: 1 });
    expect(esps.hubspot.byEmail('ok@x.com')).toBeDefined();
    expect(store.deadOutbox('hubspot', 10)[0]).toMatchObject({ key: 'plan', lastError: expect.stringContaining('invalid email domain') });
  });

  it('waits out rate limits and 5xx answers with backoff, without counting rate limits as failures', async () => {
    addContact('ada@x.com', { plan: 'pro' });
    esps.klaviyo.rateLimitFailures = 3;
    esps.klaviyo.transientFailures = 2;
    engine.enqueueAll();
    const run = engine.drainAll('klaviyo');
    for (let i = 0; i < 200 && esps.klaviyo.byEmail('ada@x.com') === undefined; i++) await clock.advance(1000);
    const r = await run;
    expect(r).toMatchObject({ ok: 1, rateLimited: 3, failed: 0 });
    expect(esps.klaviyo.calls).toBe(6);
    expect(store.counts().outbox.find((o) => o.esp === 'klaviyo')).toBeUndefined();
  });

  it('re-sends a batch whose answer was lost, converging without duplicates', async () => {
    addContact('ada@x.com', { plan: 'pro' });
    esps.hubspot.loseNextAnswer = true;
    engine.enqueueAll();
    const run = engine.drainAll('hubspot');
    for (let i = 0; i < 50 && store.counts().outbox.some((o) => o.esp === 'hubspot'); i++) await clock.advance(1000);
    await run;
    expect(esps.hubspot.records.size).toBe(1);
    expect(esps.hubspot.calls).toBe(2);
    expect(store.counts().outbox.find((o) => o.esp === 'hubspot')).toBeUndefined();
  });

  it('erases a contact locally and on every ESP', async () => {
    const id = addContact('gone@x.com', { plan: 'pro' });
    await pushAll();
    expect(engine.erase(id)).toBe(true);
    expect(store.getContact(id)).toBeUndefined();
    for (const e of ESPS) await engine.drainAll(e);
    // By its address and by its record id on each ESP (an email changed elsewhere still reaches it).
    for (const e of ESPS) expect(esps[e].erased).toEqual(['gone@x.com', expect.stringMatching(/^id:.+/)]);
    expect(esps.mailchimp.byEmail('gone@x.com')).toBeUndefined();
  });

  it('drops a queued change that went back to what the ESP holds', async () => {
    const id = addContact('ada@x.com', { plan: 'pro' });
    await pushAll();
    store.setProperty(id, 'plan', { value: 'free', updatedAt: clock.now(), source: 'local' });
    engine.enqueue([id]);
    store.setProperty(id, 'plan', { value: 'pro', updatedAt: clock.now(), source: 'local' });
    engine.enqueue([id]);
    expect(store.counts().outbox).toEqual([]);
  });

  it('still writes a change that went back when the ESP may hold the unconfirmed value (crash mid-call)', async () => {
    const id = addContact('ada@x.com', { plan: 'pro' });
    await pushAll();
    store.setProperty(id, 'plan', { value: 'free', updatedAt: clock.now(), source: 'local' });
    engine.enqueue([id]);
    // The call reaches HubSpot, which applies it, but no answer is recorded.
    esps.hubspot.loseNextAnswer = true;
    await engine.drain('hubspot');
    expect(esps.hubspot.byEmail('ada@x.com')?.fields.plan).toBe('free');
    store.setProperty(id, 'plan', { value: 'pro', updatedAt: clock.now(), source: 'local' });
    engine.enqueue([id]);
    expect(store.pendingOutbox('hubspot', id).map((o) => [o.key, o.op, o.value])).toEqual([['plan', 'set', 'pro']]);
    expect(store.pendingOutbox('mailchimp', id)).toEqual([]);
    for (let i = 0; i < 50 && store.pendingOutbox('hubspot', id).length; i++) {
      await clock.advance(60_000);
      await engine.drain('hubspot');
    }
    expect(esps.hubspot.byEmail('ada@x.com')?.fields.plan).toBe('pro');
  });

  it('plans a push without writing anything', async () => {
    const id = addContact('ada@x.com', { first_name: 'Ada', plan: 'pro' });
    flag(id, true);
    const plans = engine.plan();
    expect(plans.find((p) => p.esp === 'hubspot')).toMatchObject({
      contacts: 1,
      creates: 1,
      calls: 1,
      fields: { firstname: 1, plan: 1 },
      tagsAdded: { 'seg:cart': 1 },
    });
    expect(store.counts().outbox).toEqual([]);
    expect(esps.hubspot.calls).toBe(0);
  });

  it('ignores a replayed webhook delivery and our own writes coming back', async () => {
    const id = addContact('ada@x.com', { first_name: 'Ada' });
    await pushAll();
    const hsId = store.getContact(id)!.externalIds.hubspot!;
    const body = (eventId: string, name: string, fromSelf = false) =>
      Buffer.from(
        JSON.stringify([{ eventId, ref: { externalId: hsId }, kind: 'updated', fields: { firstname: name }, occurredAt: clock.now() + 5, fromSelf }]),
      );
    const req = (b: Buffer) => ({ method: 'POST', url: 'http://x/webhooks/hubspot', headers: {}, rawBody: b, receivedAt: clock.now() });
    expect(engine.webhook('hubspot', req(body('e1', 'Ada W')))).toMatchObject({ changes: 1, ignored: 0 });
    expect(engine.webhook('hubspot', req(body('e1', 'Ada W')))).toMatchObject({ changes: 0, ignored: 1 });
    expect(engine.webhook('hubspot', req(body('e2', 'Mine', true)))).toMatchObject({ ignored: 1 });
    expect(store.getContact(id)!.properties.first_name!.value).toBe('Ada W');
  });
});
