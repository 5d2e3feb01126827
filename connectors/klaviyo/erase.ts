/**
 * GDPR/CCPA erasure through `POST /api/data-privacy-deletion-jobs`: Klaviyo deletes every profile
 * matching the identifier (not an archive). It takes exactly one identifier: the email when segsync
 * has one (so duplicates sharing it go too), else the profile id.
 */
import type { DataPrivacyCreateDeletionJobQuery } from 'klaviyo-api';
import type { ChangeResult, ContactRef } from '../connector';
import type { KlaviyoContext } from './context';
import { resultOfError } from '../outcome';

/** Requests deletion of one contact; `ok` once Klaviyo accepted the job (it runs asynchronously). */
export async function eraseContact(ctx: KlaviyoContext, ref: ContactRef): Promise<ChangeResult> {
  const profile = ref.email ? { type: 'profile', attributes: { email: ref.email } } : { type: 'profile', id: ref.externalId, attributes: {} };
  const body = { data: { type: 'data-privacy-deletion-job', attributes: { profile: { data: profile } } } };
  try {
    await ctx.client.call('dataPrivacy', 'POST /api/data-privacy-deletion-jobs', () =>
      ctx.client.dataPrivacy.requestProfileDeletion(body as unknown as DataPrivacyCreateDeletionJobQuery),
    );
    return ref.externalId ? { ref, status: 'ok', externalId: ref.externalId } : { ref, status: 'ok' };
  } catch (e) {
    return resultOfError(ref, e, 'klaviyo');
  }
}
