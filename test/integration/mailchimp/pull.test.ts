import type { Connector, RemotePage } from '../../../connectors/connector';
import { ManualClock } from '../../../src/model/clock';
import type { ValidatedSandbox } from '../../support/mailchimp';
import { sandboxConnector, startValidatedSandbox } from '../../support/mailchimp';

async function collect(pages: AsyncIterable<RemotePage>, limit = Infinity): Promise<RemotePage[]> {
  const out: RemotePage[] = [];
  for await (const p of pages) {
    out.push(p);
    if (out.length >= limit) break;
  }
  return out;
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('Mailchimp incremental pull against the sandbox', () => {
  let v: ValidatedSandbox;
  let clock: ManualClock;
  let c: Connector;
  beforeEach(async () => {
    clock = new ManualClock(T0);
    v = await startValidatedSandbox({ clock });
    c = sandboxConnector(v.sandbox, { pageSize: 5 });
    v.sandbox.seed(Array.from({ length: 12 }, (_, i) => ({ email: `same${i}@example.com`, merges: { FNAME: `S${i}` } })));
    await clock.advance(1000);
    v.sandbox.seed(Array.from({ length: 3 }, (_, i) => ({ email: `later${i}@example.com` })));
    await clock.advance(1000);
    v.sandbox.admin.archive('later2@example.com');
    await clock.advance(1000);
  });
  afterEach(async () => {
    await v.sandbox.close();
    expect(v.problems()).toEqual([]);
  });

  it('emits every member once, oldest first, even when more than a page share one second', async () => {
    const pages = await collect(c.pull({ cursor: undefined, until: new Date(clock.now() + 1000), fields: ['FNAME'] }));
    const contacts = pages.flatMap((p) => p.contacts);
    const live = contacts.filter((x) => !x.deleted);
    expect(live.map((x) => x.email)).toEqual([...Array.from({ length: 12 }, (_, i) => `same${i}@example.com`), 'later0@example.com', 'later1@example.com']);
    expect(live.map((x) => x.modifiedAt)).toEqual([...Array(12).fill(T0), T0 + 1000, T0 + 1000]);
    expect(contacts.filter((x) => x.deleted)).toEqual([expect.objectContaining({ email: 'later2@example.com', deleted: true })]);
    expect(live[3]).toMatchObject({ fields: { FNAME: 'S3' }, consent: 'subscribed', tags: [] });
  });

  it('resumes from a stored cursor without losing or repeating members', async () => {
    const until = new Date(clock.now() + 1000);
    const firstTwo = await collect(c.pull({ cursor: undefined, until, fields: [] }), 2);
    const rest = await collect(c.pull({ cursor: firstTwo[1]!.next, until, fields: [] }));
    const emails = [...firstTwo, ...rest]
      .flatMap((p) => p.contacts)
      .filter((x) => !x.deleted)
      .map((x) => x.email);
    expect(emails).toHaveLength(14);
    expect(new Set(emails).size).toBe(14);
  });

  it('leaves changes after the upper bound to the next pull, which returns only what changed', async () => {
    const until = new Date(clock.now());
    await clock.advance(1000);
    v.sandbox.admin.update('same4@example.com', { merges: { FNAME: 'Changed' } });
    const first = await collect(c.pull({ cursor: undefined, until, fields: ['FNAME'] }));
    const firstLive = first.flatMap((p) => p.contacts).filter((x) => !x.deleted);
    expect(firstLive.map((x) => x.email)).not.toContain('same4@example.com');
    await clock.advance(1000);
    const second = await collect(c.pull({ cursor: first[first.length - 1]!.next, until: new Date(clock.now()), fields: ['FNAME'] }));
    expect(second.flatMap((p) => p.contacts).map((x) => [x.email, x.fields.FNAME])).toEqual([['same4@example.com', 'Changed']]);
  });

  it('refuses a cursor it did not write, with a hint', async () => {
    await expect(collect(c.pull({ cursor: '{"v":9}', until: new Date(), fields: [] }))).rejects.toThrow(/not one segsync wrote/);
  });
});
