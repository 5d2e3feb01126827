import { startDaemon } from '../../../src/daemon/daemon';
import { ConfigError } from '../../../src/errors';
import { createLogger } from '../../../src/log/logger';
import { startHarness } from '../../support/daemon-harness';
import type { Harness } from '../../support/daemon-harness';

const TOKEN = 'test-token-0123456789';

describe('daemon track API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ trackToken: TOKEN, maxBatchItems: 500 });
  });
  afterAll(() => h.close());

  function post(path: string, body: unknown, auth: string | null = `Bearer ${TOKEN}`): Promise<Response> {
    return fetch(`${h.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  const track = (over: Record<string, unknown> = {}) => ({
    type: 'track',
    event: 'Viewed Product',
    messageId: 'm-1',
    timestamp: '2026-05-01T10:00:00Z',
    properties: { product_id: 'P1' },
    context: { traits: { email: 'Ada@Example.com' } },
    ...over,
  });

  describe('authentication', () => {
    it('refuses a call without a token, with 401 and WWW-Authenticate', async () => {
      const r = await post('/v1/track', track(), null);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('refuses a wrong token', async () => {
      expect((await post('/v1/track', track(), 'Bearer nope')).status).toBe(401);
      expect((await post('/v1/track', track(), `Bearer ${TOKEN}x`)).status).toBe(401);
    });

    it('accepts the token as a Segment write key in Basic auth', async () => {
      const r = await post('/v1/track', track({ messageId: 'm-basic' }), `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}`);
      expect(r.status).toBe(200);
    });
  });

  describe('track', () => {
    it('stores a Segment track call and drops its retry by messageId', async () => {
      const first = await post('/v1/track', track());
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ ok: true, accepted: 1 });
      const again = await post('/v1/track', track());
      expect(again.status).toBe(200);
      const contact = h.store.findContactByEmail('ada@example.com')!;
      const stored = h.store.eventsOf(contact.id).filter((e) => e.eventId === 'm-1');
      expect(stored.map((e) => [e.name, e.time, e.source])).toEqual([['Viewed Product', Date.parse('2026-05-01T10:00:00Z'), 'track']]);
    });

    it('accepts the import shape too (email, name, time, id)', async () => {
      const r = await post('/v1/track', {
        email: 'bob@example.com',
        name: 'Placed Order',
        time: '2026-05-01T11:00:00Z',
        id: 'ord-1',
        properties: { value: 42.5 },
      });
      expect(r.status).toBe(200);
      expect(h.store.eventsOf(h.store.findContactByEmail('bob@example.com')!.id)[0]).toMatchObject({ eventId: 'ord-1', properties: { value: 42.5 } });
    });

    it('uses a userId that is an email, and the arrival time when there is no timestamp', async () => {
      const r = await post('/v1/track', { event: 'Opened Email', userId: 'cy@example.com', messageId: 'm-cy' });
      expect(r.status).toBe(200);
      expect(h.store.eventsOf(h.store.findContactByEmail('cy@example.com')!.id)[0]!.time).toBe(h.clock.now());
    });

    it('answers 400 naming the field when the call names no one (no userId, anonymousId or email)', async () => {
      const r = await post('/v1/track', { event: 'Opened Email' });
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ error: 'validation', message: 'no userId, anonymousId or email', rejected: [{ index: 0, field: 'userId' }] });
    });

    it('keeps an anonymous track on an anonymous profile, never on a contact', async () => {
      const r = await post('/v1/track', { event: 'Viewed Product', anonymousId: 'anon-only-1', messageId: 'anon-m-1' });
      expect(r.status).toBe(200);
      const owner = h.store.identities.ownerOf({ kind: 'anonymousId', value: 'anon-only-1' });
      expect(owner?.profileId).toBeDefined();
      expect(h.store.identities.profileEvents(owner!.profileId!).map((e) => e.eventId)).toEqual(['anon-m-1']);
    });

    it('answers 400 naming the field for a bad timestamp, bad properties and a missing event', async () => {
      const bad = async (body: unknown) => ((await (await post('/v1/track', body)).json()) as { rejected: { field?: string }[] }).rejected[0]!.field;
      expect(await bad(track({ timestamp: 'yesterday' }))).toBe('timestamp');
      expect(await bad(track({ properties: ['x'] }))).toBe('properties');
      expect(await bad(track({ event: undefined }))).toBe('event');
      expect(await bad(track({ context: { traits: { email: 'not-an-email' } } }))).toBe('context.traits.email');
    });

    it("reads a text/plain body as JSON, as Segment's browser library sends it", async () => {
      const r = await fetch(`${h.url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(track({ messageId: 'beacon-1' })),
      });
      expect(r.status).toBe(200);
    });

    it('answers 400 with a JSON error for a body that is not JSON', async () => {
      const r = await post('/v1/track', '{"event": ');
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ error: 'bad_request' });
    });
  });

  describe('identify', () => {
    it('merges traits into the contact and keeps Segment envelope keys out of its properties', async () => {
      const r = await post('/v1/identify', {
        type: 'identify',
        userId: 'u-1',
        anonymousId: 'a-1',
        messageId: 'm-id-1',
        timestamp: '2026-05-01T09:00:00Z',
        context: { ip: '10.0.0.1' },
        traits: { email: 'dee@example.com', first_name: 'Dee', plan: 'pro' },
      });
      expect(r.status).toBe(200);
      const c = h.store.findContactByEmail('dee@example.com')!;
      expect(Object.keys(c.properties).sort()).toEqual(['first_name', 'plan']);
      expect(c.properties.plan).toMatchObject({ value: 'pro', source: 'local', updatedAt: Date.parse('2026-05-01T09:00:00Z') });
    });
  });

  describe('batch', () => {
    it('stores the good items and names the bad ones by index (207)', async () => {
      const r = await post('/v1/batch', {
        batch: [
          track({ messageId: 'b-0' }),
          track({ messageId: 'b-1', timestamp: 'not a date' }),
          { type: 'identify', traits: { email: 'eve@example.com', vip: true } },
          { type: 'page', name: 'Home' },
          track({ messageId: 'b-4', context: {} }),
          { type: 'checkout', userId: 'u-5' },
        ],
      });
      expect(r.status).toBe(207);
      const body = (await r.json()) as { ok: boolean; accepted: number; rejected: { index: number; field?: string }[] };
      expect(body).toMatchObject({ ok: false, accepted: 2 });
      expect(body.rejected.map((x: { index: number; field?: string }) => [x.index, x.field])).toEqual([
        [1, 'timestamp'],
        [3, 'userId'],
        [4, 'userId'],
        [5, 'type'],
      ]);
      expect(h.store.findContactByEmail('eve@example.com')!.properties.vip!.value).toBe(true);
      expect(h.store.eventsOf(h.store.findContactByEmail('ada@example.com')!.id).map((e) => e.eventId)).toContain('b-0');
    });

    it('applies the batch-level context to items that have none', async () => {
      const r = await post('/v1/batch', {
        batch: [{ type: 'track', event: 'Clicked Email', messageId: 'ctx-1' }],
        context: { traits: { email: 'fay@example.com' } },
      });
      expect(r.status).toBe(200);
      expect(h.store.findContactByEmail('fay@example.com')).toBeDefined();
    });

    it('answers 400 when no item is good', async () => {
      const r = await post('/v1/batch', { batch: [{ type: 'track' }, { type: 'alias' }] });
      expect(r.status).toBe(400);
      const body = (await r.json()) as { message: string; rejected: { index: number; field?: string }[] };
      expect(body.message).toMatch(/^item 0: /);
      expect(body.rejected.map((x: { index: number }) => x.index)).toEqual([0, 1]);
    });

    it('refuses more than 500 items', async () => {
      const r = await post('/v1/batch', { batch: Array.from({ length: 501 }, (_, i) => track({ messageId: `many-${i}` })) });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { message: string }).message).toMatch(/501 items; at most 500/);
    });

    it('refuses a body over 512 KB with 413 before storing anything', async () => {
      const before = h.store.counts().events;
      const r = await post('/v1/batch', { batch: [track({ messageId: 'big', properties: { blob: 'x'.repeat(600 * 1024) } })] });
      expect(r.status).toBe(413);
      expect(await r.json()).toMatchObject({ error: 'too_large' });
      expect(h.store.counts().events).toBe(before);
    });
  });

  it('counts intake in the metrics and wakes the outbox worker', async () => {
    const drainsBefore = h.services.calls.drain.length;
    await post('/v1/track', track({ messageId: 'metrics-1' }));
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/^segsync_events_in_total\{kind="track",result="inserted"\} \d+$/m);
    expect(text).toMatch(/^segsync_events_in_total\{kind="track",result="duplicate"\} [1-9]\d*$/m);
    expect(text).toMatch(/^segsync_events_in_total\{kind="batch",result="rejected"\} [1-9]\d*$/m);
    // 25 ms of a clock that otherwise stands still: only a wake-up after intake (coalesced over 25 ms)
    // can have run the drains again, as their idle back-off is longer.
    await h.clock.advance(25);
    expect(h.services.calls.drain.length).toBeGreaterThan(drainsBefore);
  });

  it('never writes an email address or the token to the logs', () => {
    const logs = h.logs();
    expect(logs).toContain('"route":"/v1/track"');
    expect(logs).not.toMatch(/ada@example\.com/i);
    expect(logs).not.toContain(TOKEN);
  });
});

describe('daemon token policy', () => {
  const logger = createLogger({ level: 'silent' });
  const services = { esps: [] } as never;

  it('refuses to start without a token', async () => {
    await expect(startDaemon({ services, logger, port: 0 })).rejects.toThrow(ConfigError);
  });

  it('refuses --insecure-no-token on a non-loopback address', async () => {
    await expect(startDaemon({ services, logger, host: '0.0.0.0', port: 0, insecureNoToken: true })).rejects.toThrow(/only allowed on a loopback address/);
  });

  it('serves the track API without a token on loopback when explicitly allowed', async () => {
    const h = await startHarness({ trackToken: undefined, insecureNoToken: true });
    try {
      const r = await fetch(`${h.url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'a@b.co', event: 'X' }),
      });
      expect(r.status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
