import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Connector, RemoteChange } from '../../../connectors/connector';
import { WebhookError } from '../../../src/errors';
import type { ValidatedSandbox } from '../../support/mailchimp';
import { sandboxConnector, startValidatedSandbox } from '../../support/mailchimp';

const SECRET = 'test-secret-0123456789abcdef';

/** A minimal daemon endpoint: hands each delivery to the connector, answers as it says. */
async function startReceiver(connector: () => Connector): Promise<{ url: string; server: Server; changes: RemoteChange[]; refused: string[] }> {
  const changes: RemoteChange[] = [];
  const refused: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const result = connector().webhook({
          method: req.method ?? 'GET',
          url: `http://127.0.0.1${req.url ?? '/'}`,
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
          rawBody: Buffer.concat(chunks),
          receivedAt: Date.now(),
        });
        changes.push(...result.changes);
        res.writeHead(result.reply?.status ?? 200).end(result.reply?.body ?? '');
      } catch (err) {
        refused.push(err instanceof WebhookError ? err.message : String(err));
        res.writeHead(err instanceof WebhookError ? 403 : 500).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/mailchimp`, server, changes, refused };
}

describe('Mailchimp webhooks against the sandbox', () => {
  let v: ValidatedSandbox;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let connector: Connector;
  beforeEach(async () => {
    v = await startValidatedSandbox();
    receiver = await startReceiver(() => connector);
  });
  afterEach(async () => {
    await v.sandbox.close();
    await new Promise((r) => receiver.server.close(r));
    expect(v.problems()).toEqual([]);
  });

  it('registers once with the secret in the URL and sources.api=false, answering the validation GET', async () => {
    connector = sandboxConnector(v.sandbox, { webhookUrl: receiver.url });
    const report = await connector.ensureSchema([{ name: 'plan', type: 'string' }], []);
    expect(report.created).toContain('webhook');
    expect((await connector.ensureSchema([], [])).existing).toContain('webhook');
    const hooks = [...v.sandbox.audience().webhooks.values()];
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({ url: `${receiver.url}?secret=${SECRET}`, sources: { user: true, admin: true, api: false } });
    expect(receiver.refused).toEqual([]);

    // After a secret rotation the old registration is replaced, not kept beside the new one.
    connector = sandboxConnector(v.sandbox, { webhookUrl: receiver.url, webhookSecret: 'rotated-secret-value' });
    await connector.ensureSchema([], []);
    expect([...v.sandbox.audience().webhooks.values()].map((w) => w.url)).toEqual([`${receiver.url}?secret=rotated-secret-value`]);
  });

  it('turns subscribe, profile, unsubscribe, cleaned and upemail deliveries into changes, and never echoes our own writes', async () => {
    connector = sandboxConnector(v.sandbox, { webhookUrl: receiver.url });
    await connector.ensureSchema(
      [
        { name: 'plan', type: 'string' },
        { name: 'visits', type: 'number' },
      ],
      [],
    );
    await connector.push([{ ref: { email: 'api@example.com' }, set: { plan: 'pro' }, clear: [], addTags: [], removeTags: [], localConsent: 'subscribed' }]);
    v.sandbox.seed([{ email: 'h@example.com', status: 'pending' }]);
    // One at a time: deliveries are concurrent HTTP posts, so their arrival order is not guaranteed.
    for (const act of [
      () => v.sandbox.admin.update('h@example.com', { status: 'subscribed' }, 'user'),
      () => v.sandbox.admin.update('h@example.com', { merges: { PLAN: 'free', VISITS: 3 } }),
      () => v.sandbox.admin.changeEmail('h@example.com', 'h2@example.com'),
      () => v.sandbox.admin.update('h2@example.com', { status: 'unsubscribed' }, 'user'),
      () => v.sandbox.admin.clean('api@example.com'),
    ]) {
      act();
      await v.sandbox.flushWebhooks();
    }
    expect(receiver.refused).toEqual([]);
    expect(receiver.changes.map((c) => [c.kind, c.ref.email, c.consent, c.fields])).toEqual([
      ['created', 'h@example.com', 'subscribed', expect.any(Object)],
      ['updated', 'h@example.com', undefined, expect.objectContaining({ plan: 'free', visits: 3 })],
      ['email-changed', 'h2@example.com', undefined, {}],
      ['updated', 'h2@example.com', 'unsubscribed', {}],
      ['updated', 'api@example.com', 'cleaned', {}],
    ]);
    expect(receiver.changes[2]!.previous).toEqual({ email: 'h@example.com' });
    expect(new Set(receiver.changes.map((c) => c.eventId)).size).toBe(5);
  });

  it('refuses deliveries whose URL carries a wrong or no secret', async () => {
    connector = sandboxConnector(v.sandbox, { webhookUrl: receiver.url, webhookSecret: SECRET });
    await connector.ensureSchema([], []);
    connector = sandboxConnector(v.sandbox, { webhookSecret: 'rotated-secret' });
    v.sandbox.seed([{ email: 'w@example.com', status: 'pending' }]);
    v.sandbox.admin.update('w@example.com', { status: 'subscribed' }, 'user');
    await v.sandbox.flushWebhooks();
    expect(receiver.changes).toEqual([]);
    expect(receiver.refused).toEqual([expect.stringMatching(/secret is missing or wrong/)]);
    expect(v.sandbox.deliveries.map((d) => d.status)).toEqual([403]);
  });
});
