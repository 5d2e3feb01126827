/** The exact HTTP requests the HubSpot connector makes (pinned with nock against api.hubapi.com). */
import nock from 'nock';
import { systemClock } from '../../../src/model/clock';
import { createHubspotConnector } from '../../../connectors/hubspot';
import { recordingLogger } from '../../support/hubspot';

const API = 'https://api.hubapi.com';
const TOKEN = 'pat-na1-test';

const prop = (name: string, type: string, fieldType: string, options: string[] = [], groupName = 'contactinformation') => ({
  name,
  label: name,
  type,
  fieldType,
  groupName,
  description: '',
  options: options.map((v, i) => ({ label: v, value: v, hidden: false, displayOrder: i })),
});
const DEFAULTS = [prop('email', 'string', 'text'), prop('firstname', 'string', 'text'), prop('lastmodifieddate', 'datetime', 'date')];

function connector(extra: Parameters<typeof createHubspotConnector>[0] extends infer O ? Partial<O> : never = {}) {
  return createHubspotConnector({ accessToken: TOKEN, backoffMs: 1, maxAttempts: 1, ...extra }, { clock: systemClock, logger: recordingLogger() });
}

function api() {
  return nock(API, { reqheaders: { authorization: `Bearer ${TOKEN}`, 'user-agent': /^hubspot-api-client-nodejs; 13\./ } });
}

const batch = (results: unknown[], extra: object = {}) => ({
  status: 'COMPLETE',
  results,
  startedAt: '2026-11-24T00:00:00Z',
  completedAt: '2026-11-24T00:00:01Z',
  ...extra,
});
const record = (id: string, properties: Record<string, string>, isNew?: boolean) => ({
  id,
  properties,
  createdAt: '2026-11-24T00:00:00Z',
  updatedAt: '2026-11-24T00:00:01Z',
  archived: false,
  ...(isNew !== undefined ? { new: isNew } : {}),
});

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
// Undo nock's patch of Node's http: on 2 cores jest runs every file in one process, and a request
// interceptor left behind changes how later files' real HTTP calls behave (their timeouts among them).
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

describe('HubSpot contract: schema', () => {
  it('reads the properties and groups, creates the segsync group, the missing fields and the tag property', async () => {
    const scope = api()
      .get('/crm/v3/properties/contacts')
      .query({ archived: 'false' })
      .reply(200, { results: DEFAULTS })
      .get('/crm/v3/properties/contacts/groups')
      .reply(200, { results: [{ name: 'contactinformation', label: 'Contact information', displayOrder: 0, archived: false }] })
      .post('/crm/v3/properties/contacts/groups', { name: 'segsync', label: 'segsync', displayOrder: -1 })
      .reply(201, { name: 'segsync', label: 'segsync', displayOrder: -1, archived: false })
      .post('/crm/v3/properties/contacts', { name: 'ltv', label: 'Lifetime value', type: 'number', fieldType: 'number', groupName: 'segsync' })
      .reply(201, prop('ltv', 'number', 'number', [], 'segsync'))
      .post('/crm/v3/properties/contacts', {
        name: 'vip',
        label: 'vip',
        type: 'bool',
        fieldType: 'booleancheckbox',
        groupName: 'segsync',
        options: [
          { label: 'Yes', value: 'true', hidden: false, displayOrder: 0 },
          { label: 'No', value: 'false', hidden: false, displayOrder: 1 },
        ],
      })
      .reply(201, prop('vip', 'bool', 'booleancheckbox', ['true', 'false'], 'segsync'))
      .post('/crm/v3/properties/contacts', {
        name: 'segsync_tags',
        label: 'segsync tags',
        type: 'enumeration',
        fieldType: 'checkbox',
        groupName: 'segsync',
        description: 'Tags segsync keeps in sync; other options are left alone.',
        options: [
          { label: 'a', value: 'a', hidden: false, displayOrder: 0 },
          { label: 'b', value: 'b', hidden: false, displayOrder: 1 },
        ],
      })
      .reply(201, prop('segsync_tags', 'enumeration', 'checkbox', ['a', 'b'], 'segsync'));
    const c = connector();
    const report = await c.ensureSchema(
      [
        { name: 'email', type: 'string' },
        { name: 'ltv', type: 'number', label: 'Lifetime value' },
        { name: 'vip', type: 'boolean' },
      ],
      ['a', 'b'],
    );
    expect(report).toEqual({ created: ['ltv', 'vip', 'segsync_tags'], existing: ['email'], updated: [], problems: [] });
    scope.done();
    await c.close();
  });

  it('adds missing tag options with a PATCH that keeps every existing option', async () => {
    const other = { label: 'Partner', value: 'partner', hidden: false, displayOrder: 0, description: 'set by sales' };
    const scope = api()
      .get('/crm/v3/properties/contacts')
      .query({ archived: 'false' })
      .reply(200, { results: [...DEFAULTS, prop('segsync_tags', 'enumeration', 'checkbox', ['partner'])] })
      .get('/crm/v3/properties/contacts/segsync_tags')
      .query({ archived: 'false' })
      .reply(200, { ...prop('segsync_tags', 'enumeration', 'checkbox'), options: [other] })
      .patch('/crm/v3/properties/contacts/segsync_tags', { options: [other, { label: 'vip', value: 'vip', hidden: false, displayOrder: 1 }] })
      .reply(200, { ...prop('segsync_tags', 'enumeration', 'checkbox'), options: [other, { label: 'vip', value: 'vip', hidden: false, displayOrder: 1 }] });
    const c = connector();
    const report = await c.ensureSchema([], ['vip', 'partner']);
    expect(report.updated).toEqual(['segsync_tags']);
    scope.done();
    await c.close();
  });
});

describe('HubSpot contract: push and tags', () => {
  const schema = () =>
    api()
      .get('/crm/v3/properties/contacts')
      .query({ archived: 'false' })
      .reply(200, {
        results: [
          ...DEFAULTS,
          prop('ltv', 'number', 'number'),
          prop('since', 'date', 'date'),
          prop('segsync_tags', 'enumeration', 'checkbox', ['vip', 'beta', 'partner']),
        ],
      });

  it('upserts new contacts by email and updates known ones by id, sending only changed fields as strings', async () => {
    const scope = schema()
      .post('/crm/v3/objects/contacts/batch/read', {
        inputs: [{ id: 'new@example.com' }],
        properties: ['segsync_tags', 'email'],
        propertiesWithHistory: [],
        idProperty: 'email',
      })
      .reply(200, batch([]))
      .post('/crm/v3/objects/contacts/batch/upsert', {
        inputs: [
          {
            idProperty: 'email',
            id: 'new@example.com',
            properties: { ltv: '12.5', since: String(Date.UTC(2024, 2, 5)), segsync_tags: 'vip' },
            objectWriteTraceId: '0',
          },
        ],
      })
      .reply(200, batch([record('201', { email: 'new@example.com', lastmodifieddate: '2026-11-24T00:00:01.000Z' }, true)]))
      .post('/crm/v3/objects/contacts/batch/update', { inputs: [{ id: '101', properties: { firstname: 'Ada', ltv: '' }, objectWriteTraceId: '1' }] })
      .reply(200, batch([record('101', { lastmodifieddate: '2026-11-24T00:00:02.000Z' })]));
    const c = connector();
    const results = await c.push([
      { ref: { email: 'new@example.com' }, set: { ltv: 12.5, since: '2024-03-05T23:59:00Z' }, clear: [], addTags: ['vip'], removeTags: [], remoteTags: [] },
      { ref: { email: 'old@example.com', externalId: '101' }, set: { firstname: 'Ada' }, clear: ['ltv'], addTags: [], removeTags: [] },
    ]);
    expect(results).toEqual([
      { ref: { email: 'new@example.com' }, status: 'ok', externalId: '201', created: true, modifiedAt: Date.parse('2026-11-24T00:00:01.000Z') },
      { ref: { email: 'old@example.com', externalId: '101' }, status: 'ok', externalId: '101', modifiedAt: Date.parse('2026-11-24T00:00:02.000Z') },
    ]);
    scope.done();
    await c.close();
  });

  it('reads the current tags first, and writes (remote ∪ add) ∖ remove', async () => {
    const scope = schema()
      .post('/crm/v3/objects/contacts/batch/read', {
        inputs: [{ id: 'a@example.com' }],
        properties: ['segsync_tags', 'email'],
        propertiesWithHistory: [],
        idProperty: 'email',
      })
      .reply(200, batch([record('301', { email: 'a@example.com', segsync_tags: 'partner;beta' })]))
      .post('/crm/v3/objects/contacts/batch/upsert', {
        inputs: [{ idProperty: 'email', id: 'a@example.com', properties: { segsync_tags: 'partner;vip' }, objectWriteTraceId: '0' }],
      })
      .reply(200, batch([record('301', { email: 'a@example.com' }, false)]));
    const c = connector();
    const [r] = await c.push([{ ref: { email: 'a@example.com' }, set: {}, clear: [], addTags: ['vip'], removeTags: ['beta'] }]);
    expect(r).toMatchObject({ status: 'ok', externalId: '301', created: false });
    scope.done();
    await c.close();
  });

  it('reads the tags even where the last value seen is given, and writes nothing for a tag change HubSpot already holds', async () => {
    const scope = schema()
      .post('/crm/v3/objects/contacts/batch/read', { inputs: [{ id: '9' }], properties: ['segsync_tags', 'email'], propertiesWithHistory: [] })
      .reply(200, batch([record('9', { email: 'a@example.com', segsync_tags: 'vip' })]));
    const c = connector();
    const [r] = await c.push([
      { ref: { email: 'a@example.com', externalId: '9' }, set: {}, clear: [], addTags: ['vip'], removeTags: ['beta'], remoteTags: ['beta'] },
    ]);
    expect(r).toMatchObject({ status: 'ok', externalId: '9' });
    scope.done();
    await c.close();
  });

  it('mirrors tags into MANUAL lists: finds or creates the list, then one add-and-remove per list', async () => {
    const scope = schema()
      .post('/crm/v3/objects/contacts/batch/read', { inputs: [{ id: '7' }], properties: ['segsync_tags', 'email'], propertiesWithHistory: [] })
      .reply(200, batch([record('7', { email: 'x@example.com' })]))
      .post('/crm/v3/objects/contacts/batch/update', { inputs: [{ id: '7', properties: { segsync_tags: 'vip' }, objectWriteTraceId: '0' }] })
      .reply(200, batch([record('7', {})]))
      .get(`/crm/v3/lists/object-type-id/0-1/name/${encodeURIComponent('segsync: vip')}`)
      .query({ includeFilters: 'false' })
      .reply(404, { status: 'error', message: 'List does not exist', correlationId: '00000000-0000-4000-8000-000000000000', category: 'OBJECT_NOT_FOUND' })
      .post('/crm/v3/lists', { name: 'segsync: vip', objectTypeId: '0-1', processingType: 'MANUAL' })
      .reply(200, { list: { listId: '55', listVersion: 1, name: 'segsync: vip', objectTypeId: '0-1', processingStatus: 'COMPLETE', processingType: 'MANUAL' } })
      .put('/crm/v3/lists/55/memberships/add-and-remove', { recordIdsToAdd: ['7'], recordIdsToRemove: [] })
      .reply(200, { recordsIdsAdded: ['7'], recordIdsRemoved: [], recordIdsMissing: [] });
    const c = connector({ tagLists: true });
    const [r] = await c.push([{ ref: { email: 'x@example.com', externalId: '7' }, set: {}, clear: [], addTags: ['vip'], removeTags: [], remoteTags: [] }]);
    expect(r).toMatchObject({ status: 'ok' });
    scope.done();
    await c.close();
  });
});

describe('HubSpot contract: pull', () => {
  const schema = () =>
    api()
      .get('/crm/v3/properties/contacts')
      .query({ archived: 'false' })
      .reply(200, { results: [...DEFAULTS, prop('segsync_tags', 'enumeration', 'checkbox', ['vip'])] });

  it('scans every contact on the first run, then resumes from the scan start time', async () => {
    const until = new Date(Date.UTC(2026, 10, 24, 12));
    const scope = schema()
      .get('/crm/v3/objects/contacts')
      .query({
        limit: '100',
        properties: ['firstname', 'email', 'segsync_tags', 'hs_email_optout', 'lastmodifieddate', 'hs_merged_object_ids'],
        archived: 'false',
      })
      .reply(200, {
        results: [record('1', { email: 'A@Example.com', firstname: 'A', segsync_tags: 'vip', lastmodifieddate: '2026-11-20T00:00:00.000Z' })],
        paging: { next: { after: '2' } },
      })
      // Each page's field change times come from property history, one batch read per page.
      .post('/crm/v3/objects/contacts/batch/read', { inputs: [{ id: '1' }], properties: ['email'], propertiesWithHistory: ['firstname'] })
      .reply(200, {
        status: 'COMPLETE',
        results: [
          {
            ...record('1', { email: 'a@example.com' }),
            propertiesWithHistory: { firstname: [{ value: 'A', timestamp: '2026-10-01T00:00:00.000Z', sourceType: 'CRM_UI' }] },
          },
        ],
        startedAt: '2026-11-24T12:00:00Z',
        completedAt: '2026-11-24T12:00:00Z',
      })
      .post('/crm/v3/objects/contacts/batch/read', { inputs: [{ id: '2' }], properties: ['email'], propertiesWithHistory: ['firstname'] })
      .reply(200, {
        status: 'COMPLETE',
        results: [{ ...record('2', { email: 'b@example.com' }), propertiesWithHistory: { firstname: [] } }],
        startedAt: '2026-11-24T12:00:00Z',
        completedAt: '2026-11-24T12:00:00Z',
      })
      .get('/crm/v3/objects/contacts')
      .query({
        limit: '100',
        after: '2',
        properties: ['firstname', 'email', 'segsync_tags', 'hs_email_optout', 'lastmodifieddate', 'hs_merged_object_ids'],
        archived: 'false',
      })
      .reply(200, { results: [record('2', { email: 'b@example.com', hs_email_optout: 'true' })] })
      .get('/crm/v3/objects/contacts')
      .query({
        limit: '100',
        properties: ['firstname', 'email', 'segsync_tags', 'hs_email_optout', 'lastmodifieddate', 'hs_merged_object_ids'],
        archived: 'true',
      })
      .reply(200, { results: [] });
    const c = connector();
    const pages = [];
    for await (const page of c.pull({ cursor: undefined, until, fields: ['firstname'] })) pages.push(page);
    expect(pages[0]!.contacts[0]).toEqual({
      externalId: '1',
      email: 'a@example.com',
      fields: { firstname: 'A' },
      tags: ['vip'],
      modifiedAt: Date.parse('2026-11-20T00:00:00.000Z'),
      createdAt: Date.parse('2026-11-24T00:00:00Z'),
      fieldModifiedAt: { firstname: Date.parse('2026-10-01T00:00:00.000Z') },
    });
    expect(pages[1]!.contacts[0]).toMatchObject({ externalId: '2', consent: 'unsubscribed', fields: { firstname: null } });
    expect(JSON.parse(pages[1]!.next)).toEqual({ v: 1, mode: 'time', t: until.getTime() });
    scope.done();
    await c.close();
  });

  it('searches lastmodifieddate between the cursor and the fixed upper bound, oldest first, 200 per page', async () => {
    const t = Date.UTC(2026, 10, 24, 10);
    const until = new Date(t + 3_600_000);
    const scope = schema()
      .post('/crm/v3/objects/contacts/search', {
        filterGroups: [
          {
            filters: [
              { propertyName: 'lastmodifieddate', operator: 'GTE', value: String(t) },
              { propertyName: 'lastmodifieddate', operator: 'LTE', value: String(until.getTime()) },
            ],
          },
        ],
        sorts: ['lastmodifieddate'],
        properties: ['firstname', 'email', 'segsync_tags', 'hs_email_optout', 'lastmodifieddate', 'hs_merged_object_ids'],
        limit: 200,
        after: '0',
      })
      .reply(200, { total: 1, results: [record('5', { email: 'e@example.com', lastmodifieddate: new Date(t + 5).toISOString() })] })
      .post('/crm/v3/objects/contacts/batch/read', { inputs: [{ id: '5' }], properties: ['email'], propertiesWithHistory: ['firstname'] })
      .reply(200, {
        status: 'COMPLETE',
        results: [{ ...record('5', { email: 'e@example.com' }), propertiesWithHistory: {} }],
        startedAt: new Date(t).toISOString(),
        completedAt: new Date(t).toISOString(),
      })
      // The search never returns archived records: they are listed after it, as deletions (issue 15, finding 6).
      .get('/crm/v3/objects/contacts')
      .query({
        limit: '100',
        properties: ['firstname', 'email', 'segsync_tags', 'hs_email_optout', 'lastmodifieddate', 'hs_merged_object_ids'],
        archived: 'true',
      })
      .reply(200, { results: [{ ...record('9', { email: 'gone@example.com' }), archived: true, archivedAt: new Date(t + 7).toISOString() }] });
    const c = connector();
    const pages = [];
    for await (const page of c.pull({ cursor: JSON.stringify({ v: 1, mode: 'time', t }), until, fields: ['firstname'] })) pages.push(page);
    expect(pages).toHaveLength(2);
    expect(pages[1]!.contacts).toEqual([expect.objectContaining({ externalId: '9', deleted: true, modifiedAt: t + 7 })]);
    expect(pages[1]!.next).toBe(pages[0]!.next);
    // The boundary remembers the delivered version (id and a digest), not the id alone (issue 15, finding 1).
    expect(JSON.parse(pages[0]!.next)).toEqual({ v: 1, mode: 'time', t: t + 5, skip: [expect.stringMatching(/^5:.+/)] });
    scope.done();
    await c.close();
  });
});

describe('HubSpot contract: erase', () => {
  it('GDPR-deletes by email', async () => {
    const scope = api().post('/crm/v3/objects/contacts/gdpr-delete', { objectId: 'gone@example.com', idProperty: 'email' }).reply(204);
    const c = connector();
    expect(await c.erase({ email: 'gone@example.com', externalId: '12' })).toEqual({
      ref: { email: 'gone@example.com', externalId: '12' },
      status: 'ok',
      externalId: '12',
    });
    scope.done();
    await c.close();
  });
});

describe('HubSpot contract: consent', () => {
  it('unsubscribes from every active subscription type and never subscribes', async () => {
    const scope = api()
      .get('/crm/v3/properties/contacts')
      .query({ archived: 'false' })
      .reply(200, { results: DEFAULTS })
      .get('/communication-preferences/v3/definitions')
      .reply(200, {
        subscriptionDefinitions: [
          {
            id: '11',
            name: 'Newsletter',
            description: '',
            isActive: true,
            isDefault: true,
            isInternal: false,
            createdAt: '2020-01-01T00:00:00Z',
            updatedAt: '2020-01-01T00:00:00Z',
          },
          {
            id: '12',
            name: 'Old',
            description: '',
            isActive: false,
            isDefault: false,
            isInternal: false,
            createdAt: '2020-01-01T00:00:00Z',
            updatedAt: '2020-01-01T00:00:00Z',
          },
        ],
      })
      .post('/communication-preferences/v3/unsubscribe', { emailAddress: 'u@example.com', subscriptionId: '11' })
      .reply(200, { id: '11', name: 'Newsletter', description: '', status: 'NOT_SUBSCRIBED', sourceOfStatus: 'SUBSCRIPTION_STATUS' });
    const c = connector();
    const [r] = await c.push([
      { ref: { email: 'u@example.com', externalId: '5' }, set: {}, clear: [], addTags: [], removeTags: [], localConsent: 'unsubscribed', optOut: { at: 1 } },
    ]);
    expect(r).toMatchObject({ status: 'ok' });
    scope.done();
    await c.close();
  });
});
