import { SPECS_DIR as SPECS, SpecValidator } from '../../support/openapi';

describe('SpecValidator', () => {
  const hubspot = SpecValidator.fromFiles([`${SPECS}/hubspot/crm-contacts-v3.json`, `${SPECS}/hubspot/crm-properties-v3.json`]);
  const mailchimp = SpecValidator.fromFiles([`${SPECS}/mailchimp/mailchimp-marketing-3.0.85.ballerina-oas3.json`]);
  const klaviyo = SpecValidator.fromFiles([`${SPECS}/klaviyo/stable-category-profiles.json`]);

  it('accepts a well-formed HubSpot batch upsert and its answer', () => {
    const problems = hubspot.check({
      method: 'POST',
      path: '/crm/v3/objects/contacts/batch/upsert',
      requestBody: { inputs: [{ idProperty: 'email', id: 'a@x.com', properties: { firstname: 'A' } }] },
      status: 200,
      responseBody: {
        status: 'COMPLETE',
        results: [
          { id: '101', properties: { firstname: 'A' }, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', archived: false, new: true },
        ],
        startedAt: '2026-01-01T00:00:00Z',
        completedAt: '2026-01-01T00:00:00Z',
      },
    });
    expect(problems).toEqual([]);
  });

  it('rejects a HubSpot batch upsert whose inputs lack the id', () => {
    const problems = hubspot.check({
      method: 'POST',
      path: '/crm/v3/objects/contacts/batch/upsert',
      requestBody: { inputs: [{ properties: { firstname: 'A' } }] },
      status: 200,
      responseBody: { status: 'COMPLETE', results: [], startedAt: '2026-01-01T00:00:00Z', completedAt: '2026-01-01T00:00:00Z' },
    });
    expect(problems.join('\n')).toMatch(/request body: .*id/);
  });

  it('reports an operation the spec does not have', () => {
    expect(hubspot.check({ method: 'POST', path: '/crm/v3/objects/contacts/teleport', status: 200 })[0]).toMatch(/no such operation/);
  });

  it('matches Mailchimp paths under the /3.0 base with real ids in camel-cased templates', () => {
    const ok = mailchimp.check({
      method: 'GET',
      path: '/3.0/lists/abc123/members?count=10&offset=0&since_last_changed=2026-01-01T00:00:00%2B00:00',
      status: 200,
      responseBody: { members: [], list_id: 'abc123', total_items: 0 },
    });
    expect(ok).toEqual([]);
    const bad = mailchimp.check({ method: 'GET', path: '/3.0/lists/abc123/members?count=lots', status: 200, responseBody: { members: [] } });
    expect(bad.join('\n')).toMatch(/query parameter count/);
  });

  it('validates Klaviyo JSON:API bodies and rejects an unknown attribute type', () => {
    const body = { data: { type: 'profile', attributes: { email: 'a@x.com', properties: { plan: 'pro' } } } };
    const response = {
      data: {
        type: 'profile',
        id: '01HZZZZZZZZZZZZZZZZZZZZZZZ',
        attributes: { email: 'a@x.com', properties: { plan: 'pro' } },
        links: { self: 'http://x/api/profiles/1' },
      },
    };
    expect(klaviyo.check({ method: 'POST', path: '/api/profile-import', requestBody: body, status: 200, responseBody: response })).toEqual([]);
    const bad = klaviyo.check({
      method: 'POST',
      path: '/api/profile-import',
      requestBody: { data: { type: 'person', attributes: {} } },
      status: 200,
      responseBody: response,
    });
    expect(bad.join('\n')).toMatch(/request body/);
  });
});
