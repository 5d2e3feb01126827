import type { ChangeResult, ContactChange } from '../../../connectors/connector';
import { EspPermanentError } from '../../../src/errors';
import type { EspRecordGoneError } from '../../../src/errors';
import type { ValidatedSandbox } from '../../support/mailchimp';
import { sandboxConnector, startValidatedSandbox } from '../../support/mailchimp';

function change(email: string, over: Partial<ContactChange> = {}): ContactChange {
  return { ref: { email }, set: { FNAME: 'Changed' }, clear: [], addTags: [], removeTags: [], ...over };
}

function failure(r: ChangeResult | undefined): EspPermanentError {
  if (!r || r.status !== 'failed') throw new Error(`expected a failed result, got ${JSON.stringify(r?.status)}`);
  expect(r.error).toBeInstanceOf(EspPermanentError);
  return r.error as EspPermanentError;
}

describe('Mailchimp consent and erasure against the sandbox', () => {
  let v: ValidatedSandbox;
  beforeEach(async () => {
    v = await startValidatedSandbox();
  });
  afterEach(async () => {
    await v.sandbox.close();
    expect(v.problems()).toEqual([]);
  });

  it('never resubscribes an unsubscribed or cleaned member, whatever segsync believed', async () => {
    v.sandbox.seed([
      { email: 'stale@example.com', status: 'unsubscribed' },
      { email: 'unknown@example.com', status: 'unsubscribed' },
      { email: 'bounced@example.com', status: 'cleaned' },
      { email: 'bounced2@example.com', status: 'cleaned' },
    ]);
    const c = sandboxConnector(v.sandbox);
    const results = await c.push([
      // segsync last saw "subscribed": the batch carries it, Mailchimp refuses, the member is updated alone.
      change('stale@example.com', { remoteConsent: 'subscribed', localConsent: 'subscribed' }),
      change('unknown@example.com', { localConsent: 'subscribed' }),
      change('bounced@example.com', { remoteConsent: 'cleaned', localConsent: 'subscribed' }),
      change('bounced2@example.com', { localConsent: 'subscribed' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    for (const [email, status] of [
      ['stale@example.com', 'unsubscribed'],
      ['unknown@example.com', 'unsubscribed'],
      ['bounced@example.com', 'cleaned'],
      ['bounced2@example.com', 'cleaned'],
    ] as const) {
      expect(v.sandbox.member(email)).toMatchObject({ status, merge_fields: expect.objectContaining({ FNAME: 'Changed' }) });
    }
    // Only a batch with update_existing may carry `status`, and only the status segsync last saw.
    for (const x of v.exchanges) {
      const body = x.requestBody as { status?: string; update_existing?: boolean; members?: { email_address: string; status: string }[] } | undefined;
      if (x.method === 'PUT' || x.method === 'PATCH') expect(body?.status).toBeUndefined();
      if (body?.update_existing) expect(body.members!.map((m) => m.email_address)).toEqual(['stale@example.com']);
    }
  });

  it('creates new members with the status their local consent allows, and never creates a cleaned one', async () => {
    const c = sandboxConnector(v.sandbox);
    const results = await c.push([
      change('new-sub@example.com', { localConsent: 'subscribed' }),
      change('new-unknown@example.com'),
      change('new-pending@example.com', { localConsent: 'pending' }),
      change('new-tx@example.com', { localConsent: 'non-marketing' }),
      change('new-unsub@example.com', { localConsent: 'unsubscribed' }),
      change('new-cleaned@example.com', { localConsent: 'cleaned' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'failed']);
    expect(['new-sub', 'new-unknown', 'new-pending', 'new-tx', 'new-unsub'].map((n) => v.sandbox.member(`${n}@example.com`)?.status)).toEqual([
      'subscribed',
      'pending',
      'pending',
      'transactional',
      'unsubscribed',
    ]);
    expect(v.sandbox.member('new-cleaned@example.com')).toBeUndefined();
    expect(failure(results[5]).hint).toMatch(/never creates a cleaned address/);
  });

  it('leaves archived members archived', async () => {
    v.sandbox.seed([{ email: 'gone@example.com', status: 'archived' }]);
    const c = sandboxConnector(v.sandbox);
    const [r] = await c.push([change('gone@example.com', { localConsent: 'subscribed' })]);
    expect(failure(r).message).toMatch(/not an active member/);
    expect(v.sandbox.member('gone@example.com')!.status).toBe('archived');
  });

  it('erases with delete-permanent, after which Mailchimp refuses the address: the record is gone, explained', async () => {
    const c = sandboxConnector(v.sandbox);
    await c.push([change('forget-me@example.com', { localConsent: 'subscribed', addTags: ['vip'] })]);
    const erased = await c.erase({ email: 'forget-me@example.com' });
    expect(erased).toMatchObject({ status: 'ok' });
    expect(v.exchanges.some((x) => x.method === 'POST' && x.path.endsWith('/actions/delete-permanent') && x.status === 204)).toBe(true);
    expect(v.exchanges.some((x) => x.method === 'DELETE')).toBe(false);
    expect(v.sandbox.member('forget-me@example.com')).toBeUndefined();
    expect(v.sandbox.audience().segmentByName('vip')!.members.size).toBe(0);

    const [again] = await c.push([change('forget-me@example.com', { localConsent: 'subscribed' })]);
    expect(again?.status).toBe('gone');
    const error = again?.status === 'gone' ? (again.error as EspRecordGoneError) : undefined;
    expect([error?.vendorCode, error?.hint]).toEqual(['Forgotten Email Not Subscribed', expect.stringMatching(/sign up again through a Mailchimp form/)]);
    expect(await c.erase({ email: 'never-there@example.com' })).toMatchObject({ status: 'ok' });
  });

  it('removes only the tags it is asked to, leaving other tags and the status alone', async () => {
    v.sandbox.seed([{ email: 't@example.com', status: 'unsubscribed', tags: ['vip', 'manual-tag'] }]);
    const c = sandboxConnector(v.sandbox);
    const [r] = await c.push([{ ref: { email: 't@example.com' }, set: {}, clear: [], addTags: [], removeTags: ['vip'], remoteConsent: 'unsubscribed' }]);
    expect(r!.status).toBe('ok');
    const m = v.sandbox.member('t@example.com')!;
    expect(m.status).toBe('unsubscribed');
    expect((m.tags as { name: string }[]).map((t) => t.name)).toEqual(['manual-tag']);
    expect(Object.keys(v.sandbox.stats().calls)).toEqual(['GET /3.0/lists/:listId/segments', 'POST /3.0/lists/:listId/segments/:segmentId']);
  });

  it('attributes per-member failures and lets the rest of the batch succeed', async () => {
    const c = sandboxConnector(v.sandbox);
    await c.ensureSchema([{ name: 'score', type: 'number' }], []);
    const results = await c.push([
      change('good@example.com', { set: { score: 5 }, localConsent: 'subscribed', addTags: ['t1'] }),
      change('bad@example.com', { set: { score: 'lots' }, localConsent: 'subscribed', addTags: ['t1'] }),
      change('not an email', { localConsent: 'subscribed' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'failed', 'failed']);
    expect(results[1]!.status === 'failed' && results[1]!.error.message).toMatch(/not a number/);
    expect(results[2]!.status === 'failed' && results[2]!.error.message).toMatch(/Invalid Resource/);
    expect(v.sandbox.audience().segmentByName('t1')!.members.size).toBe(1);
  });

  it('attributes a tag refused in the segment call to its member only', async () => {
    v.sandbox.seed([{ email: 'on@example.com' }]);
    const c = sandboxConnector(v.sandbox);
    const tagOnly = (email: string): ContactChange => ({ ref: { email }, set: {}, clear: [], addTags: ['t2'], removeTags: [], remoteConsent: 'subscribed' });
    // segsync believes both are members; one was deleted on Mailchimp meanwhile.
    const results = await c.push([tagOnly('on@example.com'), tagOnly('gone@example.com')]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'failed']);
    expect(results[1]!.status === 'failed' && results[1]!.error.message).toMatch(/tag "t2" not changed/);
    expect(v.sandbox.audience().segmentByName('t2')!.members.size).toBe(1);
  });
});
