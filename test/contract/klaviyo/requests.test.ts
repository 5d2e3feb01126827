import nock from 'nock';
import type { ContactChange } from '../../../connectors/connector';
import { createKlaviyoConnector } from '../../../connectors/klaviyo';
import { PROFILE_ATTRIBUTES } from '../../../connectors/klaviyo/fields';
import { ManualClock } from '../../../src/model/clock';
import { silentLogger } from '../../support/klaviyo';

const API = 'https://a.klaviyo.com';
const KEY = 'pk_contract_key';

function change(email: string, extra: Partial<ContactChange> = {}): ContactChange {
  return { ref: { email }, set: {}, clear: [], addTags: [], removeTags: [], ...extra };
}

const profileDoc = (id: string, attributes: Record<string, unknown> = {}) => ({
  data: {
    type: 'profile',
    id,
    attributes: { email: 'a@x.com', updated: '2026-01-01T00:00:00+00:00', properties: {}, ...attributes },
    links: { self: `${API}/api/profiles/${id}/` },
  },
});

const connector = (extra = {}) =>
  createKlaviyoConnector({ apiKey: KEY, jobPollIntervalMs: 1, ...extra }, { clock: new ManualClock(Date.UTC(2026, 0, 1)), logger: silentLogger });

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});
// Undo nock's patch of Node's http: on 2 cores jest runs every file in one process, and a request
// interceptor left behind changes how later files' real HTTP calls behave (their timeouts among them).
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

describe('Klaviyo wire requests (pinned)', () => {
  test('profile-import carries snake_case attributes, properties and tag appends, with key and revision headers', async () => {
    let body: unknown;
    nock(API, { reqheaders: { authorization: `Klaviyo-API-Key ${KEY}`, revision: '2026-07-15', 'content-type': 'application/json' } })
      .post('/api/profile-import', (b) => ((body = b), true))
      .query({ 'additional-fields[profile]': 'subscriptions' })
      .reply(201, profileDoc('01A'));
    const [r] = await connector().push([
      change('a@x.com', { set: { first_name: 'Ann', external_id: 'crm-1', 'location.city': 'Oslo', plan: 'pro' }, clear: ['old'], addTags: ['vip'] }),
    ]);
    expect(r).toMatchObject({ status: 'ok', externalId: '01A', created: true });
    expect(body).toEqual({
      data: {
        type: 'profile',
        attributes: { email: 'a@x.com', first_name: 'Ann', external_id: 'crm-1', location: { city: 'Oslo' }, properties: { plan: 'pro', old: null } },
        meta: { patch_properties: { append: { segsync_tags: ['vip'] } } },
      },
    });
  });

  test.each(Object.keys(PROFILE_ATTRIBUTES))('the SDK sends the %s attribute (none is silently dropped)', async (field) => {
    let body: { data: { attributes: Record<string, unknown> } } | undefined;
    nock(API)
      .post('/api/profile-import', (b) => ((body = b), true))
      .query(true)
      .reply(200, profileDoc('01A'));
    const value = field === 'phone_number' ? '+14155550100' : 'v';
    await connector().push([change('a@x.com', { set: { [field]: value } })]);
    expect(body!.data.attributes[field]).toBe(value);
  });

  test('a known profile is PATCHed by id with patch_properties append and unappend', async () => {
    let body: unknown;
    nock(API)
      .patch('/api/profiles/01B', (b) => ((body = b), true))
      .query({ 'additional-fields[profile]': 'subscriptions' })
      .reply(200, profileDoc('01B'));
    const [r] = await connector().push([
      change('b@x.com', { ref: { email: 'b@x.com', externalId: '01B' }, addTags: ['gold', 'beta'], removeTags: ['beta', 'old'], remoteTags: ['old', 'gold'] }),
    ]);
    expect(r).toMatchObject({ status: 'ok', created: false });
    // `gold` is already on Klaviyo; `beta` is both added and removed (removal wins) and Klaviyo lacks it.
    expect(body).toEqual({
      data: { type: 'profile', id: '01B', attributes: { email: 'b@x.com' }, meta: { patch_properties: { unappend: { segsync_tags: ['old'] } } } },
    });
  });

  test('a large batch becomes one bulk import job, polled, with its import errors read', async () => {
    let jobBody: { data: { attributes: { profiles: { data: unknown[] } } } } | undefined;
    const job = (status: string) => ({
      data: {
        type: 'profile-bulk-import-job',
        id: 'J1',
        attributes: { status, created_at: '2026-01-01T00:00:00+00:00', total_count: 3, completed_count: 2, failed_count: 1 },
        links: { self: `${API}/api/profile-bulk-import-jobs/J1/` },
      },
    });
    nock(API)
      .post('/api/profile-bulk-import-jobs', (b) => ((jobBody = b), true))
      .reply(202, job('queued'))
      .get('/api/profile-bulk-import-jobs/J1')
      .reply(200, job('processing'))
      .get('/api/profile-bulk-import-jobs/J1')
      .reply(200, job('complete'))
      .get('/api/profile-bulk-import-jobs/J1/import-errors')
      .query({ 'page[size]': '100' })
      .reply(200, {
        data: [
          {
            type: 'import-error',
            id: 'E1',
            attributes: { code: 'invalid', title: 'Invalid', detail: 'bad zip', source: { pointer: '/data/attributes/profiles/data/1/attributes/location' } },
          },
        ],
        links: { self: `${API}/x` },
      });
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const c = createKlaviyoConnector({ apiKey: KEY, bulkThreshold: 3, jobPollIntervalMs: 1000 }, { clock, logger: silentLogger });
    let done = false;
    const pushing = c.push([change('a@x.com', { set: { n: 1 } }), change('b@x.com', { addTags: ['t'] }), change('c@x.com')]).finally(() => (done = true));
    for (let i = 0; i < 100 && !done; i++) {
      await clock.advance(1000);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const results = await pushing;
    expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'ok']);
    expect(jobBody).toEqual({
      data: {
        type: 'profile-bulk-import-job',
        attributes: {
          profiles: {
            data: [
              { type: 'profile', attributes: { email: 'a@x.com', properties: { n: 1 } } },
              { type: 'profile', attributes: { email: 'b@x.com' }, meta: { patch_properties: { append: { segsync_tags: ['t'] } } } },
              { type: 'profile', attributes: { email: 'c@x.com' } },
            ],
          },
        },
      },
    });
  });

  test('subscribe job: email marketing consent only, no list, after Klaviyo says NEVER_SUBSCRIBED', async () => {
    let body: unknown;
    nock(API)
      .post('/api/profile-import')
      .query(true)
      .reply(
        201,
        profileDoc('01C', { subscriptions: { email: { marketing: { consent: 'NEVER_SUBSCRIBED', can_receive_email_marketing: false, suppression: [] } } } }),
      )
      .post('/api/profile-subscription-bulk-create-jobs', (b) => ((body = b), true))
      .reply(202);
    await connector().push([change('c@x.com', { localConsent: 'subscribed' })]);
    expect(body).toEqual({
      data: {
        type: 'profile-subscription-bulk-create-job',
        attributes: {
          profiles: { data: [{ type: 'profile', attributes: { email: 'c@x.com', subscriptions: { email: { marketing: { consent: 'SUBSCRIBED' } } } } }] },
        },
      },
    });
  });

  test('list membership: ≤ 1000 profile identifiers per call to the tag list', async () => {
    let body: unknown;
    nock(API)
      .patch('/api/profiles/01D')
      .query(true)
      .reply(200, profileDoc('01D'))
      .post('/api/lists/L9/relationships/profiles', (b) => ((body = b), true))
      .reply(204);
    await connector({ tagLists: { vip: 'L9' } }).push([change('d@x.com', { ref: { email: 'd@x.com', externalId: '01D' }, addTags: ['vip'] })]);
    expect(body).toEqual({ data: [{ type: 'profile', id: '01D' }] });
  });

  test('erase: one data-privacy deletion job by email', async () => {
    let body: unknown;
    nock(API)
      .post('/api/data-privacy-deletion-jobs', (b) => ((body = b), true))
      .reply(202);
    expect((await connector().erase({ email: 'e@x.com', externalId: '01E' })).status).toBe('ok');
    expect(body).toEqual({
      data: { type: 'data-privacy-deletion-job', attributes: { profile: { data: { type: 'profile', attributes: { email: 'e@x.com' } } } } },
    });
  });

  test('pull asks for updated profiles in a window, sorted, 100 a page, with subscriptions', async () => {
    nock(API)
      .get('/api/profiles')
      .query({
        'additional-fields[profile]': 'subscriptions',
        filter: 'less-than(updated,2026-02-01T00:00:00.000Z)',
        'page[size]': '100',
        sort: 'updated',
      })
      .reply(200, { data: [profileDoc('01F').data], links: { self: `${API}/api/profiles`, next: `${API}/api/profiles?page%5Bcursor%5D=abc` } })
      .get('/api/profiles')
      .query((q) => q['page[cursor]'] === 'abc')
      .reply(200, { data: [], links: { self: `${API}/api/profiles` } });
    const pages = [];
    for await (const p of connector().pull({ cursor: undefined, until: new Date('2026-02-01T00:00:00Z'), fields: ['plan'] })) pages.push(p);
    expect(pages.flatMap((p) => p.contacts).map((c) => c.externalId)).toEqual(['01F']);
  });

  test('RateLimit-Remaining: 0 holds the bucket until RateLimit-Reset', async () => {
    nock(API)
      .post('/api/profile-import')
      .query(true)
      .reply(200, profileDoc('01G'), { 'RateLimit-Limit': '75', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '3' });
    const c = connector();
    await c.push([change('g@x.com')]);
    expect(c.client.limiter.waitFor('profiles')).toBe(3000);
    expect(c.client.limiter.waitFor('events')).toBe(0);
  });

  test('the SDK does not retry behind the limiter: one 429 is one request, reported as retry with its Retry-After', async () => {
    nock(API)
      .post('/api/profile-import')
      .query(true)
      .reply(429, { errors: [{ id: 'x', status: 429, code: 'throttled', title: 'Throttled', detail: 'Throttled' }] }, { 'Retry-After': '9' });
    const [r] = await connector({ maxRetries: 0 }).push([change('h@x.com')]);
    expect(r).toMatchObject({ status: 'retry', retryAfterMs: 9000 });
  });

  test('the 23.0.0 SDK cannot serialise patch_properties.unset, which is why clears are sent as null', async () => {
    const { ApiKeySession, ProfilesApi, RetryWithExponentialBackoff } = await import('klaviyo-api');
    const api = new ProfilesApi(new ApiKeySession(KEY, new RetryWithExponentialBackoff({ numRetries: 0 })));
    const query = { data: { type: 'profile', id: '01Z', attributes: {}, meta: { patchProperties: { unset: ['plan'] } } } };
    await expect(api.updateProfile('01Z', query as never)).rejects.toThrow(/getAttributeTypeMap/);
  });
});
