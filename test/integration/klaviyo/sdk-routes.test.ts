/**
 * A user's own code on `klaviyo-api` against the sandbox: a list and its profiles, the lists of a
 * profile, segments and tags, bulk suppression and unsuppression; every answer checked against the spec.
 */
import type { AxiosRequestConfig } from 'axios';
import { ApiKeySession, ListsApi, ProfilesApi, RetryWithExponentialBackoff, SegmentsApi, TagsApi } from 'klaviyo-api';
import type { SuppressionCreateJobCreateQuery, SuppressionDeleteJobCreateQuery } from 'klaviyo-api';
import type { KlaviyoHarness } from '../../support/klaviyo';
import { startKlaviyoHarness } from '../../support/klaviyo';

/** How a user points the SDK at another origin: a session that rewrites Klaviyo's host. */
class SandboxSession extends ApiKeySession {
  constructor(
    apiKey: string,
    private readonly origin: string,
  ) {
    super(apiKey, new RetryWithExponentialBackoff({ numRetries: 0 }));
  }

  override applyToRequest(config: AxiosRequestConfig): void {
    super.applyToRequest(config);
    if (typeof config.url === 'string') config.url = config.url.replace('https://a.klaviyo.com', this.origin);
  }
}

describe('Klaviyo sandbox, driven by the vendor SDK', () => {
  let h: KlaviyoHarness;
  let lists: ListsApi;
  let profiles: ProfilesApi;
  let session: SandboxSession;
  beforeAll(async () => {
    h = await startKlaviyoHarness({ rateLimits: false });
    session = new SandboxSession('pk_sdk_test', h.sandbox.url);
    lists = new ListsApi(session);
    profiles = new ProfilesApi(session);
  });
  afterAll(() => h.close());

  const status = (p: Promise<unknown>): Promise<number | undefined> =>
    p.then(
      () => undefined,
      (e: { response?: { status: number } }) => e.response?.status,
    );
  const suppression = (kind: 'create' | 'delete', emails: string[]): { data: unknown } => ({
    data: {
      type: `profile-suppression-bulk-${kind}-job`,
      attributes: { profiles: { data: emails.map((email) => ({ type: 'profile', attributes: { email } })) } },
    },
  });

  it('reads a list with its profile count, pages through its profiles, and names the lists of a profile', async () => {
    const ids = ['a', 'b', 'c'].map((n) => h.sandbox.seedProfile({ email: `${n}@example.com`, first_name: n.toUpperCase() }).id);
    const list = h.sandbox.state.createList('Newsletter');
    for (const id of ids) h.sandbox.state.join(list.id, id);

    const got = await lists.getList(list.id, { additionalFieldsList: ['profile_count'] });
    expect(got.body.data).toMatchObject({ id: list.id, attributes: { name: 'Newsletter', profileCount: 3 } });
    expect(await status(lists.getList('NOSUCH'))).toBe(404);

    const first = await lists.getProfilesForList(list.id, { pageSize: 2 });
    expect(first.body.data.map((p) => p.attributes.email)).toEqual(['a@example.com', 'b@example.com']);
    expect(first.body.data[0]!.attributes.joinedGroupAt).toBeInstanceOf(Date);
    const cursor = new URL(first.body.links!.next!).searchParams.get('page[cursor]')!;
    const second = await lists.getProfilesForList(list.id, { pageSize: 2, pageCursor: cursor });
    expect(second.body.data.map((p) => p.attributes.email)).toEqual(['c@example.com']);

    const ofProfile = await profiles.getListsForProfile(ids[0]!);
    expect(ofProfile.body.data.map((l) => l.attributes.name)).toEqual(['Newsletter']);
    expect(await status(profiles.getListsForProfile('NOSUCH'))).toBe(404);
  });

  it('answers segments and tags with empty collections, as a new account does', async () => {
    expect((await new SegmentsApi(session).getSegments()).body.data).toEqual([]);
    expect((await new TagsApi(session).getTags()).body.data).toEqual([]);
  });

  it('suppresses profiles (creating unknown ones) and lifts only manual suppressions, never an unsubscribe', async () => {
    h.sandbox.seedProfile({ email: 'unsub@example.com', suppression: ['UNSUBSCRIBE'] });
    const job = await profiles.bulkSuppressProfiles(suppression('create', ['a@example.com', 'new@example.com']) as unknown as SuppressionCreateJobCreateQuery);
    expect(job.body.data).toMatchObject({ type: 'profile-suppression-bulk-create-job', attributes: { status: 'complete', totalCount: 2 } });
    expect((await profiles.getBulkSuppressProfilesJob(job.body.data.id)).body.data.id).toBe(job.body.data.id);
    expect(h.sandbox.profileByEmail('a@example.com')!.marketing.suppression.map((s) => s.reason)).toEqual(['USER_SUPPRESSED']);
    expect(h.sandbox.profileByEmail('new@example.com')!.marketing.suppression.map((s) => s.reason)).toEqual(['USER_SUPPRESSED']);

    const lift = await profiles.bulkUnsuppressProfiles(
      suppression('delete', ['a@example.com', 'unsub@example.com']) as unknown as SuppressionDeleteJobCreateQuery,
    );
    expect(lift.body.data.attributes).toMatchObject({ totalCount: 2, skippedCount: 1 });
    expect(h.sandbox.profileByEmail('a@example.com')!.marketing.suppression).toEqual([]);
    expect(h.sandbox.profileByEmail('unsub@example.com')!.marketing.suppression.map((s) => s.reason)).toEqual(['UNSUBSCRIBE']);
    expect((await profiles.getBulkUnsuppressProfilesJob(lift.body.data.id)).body.data.id).toBe(lift.body.data.id);
    expect(await status(profiles.bulkSuppressProfiles(suppression('create', ['not-an-email']) as unknown as SuppressionCreateJobCreateQuery))).toBe(400);
  });

  it('answered every call above in shapes the published spec allows', () => {
    expect(h.exchanges.length).toBeGreaterThan(12);
    // A request refused on purpose breaks the spec on purpose; its answer must not.
    const problems = h.specProblems().filter((p) => !/→ 4\d\d: .*: (request body|query parameter)/.test(p));
    expect(problems).toEqual([]);
  });
});
