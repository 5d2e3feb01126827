/** Signed webhooks from the sandbox, received over HTTP and handed to the connector: verified, parsed, echoes dropped. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RemoteChange } from '../../../connectors/connector';
import { WebhookError } from '../../../src/errors';
import type { Harness } from '../../support/hubspot';
import { startHarness } from '../../support/hubspot';

describe('HubSpot webhooks from the sandbox', () => {
  let receiver: http.Server;
  let hookUrl: string;
  let h: Harness;
  const changes: RemoteChange[] = [];
  const rejected: unknown[] = [];

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(',') : v;
        try {
          const result = h.connector.webhook({ method: req.method!, url: hookUrl, headers, rawBody: Buffer.concat(chunks), receivedAt: Date.now() });
          changes.push(...result.changes);
          res.writeHead(result.reply?.status ?? 200).end();
        } catch (err) {
          rejected.push(err);
          res.writeHead(401).end();
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/hubspot`;
    h = await startHarness({ webhookUrl: hookUrl, clientSecret: 'app-secret' }, { clientSecret: 'app-secret', webhookUrl: hookUrl });
    await h.connector.ensureSchema([{ name: 'nickname', type: 'string' }], ['vip']);
  });

  afterAll(async () => {
    await h.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('delivers signed batches that the connector verifies; its own writes come back only as creations, not property changes', async () => {
    const [r] = await h.connector.push([
      { ref: { email: 'hook@example.com' }, set: { nickname: 'mine' }, clear: [], addTags: ['vip'], removeTags: [], remoteTags: [] },
    ]);
    await h.sandbox.flushWebhooks();
    expect(rejected).toEqual([]);
    const id = r!.status === 'ok' ? r!.externalId! : '';
    expect(changes).toEqual([expect.objectContaining({ kind: 'created', ref: { externalId: id }, fromSelf: true })]);

    changes.length = 0;
    h.sandbox.edit(id, { nickname: 'theirs', segsync_tags: '' });
    await h.sandbox.flushWebhooks();
    expect(changes.map((c) => [c.kind, c.fields, c.tags])).toEqual([
      ['updated', { nickname: 'theirs' }, undefined],
      ['updated', {}, []],
    ]);
    expect(h.sandbox.deliveries().every((d) => d.status === 204)).toBe(true);
  });

  it('reports merges and GDPR deletions', async () => {
    const ids = h.sandbox.seed([{ email: 'm1@example.com' }, { email: 'm2@example.com' }]);
    changes.length = 0;
    h.sandbox.merge(ids[0]!, ids[1]!);
    await h.connector.erase({ email: 'm1@example.com' });
    await h.sandbox.flushWebhooks();
    expect(changes.map((c) => c.kind)).toEqual(['merged', 'erased']);
    expect(changes[0]!.previous).toEqual({ externalIds: [ids[1]] });
  });

  it('refuses deliveries signed with another secret', async () => {
    const other = await startHarness({ webhookUrl: hookUrl, clientSecret: 'wrong-secret' });
    try {
      other.sandbox.seed([{ email: 'x@example.com' }]);
      other.sandbox.edit('x@example.com', { firstname: 'X' });
      await other.sandbox.flushWebhooks();
      expect(rejected.length).toBeGreaterThan(0);
      expect(rejected[0]).toBeInstanceOf(WebhookError);
      expect(other.sandbox.deliveries().map((d) => d.status)).toContain(401);
    } finally {
      await other.close();
    }
  });
});
