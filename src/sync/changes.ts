/**
 * How queued outbox operations become the connector's `ContactChange`s and batches: shared by the
 * outbox, which sends them, and the push plan, which predicts what sending them costs, so the two
 * cannot disagree on what a batch holds.
 */
import type { Connector, ContactChange } from '../../connectors/connector';
import type { Contact, EspName } from '../model/types';
import type { OutboxInput, Store } from '../store/store';
import { CONSENT_KEY, TAGS_KEY } from './inbound';
import { asTags } from './values';

/** The operations one drain round takes from the outbox and the contacts one `push` call gets. */
export function drainSizes(connector: Connector): { batchSize: number; maxItems: number } {
  const batchSize = Math.max(1, connector.limits.maxBatch.upsert);
  return { batchSize, maxItems: batchSize * Math.max(4, connector.limits.maxConcurrency) };
}

/** Operations grouped per contact, contacts in the order of their first operation. */
export function groupPerContact<T extends { contactId: number }>(items: T[]): Map<number, T[]> {
  const byContact = new Map<number, T[]>();
  for (const item of items) {
    const list = byContact.get(item.contactId);
    if (list) list.push(item);
    else byContact.set(item.contactId, [item]);
  }
  return byContact;
}

/** Splits a list into consecutive slices of at most `size`. */
export function slices<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One contact's queued operations for one ESP as the change the connector is handed (`sent`: an earlier attempt sent it). */
export function changeFor(
  store: Store,
  esp: EspName,
  contact: Contact,
  ops: (Pick<OutboxInput, 'key' | 'op' | 'value'> & { sent?: boolean })[],
): ContactChange {
  const state = new Map(store.getSyncState(contact.id, esp).map((s) => [s.key, s]));
  const change: ContactChange = {
    ref: { email: contact.email, contactId: contact.id, ...(contact.externalIds[esp] ? { externalId: contact.externalIds[esp] } : {}) },
    set: {},
    clear: [],
    addTags: [],
    removeTags: [],
  };
  for (const item of ops) {
    if (item.key === CONSENT_KEY) {
      // An opt-out queued for a contact who has since opted in again is completed without a write.
      if (contact.consent?.status === 'unsubscribed') change.optOut = { at: contact.consent.updatedAt };
    } else if (item.op === 'set') change.set[item.key] = item.value ?? null;
    else if (item.op === 'clear') change.clear.push(item.key);
    else if (item.op === 'addTag') change.addTags.push(String(item.value));
    else if (item.op === 'removeTag') change.removeTags.push(String(item.value));
  }
  const tags = state.get(TAGS_KEY);
  const remoteTags = asTags(tags?.remoteValue) ?? asTags(tags?.pushedValue);
  if (remoteTags) change.remoteTags = uncertainTagsAsOpposite(remoteTags, ops);
  if (contact.consent) change.localConsent = contact.consent.status;
  const remoteConsent = state.get(CONSENT_KEY)?.remoteValue;
  if (typeof remoteConsent === 'string') change.remoteConsent = remoteConsent as ContactChange['remoteConsent'] & string;
  return change;
}

/**
 * The tags last seen on the ESP, with each tag an earlier attempt sent without a recorded answer taken
 * as the opposite of what its operation now asks. That attempt may have landed (its answer lost to a
 * crash or a reset), so what segsync believes of the tag is unknown; a connector spares an edit the ESP
 * already holds, and would otherwise skip the removal that takes back an add which did land.
 */
function uncertainTagsAsOpposite(remoteTags: string[], ops: { op: string; value?: unknown; sent?: boolean }[]): string[] {
  const held = new Set(remoteTags);
  for (const o of ops) {
    if (!o.sent) continue;
    if (o.op === 'addTag') held.delete(String(o.value));
    else if (o.op === 'removeTag') held.add(String(o.value));
  }
  return [...held];
}
