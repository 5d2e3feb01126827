/**
 * `segsync sandbox VENDOR --webhook-url URL`, run as a user runs it to try the daemon by hand: each
 * sandbox prints the secret segsync's config needs, and what it sends there verifies with that secret
 * through segsync's own checks (before: HubSpot signed with a secret it never printed, and Mailchimp
 * and Klaviyo sent nothing).
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_CREDENTIALS } from '../../connectors/registry';
import type { RawRequest } from '../../connectors/connector';
import { verifyV3 } from '../../connectors/hubspot/webhooks';
import { verifyWebhook } from '../../connectors/klaviyo/webhooks';
import { verifySecret } from '../../connectors/mailchimp/webhooks';
import type { SandboxProcess } from '../support/sandbox-process';
import { SEGSYNC_BIN, startSandboxProcess } from '../support/sandbox-process';

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

describe('sandbox --webhook-url', () => {
  let dir: string;
  let server: Server;
  let base: string;
  const deliveries: Delivery[] = [];
  const running: SandboxProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-sandbox-webhooks-'));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        deliveries.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.end();
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (esp: string, extra: string[] = []): Promise<{ url: string; secret: string; hook: string }> => {
    const hook = `${base}/webhooks/${esp}`;
    const p = await startSandboxProcess(['sandbox', esp, '--port', '0', '--webhook-url', hook, ...extra], dir);
    running.push(p);
    const secret = /(?:clientSecret|webhookSecret) "([^"]+)"/.exec(p.output())?.[1];
    expect({ esp, printed: p.output() }).toEqual({ esp, printed: expect.stringMatching(/(clientSecret|webhookSecret) "/) });
    return { url: p.url, secret: secret!, hook };
  };
  const arrived = async (path: string): Promise<Delivery> => {
    for (let i = 0; i < 100; i++) {
      const d = deliveries.find((x) => x.path.startsWith(path));
      if (d) return d;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nothing delivered to ${path}`);
  };
  const raw = (d: Delivery, url: string): RawRequest => ({
    method: 'POST',
    url,
    headers: Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, String(v)])),
    rawBody: d.body,
    receivedAt: Date.now(),
  });

  it('refuses a --webhook-url that is not a URL, and an empty --webhook-secret, saying what to give', () => {
    const run = (args: string[]): { status: number | null; stderr: string } =>
      spawnSync(process.execPath, [SEGSYNC_BIN, 'sandbox', 'hubspot', '--port', '0', ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    const notUrl = run(['--webhook-url', 'localhost:8787']);
    expect([notUrl.status, notUrl.stderr]).toEqual([2, expect.stringMatching(/--webhook-url "localhost:8787" is not a URL[\s\S]*give a whole URL/)]);
    const empty = run(['--webhook-url', `${base}/webhooks/hubspot`, '--webhook-secret', '']);
    expect([empty.status, empty.stderr]).toEqual([2, expect.stringMatching(/--webhook-secret is empty/)]);
  });

  it('HubSpot prints its clientSecret, and its signed deliveries verify with it', async () => {
    const { url, secret, hook } = await start('hubspot');
    const res = await fetch(`${url}/crm/v3/objects/contacts/batch/upsert`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SANDBOX_CREDENTIALS.hubspot}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ idProperty: 'email', id: 'hook@example.org', properties: { email: 'hook@example.org', firstname: 'Hook' } }] }),
    });
    expect(res.status).toBeLessThan(300);
    const d = await arrived('/webhooks/hubspot');
    expect(() => verifyV3(raw(d, hook), secret, Date.now())).not.toThrow();
    expect(() => verifyV3(raw(d, hook), 'another-secret', Date.now())).toThrow(/signature does not match/);
  });

  it('Klaviyo prints its webhookSecret, and delivers an event signed with it', async () => {
    const { url, secret, hook } = await start('klaviyo', ['--webhook-secret', 'my-own-secret']);
    expect(secret).toBe('my-own-secret');
    const res = await fetch(`${url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Klaviyo-API-Key ${SANDBOX_CREDENTIALS.klaviyo}`, revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({
        data: {
          type: 'event',
          attributes: {
            properties: { value: 12 },
            metric: { data: { type: 'metric', attributes: { name: 'Placed Order' } } },
            profile: { data: { type: 'profile', attributes: { email: 'hook@example.org' } } },
          },
        },
      }),
    });
    expect(res.status).toBeLessThan(300);
    const d = await arrived('/webhooks/klaviyo');
    expect(() => verifyWebhook(raw(d, hook), { secret, toleranceMs: 300_000 })).not.toThrow();
  });

  it("Mailchimp prints its webhookSecret and holds a webhook to the URL with it, as one set up in Mailchimp's app", async () => {
    const { url, secret } = await start('mailchimp');
    const res = await fetch(`${url}/3.0/lists/sandbox0001/webhooks`, {
      headers: { authorization: `Basic ${Buffer.from(`any:${SANDBOX_CREDENTIALS.mailchimp}`).toString('base64')}` },
    });
    const { webhooks } = (await res.json()) as { webhooks: { url: string; sources: Record<string, boolean> }[] };
    expect(webhooks).toHaveLength(1);
    expect(webhooks[0]!.url.startsWith(`${base}/webhooks/mailchimp?`)).toBe(true);
    expect(webhooks[0]!.sources).toEqual({ user: true, admin: true, api: false });
    const request = { method: 'POST', url: webhooks[0]!.url, headers: {}, rawBody: Buffer.alloc(0), receivedAt: Date.now() };
    expect(() => verifySecret(request, secret)).not.toThrow();
  });
});
