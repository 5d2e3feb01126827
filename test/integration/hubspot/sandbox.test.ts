/** The HubSpot sandbox on its own, over HTTP: HubSpot's auth, limits, validation, error bodies and headers. */
import type { HubspotSandbox, SandboxExchange } from '../../../connectors/hubspot/sandbox';
import { startHubspotSandbox } from '../../../connectors/hubspot/sandbox';
import { hubspotValidator } from '../../support/hubspot';

describe('HubSpot sandbox', () => {
  let sb: HubspotSandbox;
  const exchanges: SandboxExchange[] = [];
  beforeAll(async () => {
    sb = await startHubspotSandbox({
      rateLimits: { tenSecondly: { limit: 1000, windowMs: 10_000 }, daily: { limit: 100_000, windowMs: 86_400_000 } },
      onExchange: (x) => exchanges.push(x),
    });
  });
  afterAll(() => sb.close());

  const call = async (method: string, path: string, body?: unknown, token = sb.accessToken) => {
    const res = await fetch(`${sb.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };

  it("refuses a missing or wrong bearer token with 401 and HubSpot's error body", async () => {
    const r = await call('GET', '/crm/v3/properties/contacts', undefined, 'nope');
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION', correlationId: expect.any(String) });
  });

  it('sends X-HubSpot-RateLimit-* headers on ordinary calls', async () => {
    const r = await call('GET', '/crm/v3/properties/contacts');
    expect(r.headers.get('x-hubspot-ratelimit-max')).toBe('1000');
    expect(r.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
    expect(Number(r.headers.get('x-hubspot-ratelimit-remaining'))).toBeLessThan(1000);
    expect(r.headers.get('x-hubspot-ratelimit-daily')).toBe('100000');
    expect(r.headers.get('x-hubspot-ratelimit-daily-remaining')).not.toBeNull();
  });

  it('refuses more than 100 inputs in one batch', async () => {
    const inputs = Array.from({ length: 101 }, (_, i) => ({ idProperty: 'email', id: `b${i}@example.com`, properties: {} }));
    const r = await call('POST', '/crm/v3/objects/contacts/batch/upsert', { inputs });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ category: 'VALIDATION_ERROR' });
  });

  it('validates property existence and type, naming each bad property', async () => {
    const r = await call('POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [{ idProperty: 'email', id: 'v@example.com', properties: { nosuch: 'x', hs_object_id: '5', lifecyclestage: 'martian' } }],
    });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^Property values were not valid/);
    expect(r.body.errors.map((e: { code: string }) => e.code).sort()).toEqual(['INVALID_OPTION', 'PROPERTY_DOESNT_EXIST', 'READ_ONLY_VALUE']);
  });

  it('refuses a date property value that is not midnight UTC', async () => {
    await call('POST', '/crm/v3/properties/contacts', { name: 'd', label: 'd', type: 'date', fieldType: 'date', groupName: 'contactinformation' });
    const r = await call('POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [{ idProperty: 'email', id: 'd@example.com', properties: { d: String(Date.UTC(2024, 0, 1, 5)) } }],
    });
    expect(r.status).toBe(400);
    expect(r.body.errors[0]).toMatchObject({ code: 'INVALID_DATE' });
  });

  it('refuses a fieldType that does not fit the type, and a duplicate property', async () => {
    expect(
      (await call('POST', '/crm/v3/properties/contacts', { name: 'n', label: 'n', type: 'number', fieldType: 'checkbox', groupName: 'contactinformation' }))
        .status,
    ).toBe(400);
    expect(
      (await call('POST', '/crm/v3/properties/contacts', { name: 'email', label: 'e', type: 'string', fieldType: 'text', groupName: 'contactinformation' }))
        .status,
    ).toBe(409);
  });

  it('filters, sorts and pages a search, and refuses to page past 10,000 results', async () => {
    sb.seed([
      { email: 's1@example.com', properties: { firstname: 'Zed' } },
      { email: 's2@example.com', properties: { firstname: 'Amy' } },
      { email: 's3@example.com' },
    ]);
    const body = {
      filterGroups: [{ filters: [{ propertyName: 'firstname', operator: 'HAS_PROPERTY' }] }],
      sorts: ['firstname'],
      properties: ['firstname'],
      limit: 1,
      after: '0',
    };
    const first = await call('POST', '/crm/v3/objects/contacts/search', body);
    expect(first.body).toMatchObject({ total: 2, results: [{ properties: { firstname: 'Amy' } }], paging: { next: { after: '1' } } });
    expect(first.headers.get('x-hubspot-ratelimit-remaining')).toBeNull();
    const second = await call('POST', '/crm/v3/objects/contacts/search', { ...body, after: '1' });
    expect(second.body.results[0].properties.firstname).toBe('Zed');
    expect(second.body.paging).toBeUndefined();
    const capped = await call('POST', '/crm/v3/objects/contacts/search', { ...body, after: '9999', limit: 2 });
    expect(capped.status).toBe(400);
  });

  it("answers 429 with HubSpot's body when the ten-second window is spent", async () => {
    const tight = await startHubspotSandbox({ rateLimits: { tenSecondly: { limit: 2, windowMs: 60_000 } } });
    try {
      const get = () => fetch(`${tight.url}/crm/v3/properties/contacts/groups`, { headers: { authorization: `Bearer ${tight.accessToken}` } });
      await get();
      await get();
      const r = await get();
      expect(r.status).toBe(429);
      expect(await r.json()).toMatchObject({
        status: 'error',
        errorType: 'RATE_LIMIT',
        policyName: 'TEN_SECONDLY_ROLLING',
        message: 'You have reached your ten_secondly_rolling limit.',
      });
      expect(r.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
      expect(tight.stats().rejected).toEqual({ TEN_SECONDLY_ROLLING: 1 });
    } finally {
      await tight.close();
    }
  });

  it('keeps list memberships for MANUAL lists and reports missing records', async () => {
    const [id] = sb.seed([{ email: 'l@example.com' }]);
    const list = await call('POST', '/crm/v3/lists', { name: 'segsync: x', objectTypeId: '0-1', processingType: 'MANUAL' });
    const r = await call('PUT', `/crm/v3/lists/${list.body.list.listId}/memberships/add-and-remove`, { recordIdsToAdd: [id, '424242'], recordIdsToRemove: [] });
    expect(r.body).toEqual({ recordsIdsAdded: [id], recordIdsRemoved: [], recordIdsMissing: ['424242'] });
    expect(sb.listMembers('segsync: x')).toEqual([id]);
  });

  it('answered everything above in shapes the published spec allows', () => {
    expect(exchanges.flatMap((x) => hubspotValidator().check(x))).toEqual([]);
  });
});
