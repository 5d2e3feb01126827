/**
 * GDPR/CCPA erasure: `POST …/members/{hash}/actions/delete-permanent`. Irreversible, and afterwards
 * Mailchimp refuses to add the address again through the API ("Forgotten Email Not Subscribed"). A
 * plain `DELETE` of the member only archives it, so it is never used for an erase.
 */
import type { ChangeResult, ContactRef } from '../connector';
import { EspPermanentError } from '../../src/errors';
import { subscriberHash } from '../../src/model/identity';
import type { MailchimpClient } from './client';
import { resultOfError } from '../outcome';

/** Erases one contact from the audience; a member that is not there is already erased. */
export async function eraseMember(client: MailchimpClient, ref: ContactRef): Promise<ChangeResult> {
  const hash = ref.externalId ?? subscriberHash(ref.email);
  try {
    await client.deletePermanent(hash);
    return { ref, status: 'ok', externalId: hash };
  } catch (err) {
    if (err instanceof EspPermanentError && err.status === 404) return { ref, status: 'ok', externalId: hash };
    return resultOfError(ref, err, 'mailchimp');
  }
}
