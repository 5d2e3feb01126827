/** The sandbox on its own, over HTTP: auth, limits, paging and error documents, all spec-checked. */
import { subscriberHash } from '../../../src/model/identity';
import type { ValidatedSandbox } from '../../support/mailchimp';
import { startValidatedSandbox } from '../../support/mailchimp';

describe('Mailchimp sandbox', () => {
  let v: ValidatedSandbox;
  let call: (method: string, path: string, body?: unknown, key?: string) => Promise<{ status: number; body: Record<string, unknown> }>;
  beforeEach(async () => {
    v = await startValidatedSandbox();
    call = async (method, path, body, key = v.sandbox.apiKey) => {
      const res = await fetch(`${v.sandbox.url}/3.0${path}`, {
        method,
        headers: { authorization: `Basic ${Buffer.from(`anystring:${key}`).toString('base64')}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
  });
  afterEach(async () => {
    await v.sandbox.close();
    expect(v.problems()).toEqual([]);
  });

  it('refuses a missing or wrong API key with problem documents', async () => {
    const res = await fetch(`${v.sandbox.url}/3.0/ping`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await res.json()) as { title: string }).title).toBe('API Key Missing');
    expect((await call('GET', '/ping', undefined, 'wrong')).body.title).toBe('API Key Invalid');
    expect((await call('GET', '/ping')).body).toEqual({ health_status: "Everything's Chimpy!" });
  });

  it('refuses more than 500 members per batch and per segment call, and count above 1000', async () => {
    const members = Array.from({ length: 501 }, (_, i) => ({ email_address: `m${i}@x.com`, status: 'subscribed' }));
    expect(await call('POST', `/lists/${v.sandbox.listId}`, { members })).toMatchObject({ status: 400, body: { title: 'Invalid Resource' } });
    const seg = await call('POST', `/lists/${v.sandbox.listId}/segments`, { name: 'big', static_segment: [] });
    const emails = Array.from({ length: 501 }, (_, i) => `m${i}@x.com`);
    expect((await call('POST', `/lists/${v.sandbox.listId}/segments/${String(seg.body.id)}`, { members_to_add: emails })).status).toBe(400);
    expect((await call('GET', `/lists/${v.sandbox.listId}/members?count=1001`)).status).toBe(400);
    // That request is off-spec on purpose: the validator must say so; then it is set aside.
    expect(v.problems()).toEqual([expect.stringMatching(/query parameter count "1001"/)]);
    v.exchanges.splice(
      v.exchanges.findIndex((x) => x.path.includes('count=1001')),
      1,
    );
  });

  it('upserts with status_if_new, keeps an existing status, and refuses a resubscribe', async () => {
    const hash = subscriberHash('p@x.com');
    const path = `/lists/${v.sandbox.listId}/members/${hash}`;
    expect((await call('PUT', path, { email_address: 'p@x.com', status_if_new: 'pending' })).body.status).toBe('pending');
    expect((await call('PUT', path, { email_address: 'p@x.com', status_if_new: 'subscribed', merge_fields: { FNAME: 'P' } })).body).toMatchObject({
      status: 'pending',
      merge_fields: { FNAME: 'P' },
    });
    expect((await call('PATCH', path, { status: 'unsubscribed' })).body.status).toBe('unsubscribed');
    expect((await call('PUT', path, { email_address: 'p@x.com', status_if_new: 'subscribed', status: 'subscribed' })).body).toMatchObject({
      status: 400,
      title: 'Member In Compliance State',
    });
    expect((await call('PATCH', path, { merge_fields: { FNAME: true } })).body).toMatchObject({
      title: 'Invalid Resource',
      errors: [{ field: 'FNAME', message: expect.stringMatching(/Booleans/) }],
    });
  });

  it('lists members with since_last_changed, paging and the fields projection', async () => {
    v.sandbox.seed([{ email: 'a@x.com' }, { email: 'b@x.com' }, { email: 'c@x.com' }]);
    const page = await call(
      'GET',
      `/lists/${v.sandbox.listId}/members?count=2&offset=1&sort_field=last_changed&sort_dir=ASC&fields=members.email_address,total_items`,
    );
    expect(page.body).toEqual({ members: [{ email_address: 'b@x.com' }, { email_address: 'c@x.com' }], total_items: 3 });
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await call('GET', `/lists/${v.sandbox.listId}/members?since_last_changed=${encodeURIComponent(future)}`)).body.total_items).toBe(0);
    expect((await call('GET', '/lists/nope/members')).body).toMatchObject({ status: 404, title: 'Resource Not Found' });
  });

  it('reports batch entries it refuses in errors[] of a 200, and applies the rest', async () => {
    v.sandbox.seed([{ email: 'old@x.com', status: 'unsubscribed' }]);
    const res = await call('POST', `/lists/${v.sandbox.listId}`, {
      members: [
        { email_address: 'new@x.com', status: 'subscribed' },
        { email_address: 'old@x.com', status: 'subscribed' },
        { email_address: 'bad', status: 'subscribed' },
      ],
      update_existing: true,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total_created: 1, total_updated: 0, error_count: 2 });
    expect((res.body.errors as { email_address: string; error_code: string }[]).map((e) => [e.email_address, e.error_code])).toEqual([
      ['old@x.com', 'ERROR_GENERIC'],
      ['bad', 'ERROR_GENERIC'],
    ]);
    expect(v.sandbox.member('old@x.com')!.status).toBe('unsubscribed');
  });
});
