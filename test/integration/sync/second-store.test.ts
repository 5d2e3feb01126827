/**
 * A second, fresh store attached to accounts that already hold segsync's tags and fields (a careless
 * operator's second daemon): it pulls before it writes, and the safety valve stops every push that
 * would strip them, until `--force`.
 */
import { SafetyValveError } from '../../../src/errors';
import type { EspName } from '../../../src/model/types';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const CONFIG = `fields:
  first_name: { type: string }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
safety: { maxShare: 0.2, minContacts: 5 }
segments:
  vip:
    rule: 'true'
    push: [{ esp: hubspot, name: "seg:vip" }, { esp: mailchimp, name: "seg:vip" }, { esp: klaviyo, name: "seg:vip" }]
  lifetime_value:
    type: value
    rule: '0.0'
    push: [{ esp: mailchimp, as: property, name: LTV }, { esp: klaviyo, as: property, name: lifetime_value }]
`;

const N = 30;
const ESPS: EspName[] = ['hubspot', 'mailchimp', 'klaviyo'];

describe('a second store against accounts that already hold segsync tags and fields', () => {
  let s: Sandboxes;
  let first: Harness;
  let second: Harness;
  beforeAll(async () => {
    s = await startSandboxes();
    first = harness(sandboxConfig(s, CONFIG));
    second = harness(sandboxConfig(s, CONFIG));
  });
  afterAll(async () => {
    await first.close();
    await second.close();
    await s.close();
  });

  function load(h: Harness, vip: boolean, ltv: number): void {
    const ids = h.store.upsertContacts(
      Array.from({ length: N }, (_, i) => ({
        email: `p${i}@x.com`,
        properties: { first_name: `P${i}` },
        consent: 'subscribed' as const,
        source: 'local' as const,
      })),
    );
    for (const { contactId } of ids) {
      h.store.saveEvaluation(
        contactId,
        [
          { contactId, segment: 'vip', value: vip, since: Date.now() },
          { contactId, segment: 'lifetime_value', value: ltv, since: Date.now() },
        ],
        undefined,
      );
    }
  }
  const held = (): { tags: number[]; ltv: unknown[] } => ({
    tags: [
      s.hubspot.contactCount() &&
        Array.from({ length: N }, (_, i) => s.hubspot.contact(`p${i}@x.com`)?.properties.segsync_tags ?? '').filter((t) => t.includes('seg:vip')).length,
      Array.from({ length: N }, (_, i) => (s.mailchimp.member(`p${i}@x.com`)?.tags ?? []) as { name: string }[]).filter((t) =>
        t.some((x) => x.name === 'seg:vip'),
      ).length,
      Array.from({ length: N }, (_, i) => (s.klaviyo.profileByEmail(`p${i}@x.com`)?.properties.segsync_tags ?? []) as string[]).filter((t) =>
        t.includes('seg:vip'),
      ).length,
    ],
    ltv: [s.mailchimp.member('p7@x.com')?.merge_fields.LTV, s.klaviyo.profileByEmail('p7@x.com')?.properties.lifetime_value],
  });

  it('pushes nothing destructive without --force, and says why', async () => {
    load(first, true, 150.49);
    await first.pushAll();
    const before = held();
    expect(before).toEqual({ tags: [N, N, N], ltv: ['150.49', 150.49] });

    // Pulls stop at a whole-second bound fixed when they start: the writes above must be a second old.
    await new Promise((r) => setTimeout(r, 1100));
    // The fresh store knows no events: every rule says "not a VIP", "lifetime value 0".
    load(second, false, 0);
    for (const e of second.esps) await second.engine.ensureSchema(e);
    second.engine.enqueueAll();
    const results = await Promise.allSettled(second.esps.map((e) => second.engine.drainAll(e)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const r of results) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SafetyValveError);
    }
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/remove tag seg:vip from 30 of the 30 contacts that carry it/);
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/clear or change LTV on 30 of the 30 contacts/);
    expect(held()).toEqual(before);
    for (const esp of ESPS) expect(second.engine.stoppedReason(esp)).toMatch(/push stopped/);
    // It pulled before it would have written: it has seen what the accounts hold.
    expect(second.store.findContactByEmail('p7@x.com')!.externalIds).toEqual(
      expect.objectContaining({ hubspot: expect.any(String), mailchimp: expect.any(String), klaviyo: expect.any(String) }),
    );
  }, 60_000);

  it('sends it with --force, and lifts the stop', async () => {
    await second.engine.drainAll('mailchimp', { force: true });
    expect(held().tags[1]).toBe(0);
    expect(held().ltv[0]).toBe('0');
    expect(second.engine.stoppedReason('mailchimp')).toBeUndefined();
    expect(second.engine.stoppedReason('klaviyo')).toMatch(/push stopped/);
  }, 60_000);

  it('reconcile finds drift the incremental pull cannot see, and repairs it through the outbox', async () => {
    // A value changed behind the pull cursor (as a crash mid-write leaves it): Klaviyo's `updated` does not move.
    const p7 = s.klaviyo.profileByEmail('p7@x.com')!;
    p7.properties.lifetime_value = 133.96;
    const dry = await first.engine.reconcile('klaviyo', { dryRun: true });
    expect(dry).toMatchObject({ contacts: N, drifted: 1, drift: { lifetime_value: 1 }, queued: 0 });
    // The second store's forced push left Mailchimp without the tag and with LTV 0: drift for the first.
    expect(await first.engine.reconcile('mailchimp', { dryRun: true })).toMatchObject({ drifted: N, drift: { LTV: N, tags: N } });
    expect(s.klaviyo.profileByEmail('p7@x.com')!.properties.lifetime_value).toBe(133.96);

    const fixed = await first.engine.reconcile('klaviyo');
    expect(fixed).toMatchObject({ drifted: 1, queued: 1 });
    await first.engine.drainAll('klaviyo');
    expect(s.klaviyo.profileByEmail('p7@x.com')!.properties.lifetime_value).toBe(150.49);
    expect(await first.engine.reconcile('klaviyo', { dryRun: true })).toMatchObject({ drifted: 0 });
  }, 60_000);
});
