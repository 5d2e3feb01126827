import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContactChange, EventPage, RemotePage } from '../../../connectors/connector';
import { EspBusyError } from '../../../src/errors';
import { systemClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { storeNotes } from '../../../src/sync/connector-notes';
import { startKlaviyoHarness, type KlaviyoHarness } from '../../support/klaviyo';

function change(email: string, extra: Partial<ContactChange> = {}): ContactChange {
  return { ref: { email }, set: {}, clear: [], addTags: [], removeTags: [], ...extra };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const later = (): Date => new Date(Date.now() + 60_000);

interface Receiver {
  url: string;
  received: { headers: Record<string, string>; body: Buffer }[];
  close(): Promise<void>;
}

/** A loopback HTTP endpoint that records webhook deliveries. */
async function startReceiver(): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body: Buffer.concat(chunks) });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/klaviyo`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('Klaviyo connector against the sandbox (real SDK, spec-checked exchanges)', () => {
  let h: KlaviyoHarness;
  beforeEach(async () => {
    h = await startKlaviyoHarness({ jobDurationMs: 30 });
  });
  afterEach(async () => {
    // Closed before the check: a failing check must not leave the sandbox open and Jest waiting.
    await h.close();
    expect(h.specProblems()).toEqual([]);
  });

  test('pushes 1,000 tagged profiles through one bulk job, pulls them back, then removes tags', async () => {
    const connector = h.connector();
    const batch = Array.from({ length: 1000 }, (_, i) =>
      change(`user${i}@example.com`, { set: { first_name: `User ${i}`, plan: i % 2 ? 'pro' : 'free' }, addTags: i % 3 === 0 ? ['vip', 'beta'] : ['beta'] }),
    );
    const results = await connector.push(batch);
    expect(results).toHaveLength(1000);
    expect(results.every((r, i) => r.status === 'ok' && r.ref.email === `user${i}@example.com`)).toBe(true);
    expect(h.sandbox.calls.get('POST /api/profile-bulk-import-jobs')).toBe(1);
    expect(h.sandbox.calls.get('POST /api/profile-import')).toBeUndefined();
    expect(h.sandbox.calls.get('GET /api/profile-bulk-import-jobs/:id')).toBeGreaterThanOrEqual(1);
    const sample = h.sandbox.profileByEmail('user3@example.com')!;
    expect(sample.first_name).toBe('User 3');
    expect(sample.properties).toEqual({ plan: 'pro', segsync_tags: ['vip', 'beta'] });

    const pages: RemotePage[] = await collect(connector.pull({ cursor: undefined, until: later(), fields: ['first_name', 'plan'] }));
    const contacts = pages.flatMap((p) => p.contacts);
    expect(contacts).toHaveLength(1000);
    const pulled = contacts.find((c) => c.email === 'user3@example.com')!;
    expect(pulled).toMatchObject({ externalId: sample.id, fields: { first_name: 'User 3', plan: 'pro' }, tags: ['vip', 'beta'], consent: 'non-marketing' });

    const removal = await connector.push([
      change('user3@example.com', { ref: { email: 'user3@example.com', externalId: sample.id }, removeTags: ['vip'], clear: ['plan'] }),
    ]);
    expect(removal[0]).toMatchObject({ status: 'ok', externalId: sample.id, created: false });
    expect(h.sandbox.profileByEmail('user3@example.com')!.properties).toEqual({ segsync_tags: ['beta'] });
    const patch = h.exchanges.find((x) => x.method === 'PATCH')!;
    expect(patch.requestBody).toEqual({
      data: {
        type: 'profile',
        id: sample.id,
        attributes: { email: 'user3@example.com', properties: { plan: null } },
        meta: { patch_properties: { unappend: { segsync_tags: ['vip'] } } },
      },
    });

    const next = pages[pages.length - 1]!.next;
    const again = await collect(connector.pull({ cursor: next, until: later(), fields: ['plan'] }));
    const changed = again.flatMap((p) => p.contacts);
    expect(changed.map((c) => c.email)).toEqual(['user3@example.com']);
    expect(changed[0]).toMatchObject({ fields: { plan: null }, tags: ['beta'] });
  });

  test('sends a standard attribute under its wire name (a field the SDK would drop never goes missing)', async () => {
    const connector = h.connector();
    await connector.push([
      change('ann@example.com', { set: { first_name: 'Ann', last_name: 'Lee', phone_number: '+14155550100', 'location.city': 'Lyon', score: 7 } }),
    ]);
    const p = h.sandbox.profileByEmail('ann@example.com')!;
    expect(p).toMatchObject({ first_name: 'Ann', last_name: 'Lee', phone_number: '+14155550100', location: { city: 'Lyon' }, properties: { score: 7 } });
  });

  test('resumes a pull without repeating or missing profiles that share one updated second', async () => {
    const connector = h.connector();
    await connector.push(Array.from({ length: 5 }, (_, i) => change(`p${i}@example.com`, { set: { n: i } })));
    const first = await collect(connector.pull({ cursor: undefined, until: later(), fields: ['n'] }));
    expect(first.flatMap((p) => p.contacts)).toHaveLength(5);
    const cursor = first[first.length - 1]!.next;
    const nothing = await collect(connector.pull({ cursor, until: later(), fields: ['n'] }));
    expect(nothing.flatMap((p) => p.contacts)).toEqual([]);
    await connector.push([change('p5@example.com', { set: { n: 5 } })]);
    const more = await collect(connector.pull({ cursor, until: later(), fields: ['n'] }));
    expect(more.flatMap((p) => p.contacts).map((c) => c.email)).toEqual(['p5@example.com']);
  });

  test('pulls engagement events by metric with Klaviyo event ids as idempotency ids', async () => {
    const connector = h.connector();
    const t0 = Date.now() - 60_000;
    const opened = h.sandbox.seedEvent({ email: 'eve@example.com', metric: 'Opened Email', time: t0, properties: { subject: 'Hi' } });
    const order = h.sandbox.seedEvent({ email: 'eve@example.com', metric: 'Placed Order', time: t0 + 1000, properties: { value: 12.5 } });
    h.sandbox.seedEvent({ email: 'eve@example.com', metric: 'Some Custom Metric', time: t0 + 2000 });
    const pages: EventPage[] = await collect(connector.pullEvents!(undefined, new Date()));
    const events = pages.flatMap((p) => p.events);
    expect(events.map((e) => [e.eventId, e.name]).sort()).toEqual(
      [
        [opened.id, 'Opened Email'],
        [order.id, 'Placed Order'],
      ].sort(),
    );
    expect(events.find((e) => e.eventId === order.id)).toMatchObject({
      email: 'eve@example.com',
      time: t0 + 1000 - ((t0 + 1000) % 1000),
      properties: { value: 12.5 },
    });
    const cursor = pages[pages.length - 1]!.next;
    // A new event sent through the SDK (POST /api/events), as a store would track an order.
    await connector.client.events.createEvent({
      data: {
        type: 'event',
        attributes: {
          properties: { value: 99 },
          time: new Date(Date.now() - 1000),
          metric: { data: { type: 'metric', attributes: { name: 'Placed Order' } } },
          profile: { data: { type: 'profile', attributes: { email: 'eve@example.com' } } },
        },
      },
    } as never);
    const again = (await collect(connector.pullEvents!(cursor, new Date()))).flatMap((p) => p.events);
    expect(again.map((e) => [e.name, e.properties])).toEqual([['Placed Order', { value: 99 }]]);
  });

  test('erases a contact through a data-privacy deletion job', async () => {
    const connector = h.connector();
    await connector.push([change('gone@example.com', { set: { plan: 'x' } })]);
    h.sandbox.seedEvent({ email: 'gone@example.com', metric: 'Opened Email' });
    const result = await connector.erase({ email: 'gone@example.com' });
    expect(result.status).toBe('ok');
    expect(h.sandbox.profileByEmail('gone@example.com')).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(h.sandbox.profileByEmail('gone@example.com')).toBeUndefined();
    expect([...h.sandbox.state.events.values()]).toEqual([]);
    expect(h.exchanges.find((x) => x.path === '/api/data-privacy-deletion-jobs')!.requestBody).toEqual({
      data: { type: 'data-privacy-deletion-job', attributes: { profile: { data: { type: 'profile', attributes: { email: 'gone@example.com' } } } } },
    });
  });

  test('subscribes a never-subscribed profile whose local consent is subscribed', async () => {
    const connector = h.connector();
    await connector.push([change('new@example.com', { localConsent: 'subscribed' })]);
    expect(h.sandbox.profileByEmail('new@example.com')!.marketing.consent).toBe('SUBSCRIBED');
    expect(h.sandbox.state.consentJobs).toEqual([expect.objectContaining({ kind: 'subscribe', emails: ['new@example.com'] })]);
  });

  test('does not resubscribe an unsubscribed or suppressed profile', async () => {
    const connector = h.connector();
    h.sandbox.seedProfile({ email: 'out@example.com', consent: 'UNSUBSCRIBED', suppression: ['UNSUBSCRIBE'] });
    h.sandbox.seedProfile({ email: 'bounced@example.com', consent: 'NEVER_SUBSCRIBED', suppression: ['HARD_BOUNCE'] });
    const results = await connector.push([
      change('out@example.com', { set: { plan: 'pro' }, localConsent: 'subscribed' }),
      change('bounced@example.com', { set: { plan: 'pro' }, localConsent: 'subscribed' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(h.sandbox.state.consentJobs).toEqual([]);
    expect(h.sandbox.profileByEmail('out@example.com')!.marketing.consent).toBe('UNSUBSCRIBED');
  });

  test('checks consent before subscribing profiles written by a bulk job', async () => {
    const connector = h.connector({ bulkThreshold: 2 });
    h.sandbox.seedProfile({ email: 'out@example.com', consent: 'UNSUBSCRIBED' });
    await connector.push([change('out@example.com', { localConsent: 'subscribed' }), change('fresh@example.com', { localConsent: 'subscribed' })]);
    expect(h.sandbox.state.consentJobs).toEqual([expect.objectContaining({ kind: 'subscribe', emails: ['fresh@example.com'] })]);
  });

  test('carries an opt-out as a global unsubscribe to every profile Klaviyo may still email: subscribed or never subscribed, not one already out or suppressed', async () => {
    const connector = h.connector();
    h.sandbox.seedProfile({ email: 'sub@example.com', consent: 'SUBSCRIBED' });
    // Never subscribed and unsuppressed: Klaviyo's can_receive_email_marketing is true, campaigns reach it.
    h.sandbox.seedProfile({ email: 'quiet@example.com', consent: 'NEVER_SUBSCRIBED' });
    h.sandbox.seedProfile({ email: 'out@example.com', consent: 'UNSUBSCRIBED', suppression: ['UNSUBSCRIBE'] });
    h.sandbox.seedProfile({ email: 'bounced@example.com', consent: 'NEVER_SUBSCRIBED', suppression: ['HARD_BOUNCE'] });
    const optOut = { localConsent: 'unsubscribed' as const, optOut: { at: 1 } };
    const results = await connector.push(
      ['sub@example.com', 'quiet@example.com', 'never@example.com', 'out@example.com', 'bounced@example.com'].map((e) => change(e, optOut)),
    );
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // never@example.com is the profile this push created: never subscribed too.
    expect(h.sandbox.state.consentJobs).toEqual([
      { kind: 'unsubscribe', emails: ['sub@example.com', 'quiet@example.com', 'never@example.com'], at: expect.any(Number) },
    ]);
    for (const e of ['sub@example.com', 'quiet@example.com', 'never@example.com', 'out@example.com'])
      expect([e, h.sandbox.profileByEmail(e)!.marketing.consent]).toEqual([e, 'UNSUBSCRIBED']);
    expect(h.sandbox.profileByEmail('bounced@example.com')!.marketing.consent).toBe('NEVER_SUBSCRIBED');
  });

  test('leaves a subscription Klaviyo stamped after the opt-out (the person signed up again there before the push)', async () => {
    const connector = h.connector();
    const optedOutAt = Date.now() - 60_000;
    const back = h.sandbox.seedProfile({ email: 'back@example.com', consent: 'SUBSCRIBED' });
    back.marketing.consent_timestamp = new Date(optedOutAt + 30_000).toISOString();
    const before = h.sandbox.seedProfile({ email: 'before@example.com', consent: 'SUBSCRIBED' });
    before.marketing.consent_timestamp = new Date(optedOutAt - 86_400_000).toISOString();
    const optOut = { localConsent: 'unsubscribed' as const, optOut: { at: optedOutAt } };
    await connector.push([change('back@example.com', optOut), change('before@example.com', optOut)]);
    expect(h.sandbox.state.consentJobs).toEqual([{ kind: 'unsubscribe', emails: ['before@example.com'], at: expect.any(Number) }]);
    expect(h.sandbox.profileByEmail('back@example.com')!.marketing.consent).toBe('SUBSCRIBED');
  });

  test('mirrors tags as static lists when asked, through list add/remove only', async () => {
    const connector = h.connector({ tagLists: true, bulkThreshold: 3 });
    const report = await connector.ensureSchema([{ name: 'plan', type: 'string' }], ['vip']);
    expect(report).toMatchObject({ existing: ['plan'], created: ['list:segsync: vip'], problems: [] });
    const results = await connector.push([
      change('a@example.com', { addTags: ['vip'] }),
      change('b@example.com', { addTags: ['vip', 'new'] }),
      change('c@example.com', { set: { x: 1 } }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    const lists = [...h.sandbox.state.lists.values()];
    const vip = lists.find((l) => l.name === 'segsync: vip')!;
    const fresh = lists.find((l) => l.name === 'segsync: new')!;
    expect(vip.members.size).toBe(2);
    expect(fresh.members).toEqual(new Set([h.sandbox.profileByEmail('b@example.com')!.id]));
    const a = h.sandbox.profileByEmail('a@example.com')!;
    await connector.push([change('a@example.com', { ref: { email: 'a@example.com', externalId: a.id }, removeTags: ['vip'] })]);
    expect(vip.members.has(a.id)).toBe(false);
    expect(h.sandbox.state.consentJobs).toEqual([]);
  });

  test('reports standard attributes with incompatible types as schema problems', async () => {
    const report = await h.connector().ensureSchema(
      [
        { name: 'first_name', type: 'string' },
        { name: 'first_name_count', type: 'number' },
        { name: 'last_name', type: 'number' },
        { name: 'segsync_tags', type: 'list' },
      ],
      [],
    );
    expect(report.existing).toEqual(['first_name', 'first_name_count']);
    expect(report.problems.map((p) => p.field)).toEqual(['last_name', 'segsync_tags']);
  });

  test('receives signed webhook deliveries as events and rejects a tampered one', async () => {
    const receiver = await startReceiver();
    const hooked = await startKlaviyoHarness({ webhookUrl: receiver.url, webhookSecret: 'whsec-0123456789abcdef' });
    try {
      const connector = hooked.connector({ webhookSecret: 'whsec-0123456789abcdef' });
      const event = hooked.sandbox.seedEvent({ email: 'hook@example.com', metric: 'Clicked Email', properties: { url: 'https://x' } });
      await hooked.sandbox.flushWebhooks();
      expect(receiver.received).toHaveLength(1);
      const { headers, body } = receiver.received[0]!;
      const result = connector.webhook({ method: 'POST', url: receiver.url, headers, rawBody: body, receivedAt: Date.now() });
      expect(result.changes).toEqual([]);
      expect(result.events).toEqual([
        expect.objectContaining({
          eventId: event.id,
          name: 'Clicked Email',
          email: 'hook@example.com',
          externalId: event.profileId,
          properties: { url: 'https://x' },
        }),
      ]);
      const tampered = Buffer.from(body.toString().replace('https://x', 'https://evil'));
      expect(() => connector.webhook({ method: 'POST', url: receiver.url, headers, rawBody: tampered, receivedAt: Date.now() })).toThrow(
        /signature does not match/,
      );
    } finally {
      await hooked.close();
      await receiver.close();
    }
  });

  test('a webhook registered through /api/webhooks gets only its topics, signed with its secret_key', async () => {
    const receiver = await startReceiver();
    // Webhook management is limited to 1/s · 15/m; this test makes two such calls at once.
    const hooked = await startKlaviyoHarness({ rateLimits: { 'webhooks.burst': { limit: 5, windowMs: 1000, kind: 'fixed' } } });
    try {
      const headers = {
        authorization: 'Klaviyo-API-Key pk_test_sandbox',
        revision: '2026-07-15',
        'content-type': 'application/json',
        accept: 'application/vnd.api+json',
      };
      const topics = (await (await fetch(`${hooked.sandbox.url}/api/webhook-topics`, { headers })).json()) as { data: { id: string }[] };
      expect(topics.data.map((t) => t.id)).toContain('event:klaviyo.opened_email');
      const created = await fetch(`${hooked.sandbox.url}/api/webhooks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          data: {
            type: 'webhook',
            attributes: { name: 'segsync', endpoint_url: receiver.url, secret_key: 'registered-secret-123' },
            relationships: { 'webhook-topics': { data: [{ type: 'webhook-topic', id: 'event:klaviyo.opened_email' }] } },
          },
        }),
      });
      expect(created.status).toBe(201);
      const hookId = ((await created.json()) as { data: { id: string } }).data.id;
      hooked.sandbox.seedEvent({ email: 'w@example.com', metric: 'Placed Order' });
      const opened = hooked.sandbox.seedEvent({ email: 'w@example.com', metric: 'Opened Email' });
      await hooked.sandbox.flushWebhooks();
      expect(receiver.received).toHaveLength(1);
      const { headers: got, body } = receiver.received[0]!;
      expect(got['klaviyo-webhook-id']).toBe(hookId);
      const result = hooked
        .connector({ webhookSecret: 'registered-secret-123' })
        .webhook({ method: 'POST', url: receiver.url, headers: got, rawBody: body, receivedAt: Date.now() });
      expect(result.events.map((e) => [e.eventId, e.name])).toEqual([[opened.id, 'Opened Email']]);
      expect(hooked.specProblems()).toEqual([]);
    } finally {
      await hooked.close();
      await receiver.close();
    }
  });
});

describe('Klaviyo bulk import jobs segsync stopped waiting for', () => {
  it('sends a newer value for a profile of such a job only after the job has finished, so the older one cannot land last', async () => {
    // Jobs take 600 ms on the sandbox's clock; the connector waits 100 ms for them.
    const h = await startKlaviyoHarness({ jobDurationMs: 600 });
    try {
      const connector = h.connector({ bulkThreshold: 2, jobTimeoutMs: 100, jobPollIntervalMs: 20 });
      const early = await connector.push([
        change('a@example.com', { set: { first_name: 'Early' } }),
        change('b@example.com', { set: { first_name: 'Early' } }),
      ]);
      expect(early.map((r) => r.status === 'retry' && r.error.message)).toEqual([
        expect.stringMatching(/did not finish/),
        expect.stringMatching(/did not finish/),
      ]);

      // One profile: a single write, not queued behind the job. It waits for the job.
      const newest = [change('a@example.com', { set: { first_name: 'Newest' } })];
      const waiting = await connector.push(newest);
      expect(waiting[0]!.status === 'retry' && waiting[0]!.error).toBeInstanceOf(EspBusyError);
      for (let i = 0; i < 100 && h.sandbox.profileByEmail('a@example.com')?.first_name !== 'Early'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(h.sandbox.profileByEmail('a@example.com')?.first_name).toBe('Early');

      expect((await connector.push(newest))[0]!.status).toBe('ok');
      expect(h.sandbox.profileByEmail('a@example.com')?.first_name).toBe('Newest');
    } finally {
      await h.close();
    }
  });
});

describe('Klaviyo subscription jobs, which Klaviyo applies later', () => {
  it('carries an opt-out made before a subscribe job segsync sent shows on the profile, as a job after it', async () => {
    // Subscription jobs take 400 ms on the sandbox's clock, applied in the order they came.
    const h = await startKlaviyoHarness({ consentJobDurationMs: 400 });
    try {
      const connector = h.connector();
      const email = 'new@example.com';
      expect((await connector.push([change(email, { localConsent: 'subscribed' })]))[0]!.status).toBe('ok');
      expect(h.sandbox.state.consentJobs).toEqual([expect.objectContaining({ kind: 'subscribe', emails: [email] })]);
      // The opt-out comes before the job is applied: Klaviyo still says NEVER_SUBSCRIBED.
      expect(h.sandbox.profileByEmail(email)!.marketing.consent).toBe('NEVER_SUBSCRIBED');
      const optOut = await connector.push([change(email, { localConsent: 'unsubscribed', remoteConsent: 'subscribed', optOut: { at: Date.now() } })]);
      expect(optOut[0]!.status).toBe('ok');
      expect(h.sandbox.state.consentJobs.map((j) => j.kind)).toEqual(['subscribe', 'unsubscribe']);
      await new Promise((r) => setTimeout(r, 500));
      expect(h.sandbox.profileByEmail(email)!.marketing.consent).toBe('UNSUBSCRIBED');
    } finally {
      await h.close();
    }
  });

  it('remembers the subscribe job in the store: a later process carries the opt-out as a job after it too', async () => {
    const h = await startKlaviyoHarness({ consentJobDurationMs: 400 });
    const dir = mkdtempSync(join(tmpdir(), 'segsync-klaviyo-notes-'));
    // Two connections to one store file: the `segsync push` that sent the job, and the next process.
    const first = new SqliteStore({ path: join(dir, 'segsync.db') });
    const next = new SqliteStore({ path: join(dir, 'segsync.db') });
    try {
      const email = 'cron@example.com';
      const pushed = await h.connector({}, systemClock, storeNotes(first, 'klaviyo', systemClock)).push([change(email, { localConsent: 'subscribed' })]);
      expect(pushed[0]!.status).toBe('ok');
      first.close();
      expect(h.sandbox.profileByEmail(email)!.marketing.consent).toBe('NEVER_SUBSCRIBED');
      const later = h.connector({}, systemClock, storeNotes(next, 'klaviyo', systemClock));
      const optOut = await later.push([change(email, { localConsent: 'unsubscribed', remoteConsent: 'subscribed', optOut: { at: Date.now() } })]);
      expect(optOut[0]!.status).toBe('ok');
      expect(h.sandbox.state.consentJobs.map((j) => j.kind)).toEqual(['subscribe', 'unsubscribe']);
      await new Promise((r) => setTimeout(r, 500));
      expect(h.sandbox.profileByEmail(email)!.marketing.consent).toBe('UNSUBSCRIBED');
      // The note names no one: a hash of the address.
      const stored = next.db.prepare('SELECT key FROM connector_notes').pluck().all() as string[];
      expect(stored.some((k) => k.includes('@'))).toBe(false);
    } finally {
      next.close();
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after the note lets go (an hour), still unsubscribes a profile Klaviyo calls never subscribed', async () => {
    const h = await startKlaviyoHarness({ consentJobDurationMs: 60_000 });
    try {
      let now = Date.now();
      const connector = h.connector({}, { now: () => now, sleep: async () => undefined });
      const email = 'late@example.com';
      await connector.push([change(email, { localConsent: 'subscribed' })]);
      now += 3_600_000;
      await connector.push([change(email, { localConsent: 'unsubscribed', remoteConsent: 'subscribed', optOut: { at: now } })]);
      expect(h.sandbox.state.consentJobs.map((j) => j.kind)).toEqual(['subscribe', 'unsubscribe']);
    } finally {
      await h.close();
    }
  });
});

describe('Klaviyo deletion jobs, which Klaviyo runs later', () => {
  it('holds a write to an erased address until the erased profile is gone, so the deletion cannot take the new one too', async () => {
    // Deletion jobs run 400 ms after they are accepted and delete whatever matches the address then.
    const h = await startKlaviyoHarness({ jobDurationMs: 400 });
    try {
      const connector = h.connector();
      const email = 'back@example.com';
      const [first] = await connector.push([change(email, { set: { first_name: 'Once' } })]);
      const oldId = first!.status === 'ok' ? first!.externalId! : '';
      expect((await connector.erase({ email, externalId: oldId })).status).toBe('ok');
      // The person signs up again before Klaviyo ran the deletion: the write waits.
      const again = await connector.push([change(email, { set: { first_name: 'Again' } })]);
      expect(again[0]!.status === 'retry' && again[0]!.error).toBeInstanceOf(EspBusyError);
      expect(again[0]!.status === 'retry' && again[0]!.error.message).toContain(`deletion:${oldId}`);
      for (let i = 0; i < 100 && h.sandbox.state.profiles.has(oldId); i++) {
        await new Promise((r) => setTimeout(r, 20));
        h.sandbox.state.settle();
      }
      expect(h.sandbox.state.profiles.has(oldId)).toBe(false);
      const [written] = await connector.push([change(email, { set: { first_name: 'Again' } })]);
      expect(written!.status).toBe('ok');
      await new Promise((r) => setTimeout(r, 450));
      h.sandbox.state.settle();
      expect(h.sandbox.profileByEmail(email)).toMatchObject({ first_name: 'Again' });
    } finally {
      await h.close();
    }
  });
});
