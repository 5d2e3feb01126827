/**
 * GDPR/CCPA erasure that follows every identifier a contact has had, and a suppression that outlives
 * it. The erase reaches each ESP by the contact's record id there and by every email it has had (an
 * email changed on one ESP leaves the old address on the others), and the erased identities are kept
 * as hashes, so a later pull or webhook of a record not yet gone cannot bring the contact back.
 */
import { createHash } from 'node:crypto';
import type { ContactRef } from '../../connectors/connector';
import { normaliseEmail } from '../model/identity';
import type { Contact, EspName, FieldValue } from '../model/types';
import type { OutboxInput, Store, SyncFieldState } from '../store/store';
import { asTags } from './values';

/** Sync-state key of the emails a contact had before an ESP changed it (its `remoteValue`). */
export const PREVIOUS_EMAILS_KEY = '@previous-emails';

/** Store cursor kinds of the tombstones (one row per ESP, keyed by a hash: no address is kept). */
const ERASED_EMAIL = 'erased:email:';
const ERASED_ID = 'erased:id:';

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Remembers the address a contact had before an email change, so an erase can still reach it. */
export function rememberPreviousEmail(store: Store, esp: EspName, contact: Contact): void {
  const prev = store.getSyncState(contact.id, esp).find((s) => s.key === PREVIOUS_EMAILS_KEY);
  const emails = new Set(asTags(prev?.remoteValue) ?? []);
  emails.add(contact.email);
  store.putSyncState([
    { contactId: contact.id, esp, key: PREVIOUS_EMAILS_KEY, remoteValue: [...emails].sort(), pushedValue: undefined, remoteModifiedAt: undefined },
  ]);
}

/** Every email the contact has had, current first. */
export function emailsOf(store: Store, contact: Contact, esps: readonly EspName[]): string[] {
  const all = new Set([contact.email]);
  for (const esp of esps) {
    const rows: SyncFieldState[] = store.getSyncState(contact.id, esp);
    for (const e of asTags(rows.find((s) => s.key === PREVIOUS_EMAILS_KEY)?.remoteValue) ?? []) all.add(e);
  }
  return [...all];
}

/**
 * The erase operations for one ESP: one per email the contact has had, and one by its record id
 * there (which reaches the record whatever address it holds now).
 */
export function eraseOps(contact: Contact, esp: EspName, emails: string[]): OutboxInput[] {
  const ops: OutboxInput[] = emails.map((email, i) => ({ esp, contactId: contact.id, key: i === 0 ? '@erase' : `@erase:${i}`, op: 'erase', value: { email } }));
  const id = contact.externalIds[esp];
  if (id) ops.push({ esp, contactId: contact.id, key: '@erase:id', op: 'erase', value: { email: '', externalId: id } });
  return ops;
}

/** The `ContactRef` an erase operation names (older queues hold the bare email). */
export function eraseRef(value: FieldValue | undefined, contactId: number): ContactRef {
  if (typeof value === 'string') return { email: value, contactId };
  const v = value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  const email = typeof v.email === 'string' ? v.email : '';
  return { email, contactId, ...(typeof v.externalId === 'string' ? { externalId: v.externalId } : {}) };
}

/** Records the erased identities so no pull or webhook recreates the contact. */
export function suppressErased(store: Store, esps: readonly EspName[], contact: Contact, emails: string[], at: number): void {
  const when = new Date(at).toISOString();
  for (const esp of esps) {
    for (const email of emails) store.setCursor(esp, ERASED_EMAIL + digest(normaliseEmail(email)), when);
    for (const [idEsp, id] of Object.entries(contact.externalIds)) if (idEsp === esp && id) store.setCursor(esp, ERASED_ID + digest(id), when);
  }
}

/** True when an ESP record names an identity that was erased. */
export function isErased(store: Store, esp: EspName, email: string | undefined, externalId: string | undefined): boolean {
  if (email && store.getCursor(esp, ERASED_EMAIL + digest(normaliseEmail(email)))) return true;
  return externalId !== undefined && store.getCursor(esp, ERASED_ID + digest(externalId)) !== undefined;
}
