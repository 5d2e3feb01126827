/**
 * erase for HubSpot: the GDPR delete endpoint (permanent; not the 90-day-restorable archive). By email
 * when known, so a contact HubSpot no longer holds is still blocklisted there; else by record id.
 */
import { EspPermanentError } from '../../src/errors';
import type { ChangeResult, ContactRef } from '../connector';
import { resultOfError } from '../outcome';
import type { HubspotContext } from './context';

/** GDPR-deletes one contact on HubSpot. */
export async function eraseContact(ctx: HubspotContext, ref: ContactRef): Promise<ChangeResult> {
  try {
    if (ref.email) await ctx.client.purgeContact(ref.email, 'email');
    else if (ref.externalId) await ctx.client.purgeContact(ref.externalId);
    else return { ref, status: 'failed', error: new EspPermanentError('hubspot: erase needs an email or a record id', { esp: 'hubspot' }) };
    return { ref, status: 'ok', ...(ref.externalId ? { externalId: ref.externalId } : {}) };
  } catch (err) {
    // Already gone by id: the erase has nothing left to do.
    if (err instanceof EspPermanentError && err.status === 404) return { ref, status: 'ok' };
    return resultOfError(ref, err, 'hubspot');
  }
}
