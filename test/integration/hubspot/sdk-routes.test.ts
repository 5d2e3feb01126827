/**
 * A user's own code on `@hubspot/api-client` against the sandbox: one contact at a time, merge, lists
 * and their memberships, subscription statuses; every answer checked against HubSpot's published spec.
 */
import { Client } from '@hubspot/api-client';
import { PublicUpdateSubscriptionStatusRequestLegalBasisEnum } from '@hubspot/api-client/lib/codegen/communication_preferences/index';
import type { HubspotSandbox, SandboxExchange } from '../../../connectors/hubspot/sandbox';
import { startHubspotSandbox } from '../../../connectors/hubspot/sandbox';
import { hubspotValidator } from '../../support/hubspot';

describe('HubSpot sandbox, driven by the vendor SDK', () => {
  let sb: HubspotSandbox;
  let hubspot: Client;
  const exchanges: SandboxExchange[] = [];
  beforeAll(async () => {
    sb = await startHubspotSandbox({ rateLimits: false, onExchange: (x) => exchanges.push(x) });
    hubspot = new Client({ accessToken: sb.accessToken, basePath: sb.url, numberOfApiCallRetries: 0 });
  });
  afterAll(() => sb.close());

  /** The HTTP status of a refused SDK call. */
  const refusal = (p: Promise<unknown>): Promise<number | undefined> =>
    p.then(
      () => undefined,
      (e: { code?: number }) => e.code,
    );

  it('creates, reads (by id and by email), updates and archives single contacts', async () => {
    const created = await hubspot.crm.contacts.basicApi.create({ properties: { email: 'Ada@Example.com', firstname: 'Ada' }, associations: [] });
    expect(created).toMatchObject({ id: expect.any(String), properties: { email: 'ada@example.com', firstname: 'Ada' } });
    expect(await refusal(hubspot.crm.contacts.basicApi.create({ properties: { email: 'ada@example.com' }, associations: [] }))).toBe(409);

    const byId = await hubspot.crm.contacts.basicApi.getById(created.id, ['firstname', 'email']);
    expect(byId.properties).toMatchObject({ firstname: 'Ada', email: 'ada@example.com' });
    const byEmail = await hubspot.crm.contacts.basicApi.getById('ada@example.com', ['firstname'], undefined, undefined, false, 'email');
    expect(byEmail.id).toBe(created.id);

    const updated = await hubspot.crm.contacts.basicApi.update(created.id, { properties: { lastname: 'Lovelace' } });
    expect(updated.properties.lastname).toBe('Lovelace');
    expect(sb.contact(created.id)?.properties).toMatchObject({ firstname: 'Ada', lastname: 'Lovelace' });
    expect(await refusal(hubspot.crm.contacts.basicApi.update(created.id, { properties: { nosuch: 'x' } }))).toBe(400);

    const page = await hubspot.crm.contacts.basicApi.getPage(10, undefined, ['email']);
    expect(page.results.map((c) => c.properties.email)).toEqual(['ada@example.com']);

    await hubspot.crm.contacts.basicApi.archive(created.id);
    expect(sb.contact(created.id)).toBeUndefined();
    expect(await refusal(hubspot.crm.contacts.basicApi.getById(created.id))).toBe(404);
  });

  it('merges two contacts: the primary keeps its values and fills its blanks, the other is gone', async () => {
    const [primary, other] = sb.seed([
      { email: 'bo@example.com', properties: { firstname: 'Bo' } },
      { email: 'bo.work@example.com', properties: { firstname: 'Robert', lastname: 'Ode' } },
    ]);
    const merged = await hubspot.crm.contacts.basicApi.merge({ primaryObjectId: primary!, objectIdToMerge: other! });
    expect(merged.id).toBe(primary);
    expect(sb.contact(primary!)?.properties).toMatchObject({ email: 'bo@example.com', firstname: 'Bo', lastname: 'Ode', hs_merged_object_ids: other });
    expect(sb.contact(other!)).toBeUndefined();
    expect(await refusal(hubspot.crm.contacts.basicApi.merge({ primaryObjectId: primary!, objectIdToMerge: '999999' }))).toBe(404);
  });

  it('reads lists by id, all or some, and their memberships both ways', async () => {
    const ids = sb.seed(Array.from({ length: 5 }, (_, i) => ({ email: `l${i}@example.com` })));
    const { list } = await hubspot.crm.lists.listsApi.create({ name: 'VIPs', objectTypeId: '0-1', processingType: 'MANUAL' });
    await hubspot.crm.lists.membershipsApi.add(list.listId, ids);

    const fetched = await hubspot.crm.lists.listsApi.getById(list.listId);
    expect(fetched.list).toMatchObject({ listId: list.listId, name: 'VIPs', size: 5 });
    expect((await hubspot.crm.lists.listsApi.getAll([list.listId])).lists.map((l) => l.name)).toEqual(['VIPs']);
    expect(await refusal(hubspot.crm.lists.listsApi.getById('424242'))).toBe(404);

    const first = await hubspot.crm.lists.membershipsApi.getPage(list.listId, undefined, undefined, 3);
    expect(first.results.map((r) => r.recordId)).toEqual(ids.slice(0, 3));
    const rest = await hubspot.crm.lists.membershipsApi.getPage(list.listId, first.paging!.next!.after, undefined, 3);
    expect(rest.results.map((r) => r.recordId)).toEqual(ids.slice(3));
    expect(rest.paging).toBeUndefined();

    const ofRecord = await hubspot.crm.lists.membershipsApi.getLists('0-1', ids[0]!);
    expect(ofRecord.results.map((r) => r.listId)).toEqual([list.listId]);
  });

  it('subscribes and unsubscribes per subscription type, and never resubscribes someone who opted out of all email', async () => {
    const [id] = sb.seed([{ email: 'cy@example.com' }]);
    const status = hubspot.communicationPreferences.statusApi;
    const subscribed = await status.subscribe({
      emailAddress: 'cy@example.com',
      subscriptionId: '1',
      legalBasis: PublicUpdateSubscriptionStatusRequestLegalBasisEnum.ConsentWithNotice,
      legalBasisExplanation: 'signed up at checkout',
    });
    expect(subscribed).toMatchObject({ id: '1', status: 'SUBSCRIBED' });
    expect((await status.getEmailStatus('cy@example.com')).subscriptionStatuses.map((s) => [s.id, s.status])).toEqual([
      ['1', 'SUBSCRIBED'],
      ['2', 'NOT_SUBSCRIBED'],
    ]);
    await status.unsubscribe({ emailAddress: 'cy@example.com', subscriptionId: '1' });
    await status.unsubscribe({ emailAddress: 'cy@example.com', subscriptionId: '2' });
    expect(sb.contact(id!)?.properties.hs_email_optout).toBe('true');
    expect(await refusal(status.subscribe({ emailAddress: 'cy@example.com', subscriptionId: '1' }))).toBe(400);
  });

  it('answered every call above in shapes the published spec allows', () => {
    expect(exchanges.length).toBeGreaterThan(20);
    expect(exchanges.flatMap((x) => hubspotValidator().check(x))).toEqual([]);
  });
});
