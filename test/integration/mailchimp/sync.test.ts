import type { ChangeResult, ContactChange, FieldSpec, RemotePage } from '../../../connectors/connector';
import { subscriberHash } from '../../../src/model/identity';
import type { ValidatedSandbox } from '../../support/mailchimp';
import { sandboxConnector, startValidatedSandbox } from '../../support/mailchimp';

const FIELDS: FieldSpec[] = [
  { name: 'FNAME', type: 'string' },
  { name: 'plan', type: 'enum', options: ['free', 'pro'] },
  { name: 'lifetime_value', type: 'number' },
  { name: 'first_order', type: 'date' },
  { name: 'vip', type: 'boolean' },
  { name: 'last_seen_at', type: 'datetime' },
];

function change(email: string, over: Partial<ContactChange> = {}): ContactChange {
  return { ref: { email }, set: {}, clear: [], addTags: [], removeTags: [], ...over };
}

async function collect(pages: AsyncIterable<RemotePage>): Promise<RemotePage[]> {
  const out: RemotePage[] = [];
  for await (const p of pages) out.push(p);
  return out;
}

function ok(results: ChangeResult[]): void {
  const bad = results.filter((r) => r.status !== 'ok');
  expect(bad.map((r) => `${r.ref.email}: ${'error' in r ? r.error.message : ''}`)).toEqual([]);
}

describe('Mailchimp connector against the sandbox (real SDK, spec-validated)', () => {
  let v: ValidatedSandbox;
  beforeEach(async () => {
    v = await startValidatedSandbox();
  });
  afterEach(async () => {
    await v.sandbox.close();
    expect(v.problems()).toEqual([]);
  });

  it('creates missing merge fields with their types and reports existing ones and tag clashes', async () => {
    const c = sandboxConnector(v.sandbox);
    const report = await c.ensureSchema([...FIELDS, { name: 'lifetime_values', type: 'number' }], ['vip-customers']);
    expect(report.existing).toEqual(['FNAME']);
    expect(report.created).toEqual(['plan', 'lifetime_value', 'first_order', 'vip', 'last_seen_at', 'tag:vip-customers']);
    expect(report.problems).toEqual([expect.objectContaining({ field: 'lifetime_values', message: expect.stringContaining('LIFETIME_V') })]);
    const fields = v.sandbox.audience().mergeFields;
    const byTag = Object.fromEntries(fields.map((f) => [f.tag, f]));
    expect(byTag.PLAN).toMatchObject({ type: 'dropdown', options: { choices: ['free', 'pro'] } });
    expect(byTag.LIFETIME_V).toMatchObject({ type: 'number' });
    expect(byTag.FIRST_ORDE).toMatchObject({ type: 'date', options: { date_format: 'MM/DD/YYYY' } });
    expect(byTag.VIP).toMatchObject({ type: 'dropdown', options: { choices: ['true', 'false'] } });
    const again = await c.ensureSchema(FIELDS, ['vip-customers']);
    expect(again.created).toEqual([]);
    expect(again.existing).toHaveLength(FIELDS.length + 1);
  });

  it('pushes 1,000 new members with fields and tags, never subscribing anyone by default', async () => {
    const c = sandboxConnector(v.sandbox);
    await c.ensureSchema(FIELDS, ['beta']);
    const batch = Array.from({ length: 1000 }, (_, i) =>
      change(`user${i}@example.com`, {
        set: {
          FNAME: `User ${i}`,
          plan: i % 2 ? 'pro' : 'free',
          lifetime_value: i,
          first_order: '2024-03-25',
          vip: i % 3 === 0,
          last_seen_at: '2024-03-25T10:00:00Z',
        },
        addTags: ['beta', ...(i % 10 === 0 ? ['whale'] : [])],
        localConsent: i % 4 === 0 ? 'subscribed' : undefined,
      }),
    );
    const results = [...(await c.push(batch.slice(0, 500))), ...(await c.push(batch.slice(500)))];
    ok(results);
    expect(results[7]).toMatchObject({ ref: { email: 'user7@example.com' }, externalId: subscriberHash('user7@example.com') });
    const m0 = v.sandbox.member('user0@example.com')!;
    expect(m0).toMatchObject({
      status: 'subscribed',
      merge_fields: expect.objectContaining({ FNAME: 'User 0', PLAN: 'free', VIP: 'true', FIRST_ORDE: '03/25/2024', LIFETIME_V: 0 }),
    });
    expect(v.sandbox.member('user1@example.com')!.status).toBe('pending');
    const a = v.sandbox.audience();
    expect(a.segmentByName('beta')!.members.size).toBe(1000);
    expect(a.segmentByName('whale')!.members.size).toBe(100);
  });

  it('updates known members by PATCH without status: a status changed on Mailchimp since the last pull stays', async () => {
    v.sandbox.seed([
      { email: 'was-sub@example.com', status: 'subscribed' },
      { email: 'was-unsub@example.com', status: 'unsubscribed' },
    ]);
    const c = sandboxConnector(v.sandbox);
    await c.ensureSchema(FIELDS, []);
    // Changed on Mailchimp after segsync's last pull, which saw subscribed and unsubscribed.
    v.sandbox.admin.update('was-sub@example.com', { status: 'transactional' });
    v.sandbox.admin.update('was-unsub@example.com', { status: 'pending' });
    v.sandbox.resetStats();
    const results = await c.push([
      change('was-sub@example.com', { set: { plan: 'pro' }, remoteConsent: 'subscribed', localConsent: 'subscribed' }),
      change('was-unsub@example.com', { set: { plan: 'pro' }, remoteConsent: 'unsubscribed', localConsent: 'subscribed' }),
    ]);
    ok(results);
    expect(v.sandbox.stats().calls).toEqual({ 'PATCH /3.0/lists/:listId/members/:hash': 2 });
    expect(v.exchanges.filter((x) => x.method === 'PATCH').map((x) => Object.keys(x.requestBody as object))).toEqual([['merge_fields'], ['merge_fields']]);
    expect(v.sandbox.member('was-sub@example.com')).toMatchObject({ status: 'transactional', merge_fields: expect.objectContaining({ PLAN: 'pro' }) });
    expect(v.sandbox.member('was-unsub@example.com')).toMatchObject({ status: 'pending', merge_fields: expect.objectContaining({ PLAN: 'pro' }) });
  });

  it('pulls back changes made in Mailchimp and reconciles tags through segment membership', async () => {
    const c = sandboxConnector(v.sandbox, { ownedTags: ['beta'] });
    await c.ensureSchema(FIELDS, ['beta']);
    ok(
      await c.push([
        change('a@example.com', { set: { plan: 'free' }, addTags: ['beta'], localConsent: 'subscribed' }),
        change('b@example.com', { addTags: ['beta'], localConsent: 'subscribed' }),
      ]),
    );
    const first = await collect(c.pull({ cursor: undefined, until: new Date(Date.now() + 5000), fields: ['plan'] }));
    const contacts = first.flatMap((p) => p.contacts);
    expect(contacts.map((x) => x.email).sort()).toEqual(['a@example.com', 'b@example.com']);
    expect(contacts.find((x) => x.email === 'a@example.com')).toMatchObject({ fields: { plan: 'free' }, tags: ['beta'], consent: 'subscribed' });
    expect(first.flatMap((p) => p.tagMemberships ?? [])).toEqual([{ tag: 'beta', externalIds: expect.any(Array), emails: ['a@example.com', 'b@example.com'] }]);

    await new Promise((r) => setTimeout(r, 1100));
    v.sandbox.admin.update('a@example.com', { merges: { PLAN: 'pro' } });
    v.sandbox.admin.tag('b@example.com', 'beta', false);
    const cursor = first[first.length - 1]!.next;
    const second = await collect(c.pull({ cursor, until: new Date(Date.now() + 5000), fields: ['plan'] }));
    expect(second.flatMap((p) => p.contacts).map((x) => [x.email, x.fields.plan])).toEqual([['a@example.com', 'pro']]);
    expect(second.flatMap((p) => p.tagMemberships ?? [])).toEqual([{ tag: 'beta', externalIds: [subscriberHash('a@example.com')], emails: ['a@example.com'] }]);
  });
});
