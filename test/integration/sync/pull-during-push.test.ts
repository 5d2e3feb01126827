/**
 * A pull reads an ESP over several calls while the outbox pushes to it. A read answered after a push
 * was applied and recorded must not put back what the ESP held before it: segsync would believe a
 * segment tag is there (or gone) when it is not, and the contact's next flip would send nothing.
 * Real SDKs against the sandboxes; the read's answer is held back by the sandbox while the push runs.
 */
import { join } from 'node:path';
import type { EspName } from '../../../src/model/types';
import { TAGS_KEY } from '../../../src/sync/inbound';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';
import { until } from '../../support/wait';

const MAPPING = `segments:
  vip:
    rule: 'true'
    push: [{ esp: hubspot, name: vip }, { esp: mailchimp, name: vip }]
`;

describe('a pull whose answer arrives after a push to the same contacts (real SDKs against the sandboxes)', () => {
  let s: Sandboxes;
  let h: Harness;
  let others: Harness[] = [];
  beforeEach(async () => {
    s = await startSandboxes();
    h = harness(sandboxConfig(s, MAPPING));
  });
  afterEach(async () => {
    for (const o of others) if (o !== h) await o.close();
    others = [];
    await h.close();
    await s.close();
  });

  function add(email: string): number {
    return h.store.upsertContacts([{ email, properties: {}, consent: 'subscribed', source: 'local' }])[0]!.contactId;
  }
  function flag(id: number, on: boolean, esp: EspName): void {
    h.store.saveEvaluation(id, [{ contactId: id, segment: 'vip', value: on, since: Date.now() }], undefined);
    h.engine.enqueue([id], [esp]);
  }
  const heldTags = (id: number, esp: EspName): unknown => h.store.getSyncState(id, esp).find((r) => r.key === TAGS_KEY)?.remoteValue;
  const mcVip = (email: string): boolean => ((s.mailchimp.member(email)?.tags ?? []) as { name: string }[]).some((t) => t.name === 'vip');
  const hsVip = (email: string): boolean => (s.hubspot.contact(email)?.properties.segsync_tags ?? '').split(';').includes('vip');
  const mcCalls = (route: RegExp): number =>
    Object.entries(s.mailchimp.stats().calls)
      .filter(([r]) => route.test(r))
      .reduce((n, [, c]) => n + c, 0);

  // The pull runs in the pushing process (the daemon), or in another one on the same store (`segsync pull` beside it).
  it.each(['the same process', 'another process'])(
    'Mailchimp: a tag member list read before a removal, answered after it, leaves the removal recorded (pull in %s)',
    async (where) => {
      const reader = where === 'the same process' ? h : harness(sandboxConfig(s, MAPPING), undefined, undefined, join(h.dir, 'segsync.db'));
      others.push(reader);
      // Segment tags are the tags segsync owns there: a pull lists their members.
      await h.engine.ensureSchema('mailchimp');
      await reader.engine.ensureSchema('mailchimp');
      const ann = add('ann@x.com');
      const bob = add('bob@x.com');
      flag(ann, true, 'mailchimp');
      flag(bob, true, 'mailchimp');
      await h.engine.drainAll('mailchimp');
      expect([mcVip('ann@x.com'), mcVip('bob@x.com')]).toEqual([true, true]);

      flag(ann, false, 'mailchimp');
      // The pull lists the tag's members (ann among them), and its answer is held while ann's removal goes.
      const members = /^GET \/3\.0\/lists\/:listId\/segments\/:segmentId\/members$/;
      const listed = mcCalls(members);
      s.mailchimp.inject({ method: 'GET', path: '/segments/', answerDelayMs: 1500 });
      const pull = reader.engine.pull('mailchimp');
      await until(
        () => mcCalls(members) > listed,
        10_000,
        () => s.mailchimp.stats().calls,
      );
      await h.engine.drainAll('mailchimp');
      expect(mcVip('ann@x.com')).toBe(false);
      await pull;
      expect(heldTags(ann, 'mailchimp')).toEqual([]);

      // Her next flip is diffed against what Mailchimp holds, so the tag goes back.
      flag(ann, true, 'mailchimp');
      await h.engine.drainAll('mailchimp');
      expect([mcVip('ann@x.com'), mcVip('bob@x.com')]).toEqual([true, true]);
    },
  );

  it('HubSpot: a search page read before a removal, answered after it, leaves the removal recorded', async () => {
    await h.engine.ensureSchema('hubspot');
    const ann = add('ann@x.com');
    flag(ann, true, 'hubspot');
    await h.engine.drainAll('hubspot');
    expect(hsVip('ann@x.com')).toBe(true);

    flag(ann, false, 'hubspot');
    // A pull's search window ends at a whole second fixed when it starts: the tag's write falls in it.
    await new Promise((r) => setTimeout(r, 1100));
    const search = 'POST /crm/v3/objects/contacts/search';
    const searched = s.hubspot.stats().requests[search] ?? 0;
    s.hubspot.inject({ method: 'POST', path: '/contacts/search', answerDelayMs: 1500 });
    const pull = h.engine.pull('hubspot');
    await until(
      () => (s.hubspot.stats().requests[search] ?? 0) > searched,
      10_000,
      () => s.hubspot.stats().requests,
    );
    // Counted before it is handled: let the sandbox read the record first.
    await new Promise((r) => setTimeout(r, 200));
    await h.engine.drainAll('hubspot');
    expect(hsVip('ann@x.com')).toBe(false);
    const report = await pull;
    expect(report.contacts).toBeGreaterThan(0);
    expect(heldTags(ann, 'hubspot')).toEqual([]);

    flag(ann, true, 'hubspot');
    await h.engine.drainAll('hubspot');
    expect(hsVip('ann@x.com')).toBe(true);
  });

  it('HubSpot: a search page read before an email change, answered after it, does not take the old email back', async () => {
    await h.engine.ensureSchema('hubspot');
    const ann = add('ann@x.com');
    flag(ann, true, 'hubspot');
    await h.engine.drainAll('hubspot');
    expect(s.hubspot.contact('ann@x.com')).toBeDefined();

    h.store.changeEmail(ann, 'anna@x.com');
    h.engine.enqueue([ann], ['hubspot']);
    await new Promise((r) => setTimeout(r, 1100));
    const search = 'POST /crm/v3/objects/contacts/search';
    const searched = s.hubspot.stats().requests[search] ?? 0;
    s.hubspot.inject({ method: 'POST', path: '/contacts/search', answerDelayMs: 1500 });
    const pull = h.engine.pull('hubspot');
    await until(
      () => (s.hubspot.stats().requests[search] ?? 0) > searched,
      10_000,
      () => s.hubspot.stats().requests,
    );
    await new Promise((r) => setTimeout(r, 200));
    await h.engine.drainAll('hubspot');
    expect(s.hubspot.contact('anna@x.com')).toBeDefined();
    const report = await pull;
    expect(report.contacts).toBeGreaterThan(0);
    // The page still said ann@x.com: segsync's own change on its way, not HubSpot's.
    expect(h.store.getContact(ann)!.email).toBe('anna@x.com');
    expect(h.store.getSyncState(ann, 'hubspot').find((r) => r.key === '@email')!.remoteValue).toBe('anna@x.com');
  });
});
