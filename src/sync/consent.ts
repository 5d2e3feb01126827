/**
 * Consent as its own field with its own time. An ESP's consent replaces the local one only by the
 * vendor's consent timestamp (never a profile's last-modified time, which any edit moves); an opt-out
 * whose time the vendor does not give still stands, a subscribe without a newer consent time never
 * does. Locally held opt-outs travel to every ESP that knows the contact as the vendor's unsubscribe.
 */
import { isOptedOut } from '../model/consent';
import type { Consent, ConsentStatus, Contact, EspName } from '../model/types';
import type { OutboxInput, Store, SyncFieldState } from '../store/store';

/** Sync-state key of an ESP's consent (its value is a `ConsentStatus`). */
export const CONSENT_KEY = '@consent';

/**
 * Whether an ESP's consent replaces the local one. `at` is the vendor's consent time, when it gives
 * one. An opt-out wins unless the local consent is newer by a whole second; anything else needs a
 * consent time newer than the local one, so nobody is subscribed by an unrelated edit or an unknown time.
 */
export function remoteConsentWins(local: Consent | undefined, remote: ConsentStatus, at: number | undefined): boolean {
  if (!local) return true;
  if (local.status === remote) return false;
  // Vendors stamp consent to the second (Klaviyo) while a local time can carry milliseconds: an
  // opt-out in the same second as the local consent wins, since mailing someone who refused is the
  // error that cannot be taken back (the chaos test lost such an opt-out).
  if (isOptedOut(remote)) return at === undefined || at >= Math.floor(local.updatedAt / 1000) * 1000;
  return at !== undefined && at > local.updatedAt;
}

/**
 * Takes an ESP's consent into the store when it wins over the local one; true when the local consent
 * changed. Every path that learns an ESP's consent (a pull, a webhook, a push's answer) goes through it,
 * so none can record the ESP's status as seen without the store having weighed it.
 */
export function takeRemoteConsent(store: Store, contact: Contact, esp: EspName, consent: ConsentStatus, at: number | undefined, now: number): boolean {
  // Besides a consent that wins, the same opt-out made again: stamped later by a vendor that stamps
  // each one, or, from a vendor that gives no time, seen now where it was not seen before (a
  // pull or a webhook gets here only then). It is newer than a resubscription made since the local
  // opt-out, on another ESP or there, which must not outlive it (see optOutOp): a vendor's opt-out
  // stands, whether the local consent was the same or not.
  if (!remoteConsentWins(contact.consent, consent, at) && !optOutMadeAgain(contact.consent, consent, at ?? now)) return false;
  store.setConsent(contact.id, { status: consent, updatedAt: at ?? now, source: esp });
  return true;
}

/** Whether an ESP reports the local opt-out made again, at a time after the local one. */
function optOutMadeAgain(local: Consent | undefined, remote: ConsentStatus, at: number): boolean {
  return local !== undefined && local.status === remote && isOptedOut(remote) && at > local.updatedAt;
}

/**
 * The opt-out an ESP still needs: the contact is unsubscribed locally, the ESP knows the contact (or
 * is about to, because other operations create it there), and it is not known to hold an opt-out. A
 * contact the ESP does not know and has nothing else to receive is not created just to opt it out.
 */
export function optOutOp(contact: Contact, esp: EspName, state: SyncFieldState | undefined, createsRecord: boolean): OutboxInput | undefined {
  if (contact.consent?.status !== 'unsubscribed') return undefined;
  if (!contact.externalIds[esp] && !state && !createsRecord) return undefined;
  const held = state?.remoteValue ?? state?.pushedValue;
  if (typeof held === 'string' && isOptedOut(held as ConsentStatus)) return undefined;
  // The ESP lifted an opt-out after the local one was made (a resubscription there): that stands
  // until a newer local opt-out.
  if (state?.remoteValue === null && state.remoteModifiedAt !== undefined && contact.consent.updatedAt <= state.remoteModifiedAt) return undefined;
  return { esp, contactId: contact.id, key: CONSENT_KEY, op: 'set', value: 'unsubscribed' };
}
