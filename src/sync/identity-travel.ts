/**
 * Identity changes travel: when a contact's email changed (locally, or followed from one ESP), every
 * other ESP whose record still carries the old email gets an `@email` operation, which its connector
 * turns into the vendor's own way of changing a record's email (HubSpot: the `email` property by
 * record id; Mailchimp: PATCH of the member with the new `email_address`; Klaviyo: PATCH of the
 * profile by id). What each ESP holds is the `@email` sync-state key, kept by inbound and outbound.
 */
import { EMAIL_KEY } from '../../connectors/connector';
import type { Contact, EspName } from '../model/types';
import type { OutboxInput, SyncFieldState } from '../store/store';

export { EMAIL_KEY };

/**
 * The email operation one ESP needs: none while the email it holds is unknown (a record segsync has
 * neither written by email nor pulled) or already the contact's.
 */
export function emailOps(contact: Contact, esp: EspName, state: readonly SyncFieldState[]): OutboxInput[] {
  const held = state.find((s) => s.key === EMAIL_KEY)?.remoteValue;
  if (typeof held !== 'string' || held === contact.email) return [];
  return [{ esp, contactId: contact.id, key: EMAIL_KEY, op: 'set', value: contact.email }];
}

/** True when an ESP record's email is news from that ESP: it differs from the email segsync last knew there. */
export function emailChangedOnEsp(state: readonly SyncFieldState[], remoteEmail: string): boolean {
  const held = state.find((s) => s.key === EMAIL_KEY)?.remoteValue;
  return typeof held !== 'string' || held !== remoteEmail;
}
