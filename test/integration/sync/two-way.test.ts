import type { Harness, Sandboxes } from '../../support/sandboxes';
import { callsSince, harness, sandboxConfig, startSandboxes, writeCalls } from '../../support/sandboxes';

const MAPPING = `fields:
  first_name: { type: string, conflict: latest }
  plan: { type: string }
mappings:
  hubspot: [{ local: first_name, remote: firstname }, { local: plan, remote: segsync_plan }]
  mailchimp: [{ local: first_name, remote: FNAME }, { local: plan, remote: PLAN }]
  klaviyo: [{ local: first_name, remote: first_name }, { local: plan, remote: plan }]
tags:
  owned: { prefix: "seg:" }
segments:
  cart_abandoner:
    rule: 'true'
    push: [{ esp: hubspot, name: "seg:cart" }, { esp: mailchimp, name: "seg:cart" }, { esp: klaviyo, name: "seg:cart" }]
`;

describe('two-way sync against the three sandboxes (real SDKs over HTTP)', () => {
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

  function add(email: string, props: Record<string, string>): number {
    return h.store.upsertContacts([{ email, properties: props, consent: 'subscribed', source: 'local' }])[0]!.contactId;
  }
  function flag(id: number, on: boolean): void {
    h.store.saveEvaluation(id, [{ contactId: id, segment: 'cart_abandoner', value: on, since: Date.now() }], undefined);
  }

  const hsTags = (email: string): string[] => (s.hubspot.contact(email)?.properties.segsync_tags ?? '').split(';').filter(Boolean).sort();
  const mcTags = (email: string): string[] => ((s.mailchimp.member(email)?.tags ?? []) as { name: string }[]).map((t) => t.name).sort();
  const klTags = (email: string): string[] => ((s.klaviyo.profileByEmail(email)?.properties.segsync_tags ?? []) as string[]).slice().sort();

  it('carries a change made in Mailchimp to HubSpot and Klaviyo on the next pull, with no call back to Mailchimp', async () => {
    add('ada@x.com', { first_name: 'Ada', plan: 'pro' });
    await h.pushAll();
    await new Promise((r) => setTimeout(r, 1100));
    s.mailchimp.admin.update('ada@x.com', { merges: { FNAME: 'Adeline' } });
    // Pulls stop at a whole-second bound fixed when they start (Mailchimp's timestamps have seconds).
    await new Promise((r) => setTimeout(r, 1100));
    const before = writeCalls(s);
    const pulled = await h.engine.pull('mailchimp');
    expect(pulled.changed).toBe(1);
    await Promise.all(h.esps.map((e) => h.engine.drainAll(e)));
    expect(s.hubspot.contact('ada@x.com')!.properties.firstname).toBe('Adeline');
    expect(s.klaviyo.profileByEmail('ada@x.com')!.first_name).toBe('Adeline');
    expect(callsSince(s, before)).toEqual({ hubspot: 1, mailchimp: 0, klaviyo: 1 });
  });

  it('turns a local segment flag into a tag on all three ESPs, and removes it when the behaviour goes', async () => {
    const id = add('ada@x.com', { first_name: 'Ada' });
    flag(id, true);
    await h.pushAll();
    expect([hsTags('ada@x.com'), mcTags('ada@x.com'), klTags('ada@x.com')]).toEqual([['seg:cart'], ['seg:cart'], ['seg:cart']]);
    flag(id, false);
    await h.pushAll();
    expect([hsTags('ada@x.com'), mcTags('ada@x.com'), klTags('ada@x.com')]).toEqual([[], [], []]);
  });

  it('makes zero changes and zero calls when it pulls back what it pushed (echo guard)', async () => {
    for (let i = 0; i < 20; i++) flag(add(`u${i}@x.com`, { first_name: `U${i}`, plan: 'free' }), true);
    await h.pushAll();
    const before = writeCalls(s);
    for (const esp of h.esps) expect(await h.engine.pull(esp)).toMatchObject({ changed: 0, queued: 0 });
    await h.pushAll();
    expect(callsSince(s, before)).toEqual({ hubspot: 0, mailchimp: 0, klaviyo: 0 });
    expect(h.store.counts().outbox).toEqual([]);
  });

  it('resolves the same field changed on two ESPs between pulls by the latest change, and explains why', async () => {
    const id = add('ada@x.com', { first_name: 'Ada' });
    await h.pushAll();
    await new Promise((r) => setTimeout(r, 1100));
    s.hubspot.edit('ada@x.com', { firstname: 'Ada from HubSpot' });
    await new Promise((r) => setTimeout(r, 1100));
    const profile = s.klaviyo.profileByEmail('ada@x.com')!;
    profile.first_name = 'Ada from Klaviyo';
    profile.updated = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    await h.engine.pull('klaviyo');
    await h.engine.pull('hubspot');
    expect(h.store.getContact(id)!.properties.first_name).toMatchObject({ value: 'Ada from Klaviyo', source: 'klaviyo' });
    expect(h.store.decisionsFor(id, 'first_name').at(-1)).toMatchObject({
      winner: 'klaviyo',
      reason: expect.stringMatching(/^latest wins: the local value .* is newer than hubspot/),
    });
    await Promise.all(h.esps.map((e) => h.engine.drainAll(e)));
    expect(s.hubspot.contact('ada@x.com')!.properties.firstname).toBe('Ada from Klaviyo');
    expect(s.mailchimp.member('ada@x.com')!.merge_fields.FNAME).toBe('Ada from Klaviyo');
  });

  it('sends 1,000 changed contacts of 10,000 in exactly the minimal batched calls, and none on a second run', async () => {
    h.store.upsertContacts(
      Array.from({ length: 10_000 }, (_, i) => ({
        email: `c${i}@x.com`,
        properties: { plan: 'free' },
        source: 'local' as const,
        consent: 'subscribed' as const,
      })),
    );
    await h.pushAll();
    for (let i = 1; i <= 10_000; i += 10) h.store.setProperty(i, 'plan', { value: 'pro', updatedAt: Date.now(), source: 'local' });
    let before = writeCalls(s);
    const started = Date.now();
    await h.pushAll();
    // Mailchimp: one PATCH per known member, since its batch endpoint would write each member's
    // status back (see connectors/mailchimp/push.ts); it limits connections, not calls.
    expect(callsSince(s, before)).toEqual({ hubspot: 10, mailchimp: 1000, klaviyo: 1 });
    process.stdout.write(`1,000 changed contacts pushed to three sandboxes in ${Date.now() - started} ms\n`);
    expect(s.hubspot.contact('c10@x.com')!.properties.segsync_plan).toBe('pro');
    before = writeCalls(s);
    await h.pushAll();
    expect(callsSince(s, before)).toEqual({ hubspot: 0, mailchimp: 0, klaviyo: 0 });
  }, 120_000);
});
