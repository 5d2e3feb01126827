/**
 * Consent on HubSpot. Reading: `hs_email_optout` = true is "unsubscribed"; its absence says nothing.
 * Writing: only ever an unsubscribe, through the communication-preferences API, when segsync was asked
 * to carry an opt-out and HubSpot is not known to hold one; never a subscribe or resubscribe, and no
 * consent write at all on a push that did not ask for one.
 */
import { asEspError } from '../../src/errors';
import type { SegsyncError } from '../../src/errors';
import type { ContactChange } from '../connector';
import type { HubspotContext } from './context';

/** True when the change asks HubSpot to opt the contact out. */
export function wantsUnsubscribe(change: ContactChange): boolean {
  return change.optOut !== undefined && change.remoteConsent !== 'unsubscribed';
}

/** Opts each email out of every subscription type; returns the error per email that failed. */
export async function applyUnsubscribes(ctx: HubspotContext, emails: string[]): Promise<Map<string, SegsyncError>> {
  const failed = new Map<string, SegsyncError>();
  if (emails.length === 0) return failed;
  ctx.subscriptionIds ??= ctx.client.subscriptionIds();
  let ids: string[];
  try {
    ids = await ctx.subscriptionIds;
    ctx.subscriptionTypes = ids.length;
  } catch (err) {
    ctx.subscriptionIds = undefined;
    for (const e of emails) failed.set(e, asEspError(err, 'hubspot'));
    return failed;
  }
  for (const email of emails) {
    for (const id of ids) {
      try {
        await ctx.client.unsubscribe(email, id);
      } catch (err) {
        failed.set(email, asEspError(err, 'hubspot'));
        break;
      }
    }
  }
  return failed;
}
