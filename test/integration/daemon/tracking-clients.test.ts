/**
 * The tracking clients shops already run, unmodified, pointed at the real daemon (real services, a
 * real store, the rules): Segment's @segment/analytics-node and RudderStack's
 * @rudderstack/rudder-sdk-node (which gzips its batches). identify + track by userId, anonymous
 * tracks then identify, page calls: every message is stored on the right contact, once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { SERVER_KEY, startInProcess, writeDaemonConfig } from '../../support/intake-daemon';
import type { InProcess } from '../../support/intake-daemon';

const dirs: string[] = [];
let r: InProcess;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'segsync-clients-'));
  dirs.push(dir);
  r = await startInProcess(
    await writeDaemonConfig(dir, {
      segments: `  carted:
    rule: exists("Added to Cart", 30d) && !after("Placed Order", "Added to Cart")
    push: [{ esp: klaviyo, as: property }]`,
    }),
  );
});
afterAll(async () => {
  await r.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Each stored event of a contact as name → how many times. */
function eventsOf(email: string): Record<string, number> {
  const c = r.store.findContactByEmail(email);
  if (!c) return {};
  const out: Record<string, number> = {};
  for (const e of r.store.eventsOf(c.id)) out[e.name] = (out[e.name] ?? 0) + 1;
  return out;
}

/** How many stored rows each event id has. */
function storedIdCounts(): Map<string, number> {
  const rows = r.store.db.prepare('SELECT event_id, COUNT(*) AS n FROM events GROUP BY event_id').all() as { event_id: string; n: number }[];
  return new Map(rows.map((row) => [row.event_id, row.n]));
}

describe('@segment/analytics-node pointed at the daemon', () => {
  const segment = (): Analytics => new Analytics({ writeKey: SERVER_KEY, host: r.setup.url, flushInterval: 50, maxRetries: 0 });

  it('identify + track by userId land on the identified contact; a resent batch stores nothing twice', async () => {
    const client = segment();
    const bodies: string[] = [];
    client.on('http_request', (req) => bodies.push(String(req.body)));
    client.identify({ userId: 'seg-u1', traits: { email: 'Seg.One@Shop.example', first_name: 'Sam', plan: 'pro' } });
    client.track({ userId: 'seg-u1', event: 'Placed Order', properties: { value: 120.5 } });
    client.page({ userId: 'seg-u1', name: 'Checkout', properties: { url: 'https://shop.example/checkout?utm_source=mail&utm_campaign=spring' } });
    await client.closeAndFlush({ timeout: 10_000 });
    expect(eventsOf('seg.one@shop.example')).toEqual({ 'Placed Order': 1, 'Viewed Page': 1 });
    const contact = r.store.findContactByEmail('seg.one@shop.example')!;
    expect(contact.properties.first_name!.value).toBe('Sam');
    const page = r.store.eventsOf(contact.id).find((e) => e.name === 'Viewed Page')!;
    expect(page.properties).toMatchObject({ name: 'Checkout', utm_source: 'mail', utm_campaign: 'spring' });
    // The client's own batch, sent again (a retry after a lost answer): nothing is stored twice.
    expect(bodies.length).toBeGreaterThan(0);
    const before = r.store.counts().events;
    for (const body of bodies) {
      const res = await fetch(`${r.setup.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${SERVER_KEY}:`).toString('base64')}` },
        body,
      });
      expect(res.status).toBe(200);
    }
    expect(r.store.counts().events).toBe(before);
  });

  it('anonymous tracks, then identify: the history moves onto the contact and the rules see it', async () => {
    const pending = (): number => r.store.outboxCounts().reduce((n, c) => n + c.pending + c.dead, 0);
    const queuedBefore = pending();
    const visitor = segment();
    visitor.track({ anonymousId: 'seg-anon-1', event: 'Viewed Product', properties: { sku: 'S1' } });
    visitor.track({ anonymousId: 'seg-anon-1', event: 'Added to Cart', properties: { sku: 'S1' } });
    visitor.page({ anonymousId: 'seg-anon-1', name: 'Product' });
    await visitor.closeAndFlush({ timeout: 10_000 });
    expect(r.store.findContactByEmail('seg.two@shop.example')).toBeUndefined();
    expect(r.store.identities.profileCounts().events).toBeGreaterThanOrEqual(3);
    // An anonymous visitor has no email: nothing about them is queued for any ESP.
    expect(pending()).toBe(queuedBefore);
    const { profiles, events } = r.store.identities.profileCounts();
    const metrics = await (await fetch(`${r.setup.url}/metrics`)).text();
    expect(metrics).toContain(`segsync_anonymous_profiles{kind="profiles"} ${profiles}`);
    expect(metrics).toContain(`segsync_anonymous_profiles{kind="events"} ${events}`);

    const signup = segment();
    signup.identify({ userId: 'seg-u2', anonymousId: 'seg-anon-1', traits: { email: 'seg.two@shop.example' } });
    await signup.closeAndFlush({ timeout: 10_000 });
    expect(eventsOf('seg.two@shop.example')).toEqual({ 'Viewed Product': 1, 'Added to Cart': 1, 'Viewed Page': 1 });
    const id = r.store.findContactByEmail('seg.two@shop.example')!.id;
    expect(r.store.getSegmentStates(id).find((s) => s.segment === 'carted')?.value).toBe(true);
    expect(r.store.pendingOutbox('klaviyo', id).map((o) => o.key)).toContain('carted');
    expect(r.store.identities.ownerOf({ kind: 'anonymousId', value: 'seg-anon-1' })).toEqual({ contactId: id });
  });
});

/** A message with an id of the test's choosing (the SDK sends a given messageId; its types omit it). */
function withId<T extends object>(messageId: string, message: T): T {
  return { ...message, messageId } as T;
}

describe('@rudderstack/rudder-sdk-node pointed at the daemon (gzip batches)', () => {
  const rudder = (): RudderAnalytics =>
    new RudderAnalytics(SERVER_KEY, { dataPlaneUrl: r.setup.url, flushAt: 20, flushInterval: 100_000, logLevel: 'error', retryCount: 0 });

  it('sends gzip batches of identify, track, page by userId and anonymousId; each message stored once on the right contact', async () => {
    const bodies: unknown[] = [];
    const client = rudder();
    const flushed = (): Promise<void> =>
      new Promise((resolve, reject) => void client.flush((err, data) => (err ? reject(err) : (bodies.push(data), resolve()))));
    client.track(withId('rs-1', { anonymousId: 'rs-anon-1', event: 'Viewed Product', properties: { sku: 'R1' } }));
    await flushed();
    client.track(withId('rs-2', { anonymousId: 'rs-anon-1', event: 'Added to Cart', properties: { sku: 'R1' } }));
    client.page(withId('rs-3', { anonymousId: 'rs-anon-1', name: 'Cart', properties: { url: 'https://shop.example/cart?utm_medium=cpc' } }));
    await flushed();
    expect(r.store.findContactByEmail('rs.one@shop.example')).toBeUndefined();
    client.identify({ userId: 'rs-u1', anonymousId: 'rs-anon-1', traits: { email: 'rs.one@shop.example', first_name: 'Rae' } });
    client.track(withId('rs-4', { userId: 'rs-u1', event: 'Placed Order', properties: { value: 42 } }));
    client.identify({ userId: 'rs-u2', traits: { email: 'rs.two@shop.example' } });
    client.track(withId('rs-5', { userId: 'rs-u2', event: 'Placed Order', properties: { value: 7 } }));
    client.track(withId('rs-5', { userId: 'rs-u2', event: 'Placed Order', properties: { value: 7 } }));
    await flushed();
    expect(eventsOf('rs.one@shop.example')).toEqual({ 'Viewed Product': 1, 'Added to Cart': 1, 'Viewed Page': 1, 'Placed Order': 1 });
    expect(eventsOf('rs.two@shop.example')).toEqual({ 'Placed Order': 1 });
    const one = r.store.findContactByEmail('rs.one@shop.example')!;
    expect(one.properties.first_name!.value).toBe('Rae');
    expect(r.store.eventsOf(one.id).find((e) => e.name === 'Viewed Page')!.properties).toMatchObject({ name: 'Cart', utm_medium: 'cpc' });
    // The client gzipped what it sent, and each message is stored once (rs-5 was sent twice).
    const gzipped = bodies.filter((b): b is Buffer => Buffer.isBuffer(b));
    expect(gzipped.length).toBeGreaterThanOrEqual(2);
    for (const b of gzipped) expect(gunzipSync(b).toString('utf8')).toMatch(/"batch"/);
    const counts = storedIdCounts();
    for (const id of ['rs-1', 'rs-2', 'rs-3', 'rs-4', 'rs-5']) expect([id, counts.get(id)]).toEqual([id, 1]);
  });
});

describe('anonymous retention (daemon.anonymousRetentionDays, default 90)', () => {
  it('deletes visitors never identified once their last call is older than the limit, and nothing else', async () => {
    const res = await fetch(`${r.setup.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` },
      body: JSON.stringify({ anonymousId: 'ret-anon', event: 'Viewed Product', messageId: 'ret-1' }),
    });
    expect(res.status).toBe(200);
    const day = 86_400_000;
    const contacts = r.store.counts().contacts;
    expect(await r.services.pruneAnonymous!(Date.now() + 89 * day)).toBe(0);
    expect(r.store.identities.ownerOf({ kind: 'anonymousId', value: 'ret-anon' })).toBeDefined();
    expect(await r.services.pruneAnonymous!(Date.now() + 91 * day)).toBeGreaterThanOrEqual(1);
    expect(r.store.identities.ownerOf({ kind: 'anonymousId', value: 'ret-anon' })).toBeUndefined();
    expect(r.store.counts().contacts).toBe(contacts);
  });
});
