/**
 * One value an ESP refuses (an option its field does not offer, text for a number) is set aside on
 * its own: the contact's other fields and tags still reach that ESP, through the real SDKs and the
 * sandboxes, and the refused operation is dead-lettered with the field, the value and what to do.
 */
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const MAPPING = `fields:
  first_name: { type: string }
  plan: { type: enum, options: [free, pro] }
mappings:
  hubspot: [{ local: first_name, remote: firstname }, { local: plan, remote: segsync_plan }]
  mailchimp: [{ local: first_name, remote: FNAME }, { local: plan, remote: PLAN }]
segments:
  vip:
    rule: 'true'
    push: [{ esp: hubspot, name: "seg:vip" }, { esp: mailchimp, name: "seg:vip" }]
`;

describe('a value an ESP refuses holds back nothing else of its contact', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeEach(async () => {
    s = await startSandboxes();
    h = harness(sandboxConfig(s, MAPPING));
  });
  afterEach(async () => {
    await h.close();
    await s.close();
  });

  it('sets aside only the refused field: the name and the tag land on HubSpot and Mailchimp, the plan is dead-lettered with its reason', async () => {
    // "gold" came from somewhere the declared type is not checked (a value an ESP holds, an older store).
    const [ann, bob] = h.store
      .upsertContacts([
        { email: 'ann@x.com', properties: { first_name: 'Ann', plan: 'gold' }, consent: 'subscribed', source: 'klaviyo' },
        { email: 'bob@x.com', properties: { first_name: 'Bob', plan: 'pro' }, consent: 'subscribed', source: 'local' },
      ])
      .map((o) => o.contactId);
    for (const id of [ann!, bob!]) h.store.saveEvaluation(id, [{ contactId: id, segment: 'vip', value: true, since: Date.now() }], undefined);
    await h.pushAll();

    expect(s.hubspot.contact('ann@x.com')!.properties).toMatchObject({ firstname: 'Ann', segsync_tags: 'seg:vip' });
    expect(s.hubspot.contact('ann@x.com')!.properties.segsync_plan ?? '').toBe('');
    expect(s.hubspot.contact('bob@x.com')!.properties).toMatchObject({ firstname: 'Bob', segsync_plan: 'pro' });
    const member = s.mailchimp.member('ann@x.com')!;
    expect([member.merge_fields.FNAME, member.merge_fields.PLAN ?? '']).toEqual(['Ann', '']);
    expect((member.tags as { name: string }[]).map((t) => t.name)).toEqual(['seg:vip']);

    const dead = (esp: 'hubspot' | 'mailchimp'): { key: string; error: string }[] =>
      h.store.deadOutbox(esp, 100).map((d) => ({ key: d.key, error: d.lastError ?? '' }));
    expect(dead('hubspot')).toEqual([{ key: 'segsync_plan', error: expect.stringContaining('"gold" is not an option of HubSpot property "segsync_plan"') }]);
    expect(dead('hubspot')[0]!.error).toContain("hint: add the option to the field's options in segsync.yaml");
    expect(dead('mailchimp')).toEqual([{ key: 'PLAN', error: expect.stringContaining('"gold" is not a choice of merge field PLAN (free, pro)') }]);
    expect(h.store.counts().outbox.map((o) => [o.esp, o.pending, o.dead])).toEqual([
      ['hubspot', 0, 1],
      ['mailchimp', 0, 1],
    ]);
  });
});
