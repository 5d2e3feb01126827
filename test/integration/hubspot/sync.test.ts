/**
 * The real SDK against the HubSpot sandbox over HTTP: schema, 1,000 tagged contacts, changes made on
 * "HubSpot" pulled back, tags removed, one contact erased; every exchange checked against the spec.
 */
import type { ContactChange, RemoteContact } from '../../../connectors/connector';
import type { Harness } from '../../support/hubspot';
import { hubspotValidator, startHarness } from '../../support/hubspot';

const FIELDS = [
  { name: 'plan', type: 'enum' as const, options: ['free', 'pro', 'enterprise'] },
  { name: 'ltv', type: 'number' as const },
  { name: 'vip_customer', type: 'boolean' as const },
  { name: 'signup_date', type: 'date' as const },
  { name: 'last_order_at', type: 'datetime' as const },
  { name: 'nickname', type: 'string' as const, label: 'Nickname' },
];

function change(i: number, extra: Partial<ContactChange> = {}): ContactChange {
  return {
    ref: { email: `user${i}@example.com`, contactId: i },
    set: {
      plan: i % 2 ? 'pro' : 'free',
      ltv: i * 1.5,
      vip_customer: i % 3 === 0,
      signup_date: '2024-03-05T17:30:00Z',
      last_order_at: '2025-01-02T03:04:05.000Z',
      nickname: `n${i}`,
    },
    clear: [],
    addTags: i % 2 ? ['vip', 'beta'] : ['beta'],
    removeTags: [],
    remoteTags: [],
    ...extra,
  };
}

async function pullAll(h: Harness, cursor: string | undefined, until: Date): Promise<{ contacts: RemoteContact[]; cursor: string | undefined }> {
  const contacts: RemoteContact[] = [];
  let next = cursor;
  for await (const page of h.connector.pull({ cursor, until, fields: FIELDS.map((f) => f.name) })) {
    contacts.push(...page.contacts);
    next = page.next;
  }
  return { contacts, cursor: next };
}

describe('HubSpot connector against the sandbox', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { tagLists: ['vip'] });
  });
  afterAll(() => h.close());

  it('creates missing properties in the segsync group with the right types, then finds them existing', async () => {
    const report = await h.connector.ensureSchema(FIELDS, ['vip', 'beta']);
    expect(report.problems).toEqual([]);
    expect(report.created.sort()).toEqual([...FIELDS.map((f) => f.name), 'segsync_tags'].sort());
    const props = h.sandbox.state.properties;
    expect(props.get('vip_customer')).toMatchObject({ type: 'bool', fieldType: 'booleancheckbox', groupName: 'segsync' });
    expect(props.get('signup_date')).toMatchObject({ type: 'date', fieldType: 'date' });
    expect(props.get('last_order_at')).toMatchObject({ type: 'datetime', fieldType: 'date' });
    expect(props.get('plan')).toMatchObject({ type: 'enumeration', fieldType: 'select' });
    expect(props.get('segsync_tags')).toMatchObject({ type: 'enumeration', fieldType: 'checkbox' });
    expect(h.sandbox.listMembers('segsync: vip')).toEqual([]);

    const again = await h.connector.ensureSchema(FIELDS, ['vip', 'beta']);
    expect(again.created).toEqual([]);
    expect(again.existing.sort()).toEqual([...FIELDS.map((f) => f.name), 'segsync_tags'].sort());
  });

  it('reports a property of an incompatible type instead of changing it', async () => {
    const report = await h.connector.ensureSchema([{ name: 'ltv', type: 'date' }], []);
    expect(report.problems).toEqual([expect.objectContaining({ field: 'ltv', message: expect.stringContaining('number') })]);
    expect(h.sandbox.state.properties.get('ltv')?.type).toBe('number');
  });

  let cursor: string | undefined;
  it('pushes 1,000 tagged contacts in ten upsert calls of 100', async () => {
    const before = h.sandbox.stats().requests['POST /crm/v3/objects/contacts/batch/upsert'] ?? 0;
    const batches = Array.from({ length: 10 }, (_, b) => Array.from({ length: 100 }, (_, k) => change(b * 100 + k)));
    const results = (await Promise.all(batches.map((batch) => h.connector.push(batch)))).flat();
    expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
    expect(results.every((r) => r.status === 'ok' && r.created === true && r.externalId)).toBe(true);
    expect(results.map((r) => r.ref.contactId)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect((h.sandbox.stats().requests['POST /crm/v3/objects/contacts/batch/upsert'] ?? 0) - before).toBe(10);
    expect(h.sandbox.contactCount()).toBe(1000);
    const c7 = h.sandbox.contact('user7@example.com')!;
    expect(c7.properties).toMatchObject({ plan: 'pro', ltv: '10.5', vip_customer: 'false', signup_date: '2024-03-05', segsync_tags: 'vip;beta' });
    expect(Number(h.sandbox.state.contact(c7.id)!.properties.get('signup_date')) % 86_400_000).toBe(0);
    expect(h.sandbox.listMembers('segsync: vip')).toHaveLength(500);

    const first = await pullAll(h, undefined, new Date());
    expect(first.contacts).toHaveLength(1000);
    expect(first.contacts.find((c) => c.email === 'user7@example.com')).toMatchObject({
      fields: { plan: 'pro', ltv: 10.5, vip_customer: false, signup_date: '2024-03-05', last_order_at: '2025-01-02T03:04:05.000Z', nickname: 'n7' },
      tags: ['vip', 'beta'],
    });
    cursor = first.cursor;
  });

  it('pulls back only the contacts changed on HubSpot since the cursor', async () => {
    await new Promise((r) => setTimeout(r, 5));
    for (const i of [3, 30, 300]) h.sandbox.edit(`user${i}@example.com`, { nickname: `edited${i}`, plan: 'enterprise' });
    const second = await pullAll(h, cursor, new Date());
    const changed = second.contacts
      .filter((c) => c.fields.plan === 'enterprise')
      .map((c) => c.email)
      .sort();
    expect(changed).toEqual(['user300@example.com', 'user30@example.com', 'user3@example.com']);
    expect(second.contacts.length).toBeLessThanOrEqual(5);
    expect(second.contacts.find((c) => c.email === 'user30@example.com')?.fields.nickname).toBe('edited30');
    cursor = second.cursor;
    const third = await pullAll(h, cursor, new Date());
    expect(third.contacts).toEqual([]);
  });

  it('removes owned tags by read-modify-write and keeps tags segsync does not own', async () => {
    const p = h.sandbox.state.properties.get('segsync_tags')!;
    p.options.push({ label: 'partner', value: 'partner', hidden: false, displayOrder: 9 });
    h.sandbox.edit('user1@example.com', { segsync_tags: 'vip;beta;partner' });
    const targets = [1, 3, 5].map((i) => ({ ...change(i), set: {}, addTags: [], removeTags: ['beta', 'vip'], remoteTags: undefined as string[] | undefined }));
    const results = await h.connector.push(targets.map(({ remoteTags: _r, ...rest }) => rest));
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(h.sandbox.contact('user1@example.com')!.properties.segsync_tags).toBe('partner');
    expect(h.sandbox.contact('user3@example.com')!.properties.segsync_tags).toBeUndefined();
    const id1 = h.sandbox.contact('user1@example.com')!.id;
    expect(h.sandbox.listMembers('segsync: vip')).not.toContain(id1);
    expect(h.sandbox.state.properties.get('segsync_tags')!.options.map((o) => o.value)).toContain('partner');
  });

  it('adds a tag it never saw by first declaring it as an option, leaving other options in place', async () => {
    const results = await h.connector.push([{ ...change(2), set: {}, addTags: ['winback'], remoteTags: ['beta'] }]);
    expect(results[0]!.status).toBe('ok');
    expect(h.sandbox.contact('user2@example.com')!.properties.segsync_tags).toBe('beta;winback');
    expect(h.sandbox.state.properties.get('segsync_tags')!.options.map((o) => o.value)).toEqual(['vip', 'beta', 'partner', 'winback']);
  });

  it('reads the tags just before a tag write, so a tag a user added since segsync last saw them stays', async () => {
    const id = h.sandbox.contact('user6@example.com')!.id;
    h.sandbox.edit('user6@example.com', { segsync_tags: 'beta;partner' });
    const from = h.exchanges.length;
    const [r] = await h.connector.push([
      { ...change(6), ref: { email: 'user6@example.com', externalId: id }, set: {}, addTags: ['vip'], remoteTags: ['beta'] },
    ]);
    expect(r!.status).toBe('ok');
    expect(h.sandbox.contact(id)!.properties.segsync_tags!.split(';').sort()).toEqual(['beta', 'partner', 'vip']);
    const paths = h.exchanges
      .slice(from)
      .map((x) => x.path)
      .filter((p) => p.startsWith('/crm/v3/objects/contacts/batch'));
    expect(paths).toEqual(['/crm/v3/objects/contacts/batch/read', '/crm/v3/objects/contacts/batch/update']);
  });

  it('sends only the changed fields and updates by id when the HubSpot id is known', async () => {
    const id = h.sandbox.contact('user4@example.com')!.id;
    const from = h.exchanges.length;
    const [r] = await h.connector.push([
      { ref: { email: 'user4@example.com', externalId: id }, set: { nickname: 'four' }, clear: ['ltv'], addTags: [], removeTags: [] },
    ]);
    expect(r).toMatchObject({ status: 'ok', externalId: id });
    const sent = h.exchanges.slice(from).filter((x) => x.path.startsWith('/crm/v3/objects/contacts/batch'));
    expect(sent.map((x) => [x.path, x.requestBody])).toEqual([
      ['/crm/v3/objects/contacts/batch/update', { inputs: [{ id, properties: { nickname: 'four', ltv: '' }, objectWriteTraceId: '0' }] }],
    ]);
    expect(h.sandbox.contact(id)!.properties.ltv).toBeUndefined();
  });

  it('erases a contact through the GDPR delete endpoint', async () => {
    const r = await h.connector.erase({ email: 'user9@example.com' });
    expect(r.status).toBe('ok');
    expect(h.sandbox.contact('user9@example.com')).toBeUndefined();
    expect(h.sandbox.isBlocklisted('user9@example.com')).toBe(true);
    expect(h.exchanges.at(-1)).toMatchObject({
      path: '/crm/v3/objects/contacts/gdpr-delete',
      requestBody: { objectId: 'user9@example.com', idProperty: 'email' },
      status: 204,
    });
  });

  it('exchanged only requests and responses that conform to the published HubSpot spec', () => {
    expect(h.exchanges.length).toBeGreaterThan(30);
    expect(h.exchanges[0]!.headers['user-agent']).toMatch(/^hubspot-api-client-nodejs; 13\./);
    expect(h.exchanges.every((x) => x.headers.authorization === `Bearer ${h.sandbox.accessToken}`)).toBe(true);
    expect(h.specProblems()).toEqual([]);
  });

  it('the spec check catches a malformed request', async () => {
    const res = await fetch(`${h.sandbox.url}/crm/v3/objects/contacts/batch/upsert`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ idProperty: 'email', id: 'x@example.com', properties: { nickname: 7 } }, { id: 'y@example.com' }] }),
    });
    await res.text();
    const problems = hubspotValidator().check(h.exchanges.at(-1)!);
    expect(problems.join('\n')).toMatch(/request body: .*properties/);
  });
});

describe('HubSpot consent', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.connector.ensureSchema([{ name: 'nickname', type: 'string' }], []);
  });
  afterAll(() => h.close());

  it('carries an opt-out it was asked for out of every subscription type, and reads the opt-out back', async () => {
    const [r] = await h.connector.push([
      {
        ref: { email: 'optout@example.com' },
        set: { nickname: 'o' },
        clear: [],
        addTags: [],
        removeTags: [],
        localConsent: 'unsubscribed',
        remoteConsent: 'subscribed',
        optOut: { at: 1 },
      },
    ]);
    expect(r!.status).toBe('ok');
    const unsubscribes = h.exchanges.filter((x) => x.path === '/communication-preferences/v3/unsubscribe');
    expect(unsubscribes.map((x) => x.requestBody)).toEqual([
      { emailAddress: 'optout@example.com', subscriptionId: '1' },
      { emailAddress: 'optout@example.com', subscriptionId: '2' },
    ]);
    expect(h.sandbox.contact('optout@example.com')!.properties.hs_email_optout).toBe('true');
    const pulled = [];
    for await (const page of h.connector.pull({ cursor: undefined, until: new Date(), fields: [] })) pulled.push(...page.contacts);
    expect(pulled.find((c) => c.email === 'optout@example.com')?.consent).toBe('unsubscribed');
    expect(h.specProblems()).toEqual([]);
  });

  it('never calls subscribe, and does nothing for a contact already unsubscribed on HubSpot', async () => {
    const before = h.exchanges.length;
    await h.connector.push([
      {
        ref: { email: 'new@example.com' },
        set: { nickname: 'n' },
        clear: [],
        addTags: [],
        removeTags: [],
        localConsent: 'subscribed',
        remoteConsent: 'unsubscribed',
      },
      { ref: { email: 'optout@example.com' }, set: {}, clear: [], addTags: [], removeTags: [], localConsent: 'unsubscribed', remoteConsent: 'unsubscribed' },
    ]);
    const paths = h.exchanges.slice(before).map((x) => x.path);
    expect(paths.some((p) => p.startsWith('/communication-preferences'))).toBe(false);
  });
});
