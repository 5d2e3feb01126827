/**
 * Pins the exact HTTP requests the connector makes through the real SDK (nock intercepts them). The
 * base URL contains "server" on purpose: the SDK's `server` substitution must not touch it.
 */
import nock from 'nock';
import type { ContactChange, RemotePage } from '../../../connectors/connector';
import { createMailchimpConnector } from '../../../connectors/mailchimp';
import { seenKey } from '../../../connectors/mailchimp/pull';
import { EspPermanentError } from '../../../src/errors';
import { subscriberHash } from '../../../src/model/identity';
import { systemClock } from '../../../src/model/clock';
import { memoryLogger } from '../../support/mailchimp';

const BASE = 'http://mock-server.test:4010';
const KEY = 'k3y0123456789-us1';
const LIST = 'L1';
const AUTH = `Basic ${Buffer.from(`user:${KEY}`).toString('base64')}`;

const MERGE_FIELDS = {
  merge_fields: [
    { merge_id: 1, tag: 'FNAME', name: 'First Name', type: 'text' },
    { merge_id: 2, tag: 'PLAN', name: 'plan', type: 'dropdown', options: { choices: ['free', 'pro'] } },
    { merge_id: 3, tag: 'VIP', name: 'vip', type: 'dropdown', options: { choices: ['true', 'false'] } },
  ],
  total_items: 3,
};

function connector() {
  return createMailchimpConnector(
    {
      apiKey: KEY,
      listId: LIST,
      baseUrl: BASE,
      maxConnections: 2,
      timeoutMs: 1000,
      backoffBaseMs: 1,
      backoffMaxMs: 2,
      webhookSecret: 'sec',
      webhookUrl: 'https://segsync.example.com/webhooks/mailchimp',
    },
    { clock: systemClock, logger: memoryLogger() },
  );
}

function change(email: string, over: Partial<ContactChange> = {}): ContactChange {
  return { ref: { email }, set: {}, clear: [], addTags: [], removeTags: [], ...over };
}

function api() {
  return nock(BASE, { reqheaders: { authorization: AUTH, 'content-type': /application\/json/ } });
}

beforeAll(() => nock.disableNetConnect());
// Undo nock's patch of Node's http: on 2 cores jest runs every file in one process, and a request
// interceptor left behind changes how later files' real HTTP calls behave (their timeouts among them).
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe('Mailchimp requests (contract)', () => {
  it('writes known members by PATCH with merge fields only (no status), booleans as strings', async () => {
    api().get(`/3.0/lists/${LIST}/merge-fields`).query({ count: '1000', offset: '0' }).reply(200, MERGE_FIELDS);
    api()
      .patch(`/3.0/lists/${LIST}/members/${subscriberHash('a@x.com')}`, { merge_fields: { PLAN: 'pro', VIP: 'true', FNAME: '' } })
      .query({ skip_merge_validation: 'true' })
      .reply(200, { id: subscriberHash('a@x.com'), email_address: 'a@x.com', status: 'transactional', last_changed: '2026-01-01T00:00:00+00:00' });
    api()
      .patch(`/3.0/lists/${LIST}/members/${subscriberHash('b@x.com')}`, { merge_fields: { VIP: 'false' } })
      .query({ skip_merge_validation: 'true' })
      .reply(200, { id: subscriberHash('b@x.com'), email_address: 'b@x.com', status: 'unsubscribed' });
    const results = await connector().push([
      change('A@x.com', { set: { PLAN: 'pro', VIP: true }, clear: ['FNAME'], remoteConsent: 'subscribed' }),
      change('b@x.com', { set: { VIP: false }, remoteConsent: 'unsubscribed', localConsent: 'subscribed' }),
    ]);
    // The answer's status is what Mailchimp holds now: segsync learns it, it does not write it.
    expect(results[0]).toEqual({
      ref: { email: 'A@x.com' },
      status: 'ok',
      externalId: subscriberHash('a@x.com'),
      modifiedAt: Date.UTC(2026, 0, 1),
      consent: 'non-marketing',
    });
  });

  it('carries an opt-out it was asked for as PATCH status unsubscribed, and nothing else', async () => {
    api()
      .patch(`/3.0/lists/${LIST}/members/${subscriberHash('o@x.com')}`, { merge_fields: {}, status: 'unsubscribed' })
      .query({ skip_merge_validation: 'true' })
      .reply(200, { id: subscriberHash('o@x.com'), email_address: 'o@x.com', status: 'unsubscribed' });
    const [r] = await connector().push([change('o@x.com', { remoteConsent: 'subscribed', localConsent: 'unsubscribed', optOut: { at: 1 } })]);
    expect(r).toMatchObject({ status: 'ok', consent: 'unsubscribed' });
  });

  it('creates unseen members with update_existing false, then updates the existing ones with PATCH, never PUT with status', async () => {
    api().get(`/3.0/lists/${LIST}/merge-fields`).query(true).reply(200, MERGE_FIELDS);
    api()
      .post(`/3.0/lists/${LIST}`, {
        members: [
          { email_address: 'new@x.com', status: 'pending', merge_fields: { PLAN: 'free' } },
          { email_address: 'old@x.com', status: 'pending', merge_fields: { PLAN: 'free' } },
        ],
        update_existing: false,
        sync_tags: false,
      })
      .query({ skip_merge_validation: 'true' })
      .reply(200, {
        new_members: [{ id: 'n', email_address: 'new@x.com' }],
        updated_members: [],
        errors: [{ email_address: 'old@x.com', error: 'old@x.com is already a list member', error_code: 'ERROR_CONTACT_EXISTS' }],
        total_created: 1,
        total_updated: 0,
        error_count: 1,
      });
    api()
      .patch(`/3.0/lists/${LIST}/members/${subscriberHash('old@x.com')}`, { merge_fields: { PLAN: 'free' } })
      .query({ skip_merge_validation: 'true' })
      .reply(200, { id: subscriberHash('old@x.com'), email_address: 'old@x.com', status: 'unsubscribed', last_changed: '2026-01-02T00:00:00+00:00' });
    const results = await connector().push([change('new@x.com', { set: { PLAN: 'free' } }), change('old@x.com', { set: { PLAN: 'free' } })]);
    expect(results.map((r) => [r.status, r.status === 'ok' && r.created])).toEqual([
      ['ok', true],
      ['ok', undefined],
    ]);
  });

  it('updates a pending member by PATCH (no second opt-in mail), and reports "Member In Compliance State" as permanent', async () => {
    const hash = subscriberHash('p@x.com');
    api().get(`/3.0/lists/${LIST}/merge-fields`).query(true).reply(200, MERGE_FIELDS);
    api()
      .patch(`/3.0/lists/${LIST}/members/${hash}`, { merge_fields: { PLAN: 'pro' } })
      .query({ skip_merge_validation: 'true' })
      .reply(
        400,
        {
          type: 'https://mailchimp.com/developer/marketing/docs/errors/',
          title: 'Member In Compliance State',
          status: 400,
          detail: 'p@x.com is in a compliance state',
          instance: 'i',
        },
        { 'content-type': 'application/problem+json' },
      );
    api()
      .get(`/3.0/lists/${LIST}/segments`)
      .query({ type: 'static', count: '1000', offset: '0', fields: 'segments.id,segments.name,segments.member_count,segments.updated_at,total_items' })
      .reply(200, { segments: [], total_items: 0 });
    api().post(`/3.0/lists/${LIST}/segments`, { name: 'vip', static_segment: [] }).reply(200, { id: 77, name: 'vip', type: 'static', member_count: 0 });
    api()
      .post(`/3.0/lists/${LIST}/segments/77`, { members_to_add: ['ok@x.com'], members_to_remove: [] })
      .reply(200, { total_added: 1, total_removed: 0, error_count: 0, errors: [] });
    const [pending, tagged] = await connector().push([
      change('p@x.com', { set: { PLAN: 'pro' }, remoteConsent: 'pending', addTags: ['vip'] }),
      change('ok@x.com', { remoteConsent: 'subscribed', addTags: ['vip'] }),
    ]);
    expect(pending!.status).toBe('failed');
    expect(pending!.status === 'failed' && pending!.error).toBeInstanceOf(EspPermanentError);
    expect(pending!.status === 'failed' && pending!.error.hint).toMatch(/never retries this/);
    expect(tagged!.status).toBe('ok');
  });

  it('reports the tags a member already had: the answer names only the members it added, in any letter case', async () => {
    api()
      .get(`/3.0/lists/${LIST}/segments`)
      .query({ type: 'static', count: '1000', offset: '0', fields: 'segments.id,segments.name,segments.member_count,segments.updated_at,total_items' })
      .reply(200, { segments: [{ id: 77, name: 'VIP', type: 'static', member_count: 1 }], total_items: 1 });
    api()
      .post(`/3.0/lists/${LIST}/segments/77`, { members_to_add: ['new@x.com', 'had@x.com', 'off@x.com'], members_to_remove: [] })
      .reply(200, {
        members_added: [{ email_address: 'New@X.com' }],
        errors: [{ email_addresses: ['off@x.com'], error: 'Email addresses do not belong to this list' }],
        total_added: 1,
        total_removed: 0,
        error_count: 1,
      });
    const [added, had, off] = await connector().push([
      change('new@x.com', { remoteConsent: 'subscribed', addTags: ['vip'] }),
      change('had@x.com', { remoteConsent: 'subscribed', addTags: ['vip'] }),
      change('off@x.com', { remoteConsent: 'subscribed', addTags: ['vip'] }),
    ]);
    expect(added).toEqual({ ref: expect.anything(), status: 'ok', externalId: expect.any(String) });
    expect(had).toEqual({ ref: expect.anything(), status: 'ok', externalId: expect.any(String), tagsHeld: ['vip'] });
    expect(off!.status).toBe('failed');
  });

  it('pulls with since_last_changed, before_last_changed, last_changed ascending and the fields it needs', async () => {
    const since = '2026-01-01T00:00:05.000Z';
    const x = { id: 'x', email_address: 'x@x.com', status: 'subscribed' as const, last_changed: '2026-01-01T00:00:05+00:00' };
    const cursor = JSON.stringify({ v: 1, members: { since, offset: 0, skip: [seenKey(x)] }, archived: { since, offset: 0, skip: [] }, tags: {} });
    const fields =
      'members.id,members.contact_id,members.email_address,members.status,members.last_changed,members.timestamp_opt,members.merge_fields,members.tags,members.tags_count,total_items';
    const common = {
      fields,
      count: '1000',
      offset: '0',
      since_last_changed: '2026-01-01T00:00:04+00:00',
      before_last_changed: '2026-01-02T00:00:00+00:00',
      sort_field: 'last_changed',
      sort_dir: 'ASC',
    };
    api()
      .get(`/3.0/lists/${LIST}/members`)
      .query(common)
      .reply(200, {
        members: [
          x,
          {
            id: 'y',
            contact_id: 'c-y',
            email_address: 'Y@x.com',
            status: 'transactional',
            last_changed: '2026-01-01T00:00:05+00:00',
            tags: [{ id: 1, name: 'vip' }],
            tags_count: 1,
          },
        ],
        total_items: 2,
      });
    api()
      .get(`/3.0/lists/${LIST}/members`)
      .query({ ...common, status: 'archived' })
      .reply(200, { members: [], total_items: 0 });
    const pages: RemotePage[] = [];
    for await (const p of connector().pull({ cursor, until: new Date('2026-01-02T00:00:00Z'), fields: [] })) pages.push(p);
    expect(pages.flatMap((p) => p.contacts)).toEqual([
      {
        externalId: 'y',
        recordKey: 'c-y',
        email: 'y@x.com',
        fields: {},
        tags: ['vip'],
        consent: 'non-marketing',
        modifiedAt: Date.parse('2026-01-01T00:00:05Z'),
      },
    ]);
  });

  it('erases with delete-permanent and registers the webhook with the secret and sources.api false', async () => {
    api()
      .post(`/3.0/lists/${LIST}/members/${subscriberHash('gone@x.com')}/actions/delete-permanent`)
      .reply(204);
    expect(await connector().erase({ email: 'gone@x.com' })).toMatchObject({ status: 'ok' });

    api().get(`/3.0/lists/${LIST}/merge-fields`).query(true).reply(200, MERGE_FIELDS);
    api().get(`/3.0/lists/${LIST}/webhooks`).reply(200, { webhooks: [] });
    api()
      .post(`/3.0/lists/${LIST}/webhooks`, {
        url: 'https://segsync.example.com/webhooks/mailchimp?secret=sec',
        events: { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: false },
        sources: { user: true, admin: true, api: false },
      })
      .reply(200, { id: 'w1', url: 'https://segsync.example.com/webhooks/mailchimp?secret=sec' });
    expect((await connector().ensureSchema([], [])).created).toEqual(['webhook']);
  });
});
