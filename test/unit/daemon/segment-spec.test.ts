/**
 * The Segment spec at /v1/* over real HTTP: page, screen, group and alias as documented in
 * docs/intake.md, clock-skew correction, gzip bodies, properties.email as a key, CORS for the
 * configured origins with the write key only.
 */
import { gzipSync } from 'node:zlib';
import { startHarness } from '../../support/daemon-harness';
import type { Harness } from '../../support/daemon-harness';

const SERVER = 'server-key-0123456789abcdef';
const WRITE = 'write-key-0123456789abcdef';
const SHOP = 'https://shop.example.com';

describe('Segment spec at /v1/*', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ trackToken: undefined, serverKey: SERVER, writeKey: WRITE, corsOrigins: [SHOP] });
  });
  afterAll(() => h.close());

  const basic = (key: string): string => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${h.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(SERVER), ...headers },
      body: Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
  }
  const eventsOf = (email: string) => h.store.eventsOf(h.store.findContactByEmail(email)!.id);

  it('stores a page call as "Viewed Page" with its URL parts and UTM parameters from the URL and context.campaign', async () => {
    await post('/v1/identify', { userId: 'pg-1', traits: { email: 'page@example.com' } });
    const r = await post('/v1/page', {
      userId: 'pg-1',
      name: 'Shoes',
      category: 'Catalog',
      messageId: 'page-1',
      timestamp: '2026-05-01T11:00:00Z',
      properties: { url: 'https://shop.example.com/shoes?utm_source=newsletter&utm_medium=email', title: 'Shoes' },
      context: { page: { path: '/shoes', referrer: 'https://mail.example.com/' }, campaign: { name: 'spring', source: 'spring-mail' } },
    });
    expect(r.status).toBe(200);
    const [e] = eventsOf('page@example.com');
    expect(e).toMatchObject({ name: 'Viewed Page', eventId: 'page-1', time: Date.parse('2026-05-01T11:00:00Z') });
    expect(e!.properties).toEqual({
      url: 'https://shop.example.com/shoes?utm_source=newsletter&utm_medium=email',
      title: 'Shoes',
      name: 'Shoes',
      category: 'Catalog',
      path: '/shoes',
      referrer: 'https://mail.example.com/',
      utm_campaign: 'spring',
      utm_source: 'spring-mail',
      utm_medium: 'email',
    });
  });

  it('stores screen as "Viewed Screen" and group as "Joined Group" with the group id and traits', async () => {
    await post('/v1/screen', { userId: 'pg-1', name: 'Cart', messageId: 'scr-1' });
    await post('/v1/group', { userId: 'pg-1', groupId: 'acme', traits: { plan: 'enterprise' }, messageId: 'grp-1' });
    const byId = new Map(eventsOf('page@example.com').map((e) => [e.eventId, e]));
    expect(byId.get('scr-1')).toMatchObject({ name: 'Viewed Screen', properties: { name: 'Cart' } });
    expect(byId.get('grp-1')).toMatchObject({ name: 'Joined Group', properties: { groupId: 'acme', plan: 'enterprise' } });
  });

  it('takes properties.email as the key of a track call', async () => {
    expect((await post('/v1/track', { event: 'Signed Up', messageId: 'pe-1', properties: { email: 'Prop@Example.com' } })).status).toBe(200);
    expect(eventsOf('prop@example.com').map((e) => e.eventId)).toEqual(['pe-1']);
  });

  it("corrects the sender's clock skew: timestamp = receivedAt - (sentAt - timestamp), and a retry is the same event", async () => {
    const received = h.clock.now();
    // The device clock is a day behind; the call was queued 5 s before it was sent.
    const body = {
      userId: 'pg-1',
      event: 'Skewed',
      messageId: 'skew-1',
      timestamp: new Date(received - 86_400_000 - 5000).toISOString(),
      sentAt: new Date(received - 86_400_000).toISOString(),
    };
    expect((await post('/v1/track', body)).status).toBe(200);
    expect(eventsOf('page@example.com').find((e) => e.eventId === 'skew-1')!.time).toBe(received - 5000);
    h.clock.advance(2000);
    const retry = await post('/v1/batch', {
      batch: [{ ...body, type: 'track', sentAt: undefined }],
      sentAt: new Date(received - 86_400_000 + 2500).toISOString(),
    });
    expect(retry.status).toBe(200);
    expect(eventsOf('page@example.com').filter((e) => e.eventId === 'skew-1')).toHaveLength(1);
  });

  it('links alias previousId to userId', async () => {
    await post('/v1/track', { anonymousId: 'al-anon', event: 'Viewed Product', messageId: 'al-1' });
    expect((await post('/v1/alias', { previousId: 'al-anon', userId: 'al-user' })).status).toBe(200);
    await post('/v1/identify', { userId: 'al-user', traits: { email: 'alias@example.com' } });
    expect(eventsOf('alias@example.com').map((e) => e.eventId)).toEqual(['al-1']);
    expect((await post('/v1/alias', { userId: 'al-user' })).status).toBe(400);
  });

  it('reads gzip bodies, refuses a corrupt one with 400 and an unknown encoding with 415', async () => {
    const batch = { batch: [{ type: 'track', userId: 'pg-1', event: 'Zipped', messageId: 'gz-1' }] };
    expect((await post('/v1/batch', gzipSync(JSON.stringify(batch)), { 'content-encoding': 'gzip' })).status).toBe(200);
    expect(eventsOf('page@example.com').some((e) => e.eventId === 'gz-1')).toBe(true);
    const corrupt = await post('/v1/batch', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect(((await corrupt.json()) as { message: string }).message).toMatch(/not valid gzip/);
    expect((await post('/v1/batch', Buffer.from(JSON.stringify(batch)), { 'content-encoding': 'br' })).status).toBe(415);
  });

  it('applies the body limit to the decompressed bytes (a zip bomb is refused)', async () => {
    const bomb = gzipSync(JSON.stringify({ batch: [{ type: 'track', userId: 'pg-1', event: 'x', properties: { pad: 'a'.repeat(2_000_000) } }] }));
    expect(bomb.length).toBeLessThan(100_000);
    expect((await post('/v1/batch', bomb, { 'content-encoding': 'gzip' })).status).toBe(413);
  });

  describe('CORS', () => {
    it('answers a preflight from a configured origin without a key', async () => {
      const r = await fetch(`${h.url}/v1/t`, {
        method: 'OPTIONS',
        headers: { origin: SHOP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
      });
      expect(r.status).toBe(204);
      expect(r.headers.get('access-control-allow-origin')).toBe(SHOP);
      expect(r.headers.get('access-control-allow-headers')).toMatch(/authorization/);
      expect(r.headers.get('access-control-allow-methods')).toMatch(/POST/);
    });

    it('refuses other origins, preflight or not', async () => {
      const pre = await fetch(`${h.url}/v1/t`, { method: 'OPTIONS', headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' } });
      expect(pre.status).toBe(403);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      expect((await post('/v1/track', { userId: 'pg-1', event: 'X' }, { origin: 'https://evil.example.net', authorization: basic(WRITE) })).status).toBe(403);
    });

    it('lets the write key post from the configured origin, never the server key', async () => {
      const ok = await post(
        '/v1/t',
        { userId: 'pg-1', event: 'From Browser', messageId: 'br-1' },
        { origin: SHOP, authorization: basic(WRITE), 'content-type': 'text/plain' },
      );
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe(SHOP);
      const server = await post('/v1/t', { userId: 'pg-1', event: 'From Browser', messageId: 'br-2' }, { origin: SHOP });
      expect(server.status).toBe(403);
      expect(((await server.json()) as { message: string }).message).toMatch(/server key is never accepted from a browser/);
      expect(eventsOf('page@example.com').map((e) => e.eventId)).toContain('br-1');
      expect(eventsOf('page@example.com').map((e) => e.eventId)).not.toContain('br-2');
    });

    it('refuses a browser identify that would merge two known contacts or set consent; identifiers and traits go in', async () => {
      await post('/v1/identify', { userId: 'victim', traits: { email: 'victim@example.com' } });
      const merge = await post('/v1/i', { userId: 'victim', traits: { email: 'attacker@example.com' } }, { origin: SHOP, authorization: basic(WRITE) });
      expect(merge.status).toBe(403);
      expect(h.store.findContactByEmail('attacker@example.com')).toBeUndefined();
      const consent = await post(
        '/v1/i',
        { anonymousId: 'v-1', traits: { email: 'visitor@example.com' }, consent: 'subscribed' },
        { origin: SHOP, authorization: basic(WRITE) },
      );
      expect(consent.status).toBe(403);
      const ok = await post(
        '/v1/i',
        { anonymousId: 'v-1', traits: { email: 'visitor@example.com', first_name: 'Vi' } },
        { origin: SHOP, authorization: basic(WRITE) },
      );
      expect(ok.status).toBe(200);
      expect(h.store.findContactByEmail('visitor@example.com')!.properties.first_name!.value).toBe('Vi');
      expect(h.store.findContactByEmail('visitor@example.com')!.consent).toBeUndefined();
    });
  });
});
