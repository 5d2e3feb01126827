/**
 * GDPR/CCPA erasure through `POST /api/data-privacy-deletion-jobs`: Klaviyo deletes every profile
 * matching the identifier (not an archive). It takes exactly one identifier: the email when segsync
 * has one (so duplicates sharing it go too), else the profile id. The job runs later and deletes what
 * matches then: a profile segsync wrote for the same address meanwhile (the person signed up again)
 * would go too, so writes to that address wait until the erased profile is gone.
 */
import type { DataPrivacyCreateDeletionJobQuery } from 'klaviyo-api';
import { normaliseEmail } from '../../src/model/identity';
import type { ChangeResult, ContactRef } from '../connector';
import type { JobState } from '../unfinished-jobs';
import type { KlaviyoContext } from './context';
import { resultOfError } from '../outcome';

/** How a deletion job is named among the unfinished jobs: by the profile it deletes (its state is that profile's). */
const DELETION = 'deletion:';

/** Whether an unfinished job's id names a deletion job. */
export function isDeletion(jobId: string): boolean {
  return jobId.startsWith(DELETION);
}

/** Where a deletion job stands: running while its profile still exists (a 404 ends it, see unfinished-jobs.ts). */
export async function deletionState(ctx: KlaviyoContext, jobId: string): Promise<JobState> {
  const id = jobId.slice(DELETION.length);
  await ctx.client.call('profiles', 'GET /api/profiles/{id}', () => ctx.client.profiles.getProfile(id));
  return 'running';
}

/** Requests deletion of one contact; `ok` once Klaviyo accepted the job (it runs asynchronously). */
export async function eraseContact(ctx: KlaviyoContext, ref: ContactRef): Promise<ChangeResult> {
  const profile = ref.email ? { type: 'profile', attributes: { email: ref.email } } : { type: 'profile', id: ref.externalId, attributes: {} };
  const body = { data: { type: 'data-privacy-deletion-job', attributes: { profile: { data: profile } } } };
  try {
    // Noted before the call, so a process killed between Klaviyo's answer and the note leaves no gap; a
    // job that never went holds writes only while the profile exists. Without the profile id there is
    // nothing to ask about: the job's end cannot be seen.
    if (ref.email && ref.externalId) ctx.unfinished.add(`${DELETION}${ref.externalId}`, [normaliseEmail(ref.email)]);
    await ctx.client.call('dataPrivacy', 'POST /api/data-privacy-deletion-jobs', () =>
      ctx.client.dataPrivacy.requestProfileDeletion(body as unknown as DataPrivacyCreateDeletionJobQuery),
    );
    return ref.externalId ? { ref, status: 'ok', externalId: ref.externalId } : { ref, status: 'ok' };
  } catch (e) {
    return resultOfError(ref, e, 'klaviyo');
  }
}
