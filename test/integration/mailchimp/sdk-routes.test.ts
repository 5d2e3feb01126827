/**
 * A user's own code on `@mailchimp/mailchimp_marketing` against the sandbox: the API root, audiences,
 * and batch operations with their results archive; every answer checked against the published spec.
 */
import { gunzipSync } from 'node:zlib';
import { subscriberHash } from '../../../src/model/identity';
import type { ValidatedSandbox } from '../../support/mailchimp';
import { mailchimpValidator, startValidatedSandbox } from '../../support/mailchimp';

/** The parts of the SDK's client this test calls (the package ships no types of its own). */
interface Sdk {
  basePath: string;
  setConfig(config: { apiKey: string }): void;
  root: { getRoot(opts?: object): Promise<Record<string, unknown>> };
  lists: {
    getAllLists(opts?: object): Promise<{ lists: { id: string; name: string }[]; total_items: number }>;
    createList(body: object): Promise<{ id: string; name: string }>;
  };
  batches: {
    start(body: object): Promise<Batch>;
    status(id: string): Promise<Batch>;
    list(opts?: object): Promise<{ batches: Batch[]; total_items: number }>;
  };
}
interface Batch {
  id: string;
  status: string;
  total_operations: number;
  finished_operations: number;
  errored_operations: number;
  response_body_url: string;
}

/** The files of a (gzipped) tar archive, by name. */
function untar(gz: Buffer): Map<string, string> {
  const tar = gunzipSync(gz);
  const files = new Map<string, string>();
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0;) {
    const name = tar
      .subarray(at, at + 100)
      .toString('ascii')
      .replace(/\0.*$/s, '');
    const size = parseInt(
      tar
        .subarray(at + 124, at + 136)
        .toString('ascii')
        .replace(/\0.*$/s, ''),
      8,
    );
    files.set(name, tar.subarray(at + 512, at + 512 + size).toString('utf8'));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

describe('Mailchimp sandbox, driven by the vendor SDK', () => {
  let v: ValidatedSandbox;
  let mailchimp: Sdk;
  beforeAll(async () => {
    v = await startValidatedSandbox({ apiKey: 'sdk-test-key-us1', rateLimits: false });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ApiClient = require('@mailchimp/mailchimp_marketing/src/ApiClient') as new () => Sdk;
    mailchimp = new ApiClient();
    mailchimp.setConfig({ apiKey: 'sdk-test-key-us1' });
    mailchimp.basePath = `${v.sandbox.url}/3.0`;
  });
  afterAll(() => v.sandbox.close());

  const status = (p: Promise<unknown>): Promise<number | undefined> =>
    p.then(
      () => undefined,
      (e: { status?: number }) => e.status,
    );

  it('answers the API root with the account', async () => {
    v.sandbox.seed([{ email: 'ada@example.com' }]);
    const root = await mailchimp.root.getRoot();
    expect(root).toMatchObject({ account_id: expect.any(String), account_name: 'segsync sandbox', total_subscribers: 1 });
    expect(await mailchimp.root.getRoot({ fields: ['account_name'] })).toEqual({ account_name: 'segsync sandbox' });
  });

  it('lists audiences and creates one, refusing a body without what Mailchimp requires', async () => {
    expect((await mailchimp.lists.getAllLists()).lists.map((l) => l.id)).toEqual(['sandbox0001']);
    const created = await mailchimp.lists.createList({
      name: 'Newsletter',
      contact: { company: 'Shop', address1: '1 Main St', city: 'Springfield', state: 'IL', zip: '62701', country: 'US' },
      permission_reminder: 'You signed up at our shop.',
      campaign_defaults: { from_name: 'Shop', from_email: 'news@shop.example', subject: '', language: 'en' },
      email_type_option: false,
    });
    expect(created).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{10}$/), name: 'Newsletter' });
    const all = await mailchimp.lists.getAllLists({ count: 10 });
    expect([all.total_items, all.lists.map((l) => l.name)]).toEqual([2, ['Sandbox audience', 'Newsletter']]);
    expect(await status(mailchimp.lists.createList({ name: 'No contact' }))).toBe(400);
    expect((await mailchimp.lists.getAllLists({ email: 'ada@example.com' })).lists.map((l) => l.id)).toEqual(['sandbox0001']);
  });

  it('runs batch operations through the real routes and serves their results as a gzipped tar', async () => {
    const member = `/lists/sandbox0001/members/${subscriberHash('bo@example.com')}`;
    const started = await mailchimp.batches.start({
      operations: [
        {
          method: 'PUT',
          path: member,
          operation_id: 'add-bo',
          body: JSON.stringify({ email_address: 'bo@example.com', status_if_new: 'subscribed', merge_fields: { FNAME: 'Bo' } }),
        },
        { method: 'POST', path: `${member}/tags`, operation_id: 'tag-bo', body: JSON.stringify({ tags: [{ name: 'vip', status: 'active' }] }) },
        { method: 'GET', path: member, operation_id: 'read-bo', params: { fields: 'email_address,tags' } },
        {
          method: 'PATCH',
          path: `/lists/sandbox0001/members/${subscriberHash('nobody@example.com')}`,
          operation_id: 'missing',
          body: '{"status":"unsubscribed"}',
        },
      ],
    });
    expect(started).toMatchObject({ status: 'pending', total_operations: 4 });

    let batch = started;
    for (let tries = 0; batch.status !== 'finished' && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 20));
      batch = await mailchimp.batches.status(started.id);
    }
    expect(batch).toMatchObject({ status: 'finished', finished_operations: 4, errored_operations: 1 });
    expect(v.sandbox.member('bo@example.com')).toMatchObject({ status: 'subscribed', merge_fields: { FNAME: 'Bo' }, tags: [{ name: 'vip' }] });
    expect((await mailchimp.batches.list()).batches.map((b) => b.id)).toEqual([started.id]);

    const archive = await fetch(batch.response_body_url);
    expect(archive.status).toBe(200);
    const files = untar(Buffer.from(await archive.arrayBuffer()));
    const results = [...files.values()].flatMap((text) => JSON.parse(text) as { status_code: number; operation_id: string; response: string }[]);
    expect(results.map((r) => [r.operation_id, r.status_code])).toEqual([
      ['add-bo', 200],
      ['tag-bo', 204],
      ['read-bo', 200],
      ['missing', 404],
    ]);
    expect(JSON.parse(results[2]!.response)).toEqual({ email_address: 'bo@example.com', tags: [{ id: expect.any(Number), name: 'vip' }] });
    expect(await status(mailchimp.batches.status('nosuchbatch'))).toBe(404);
  });

  it('answered every API call above in shapes the published spec allows', () => {
    // The results archive is a storage download, not an API call; a request refused on purpose breaks the spec on purpose (its answer must not).
    const api = v.exchanges.filter((x) => !x.path.startsWith('/sandbox-batch-results/'));
    expect(api.length).toBeGreaterThan(10);
    const problems = api.flatMap((x) =>
      mailchimpValidator()
        .check(x)
        .filter((p) => x.status < 400 || !/: (request body|query parameter)/.test(p)),
    );
    expect(problems).toEqual([]);
  });
});
