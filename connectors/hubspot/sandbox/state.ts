/** The sandbox's in-memory HubSpot portal: contacts, property definitions, lists, the GDPR blocklist. */
import type { ValueProblem } from './properties';
import { PropertyRegistry } from './properties';
import { conflict, notFound, validation } from './errors';
import { replaceEntries } from '../../sandbox-state-file';

export interface StoredContact {
  id: string;
  /** Stored values (dates and datetimes as epoch-ms strings). */
  properties: Map<string, string>;
  /** When each property last changed (property history's newest timestamp), epoch ms. */
  changedAt: Map<string, number>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
}

export interface StoredList {
  listId: string;
  name: string;
  processingType: 'MANUAL' | 'SNAPSHOT' | 'DYNAMIC';
  listVersion: number;
  members: Set<string>;
  /** When each member was last added (absent for lists kept from before it was recorded: `createdAt` then). */
  joinedAt?: Map<string, number>;
  createdAt: number;
  updatedAt: number;
}

/** Who made a change: an API client (its app id) or a person in HubSpot's UI. */
export type ChangeOrigin = { source: 'INTEGRATION'; sourceId: string } | { source: 'CRM_UI'; sourceId: string };

/** What happened, for webhook subscriptions. */
export type PortalEvent =
  | { type: 'contact.creation'; objectId: string; at: number; origin: ChangeOrigin }
  | { type: 'contact.propertyChange'; objectId: string; at: number; origin: ChangeOrigin; propertyName: string; propertyValue: string }
  | { type: 'contact.deletion'; objectId: string; at: number; origin: ChangeOrigin }
  | { type: 'contact.privacyDeletion'; objectId: string; at: number; origin: ChangeOrigin }
  | { type: 'contact.merge'; objectId: string; at: number; origin: ChangeOrigin; primaryObjectId: string; mergedObjectIds: string[] };

/** Properties every answer carries unless asked otherwise (as HubSpot does). */
/** The primary's read-only list of the records merged into it. */
const MERGED_IDS = 'hs_merged_object_ids';

export const DEFAULT_OUTPUT = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];

/** Everything a portal holds, for the sandbox's state file. */
export interface PortalSnapshot {
  properties: ReturnType<PropertyRegistry['snapshot']>;
  contacts: Map<string, StoredContact>;
  byEmail: Map<string, string>;
  lists: Map<string, StoredList>;
  blocklist: Set<string>;
  statuses: Map<string, Map<string, 'SUBSCRIBED' | 'NOT_SUBSCRIBED'>>;
  nextId: number;
  nextListId: number;
  lastStamp: number;
}

export class PortalState {
  readonly properties: PropertyRegistry;
  private readonly contacts = new Map<string, StoredContact>();
  private readonly byEmail = new Map<string, string>();
  private readonly lists = new Map<string, StoredList>();
  private readonly blocklist = new Set<string>();
  /** Email subscription types of the portal. */
  readonly subscriptionTypes = [
    { id: '1', name: 'Marketing Information', description: 'Marketing offers and updates.' },
    { id: '2', name: 'One to One', description: 'One to one emails.' },
  ];
  /** Explicit statuses by email and subscription type; absent means never set (not subscribed). */
  private readonly statuses = new Map<string, Map<string, 'SUBSCRIBED' | 'NOT_SUBSCRIBED'>>();
  private nextId = 1001;
  private nextListId = 1;
  private lastStamp = 0;
  private muted = false;

  constructor(
    private readonly now: () => number,
    private readonly listener: (event: PortalEvent) => void,
  ) {
    this.properties = new PropertyRegistry(now);
  }

  /** Everything the portal holds (live objects: serialise before changing anything). */
  snapshot(): PortalSnapshot {
    const { contacts, byEmail, lists, blocklist, statuses, nextId, nextListId, lastStamp } = this;
    return { properties: this.properties.snapshot(), contacts, byEmail, lists, blocklist, statuses, nextId, nextListId, lastStamp };
  }

  /** Replaces everything the portal holds with a snapshot (no webhooks: nothing happened). */
  restore(s: PortalSnapshot): void {
    this.properties.restore(s.properties);
    replaceEntries(this.contacts, s.contacts);
    replaceEntries(this.byEmail, s.byEmail);
    replaceEntries(this.lists, s.lists);
    replaceEntries(this.statuses, s.statuses);
    this.blocklist.clear();
    for (const e of s.blocklist) this.blocklist.add(e);
    this.nextId = s.nextId;
    this.nextListId = s.nextListId;
    this.lastStamp = s.lastStamp;
  }

  /** Runs `fn` without emitting webhook events (seeding). */
  quietly<T>(fn: () => T): T {
    this.muted = true;
    try {
      return fn();
    } finally {
      this.muted = false;
    }
  }

  private emit(event: PortalEvent): void {
    if (!this.muted) this.listener(event);
  }

  /** The time a write gets, strictly increasing only when asked (ties are allowed, as on HubSpot). */
  private stamp(): number {
    this.lastStamp = Math.max(this.lastStamp, this.now());
    return this.lastStamp;
  }

  contact(id: string): StoredContact | undefined {
    const c = this.contacts.get(id);
    return c && !c.archived ? c : undefined;
  }

  contactByEmail(email: string): StoredContact | undefined {
    const id = this.byEmail.get(email.trim().toLowerCase());
    return id ? this.contact(id) : undefined;
  }

  /** Live (not archived) contacts in id order. */
  allContacts(): StoredContact[] {
    return [...this.contacts.values()].filter((c) => !c.archived).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** Archived contacts in id order (`GET …/contacts?archived=true`). */
  archivedContacts(): StoredContact[] {
    return [...this.contacts.values()].filter((c) => c.archived).sort((a, b) => Number(a.id) - Number(b.id));
  }

  isBlocklisted(email: string): boolean {
    return this.blocklist.has(email.trim().toLowerCase());
  }

  /** Validates a property map; returns the normalised values or every problem found. */
  check(input: Record<string, unknown>): { values: Map<string, string>; problems: ValueProblem[] } {
    const values = new Map<string, string>();
    const problems: ValueProblem[] = [];
    for (const [name, raw] of Object.entries(input ?? {})) {
      const r = this.properties.normalise(name, raw);
      if ('problem' in r) problems.push(r.problem);
      else values.set(name, r.value);
    }
    return { values, problems };
  }

  /** Creates a contact with already-checked values. */
  create(values: Map<string, string>, origin: ChangeOrigin): StoredContact {
    const email = values.get('email');
    if (email && this.byEmail.has(email) && this.contact(this.byEmail.get(email)!))
      throw conflict(`Contact already exists. Existing ID: ${this.byEmail.get(email)}`, { context: { id: [this.byEmail.get(email)!] } });
    if (email && this.blocklist.has(email))
      throw validation(`${email} was permanently deleted and is blocklisted`, {
        errors: [{ message: 'blocklisted', code: 'INVALID_EMAIL', context: { email: [email] } }],
      });
    const at = this.stamp();
    const id = String(this.nextId++);
    const c: StoredContact = { id, properties: new Map(), changedAt: new Map(), createdAt: at, updatedAt: at, archived: false };
    for (const [k, v] of values) {
      if (v === '') continue;
      c.properties.set(k, v);
      c.changedAt.set(k, at);
    }
    this.contacts.set(id, c);
    if (email) this.byEmail.set(email, id);
    this.emit({ type: 'contact.creation', objectId: id, at, origin });
    for (const [k, v] of c.properties) this.emit({ type: 'contact.propertyChange', objectId: id, at, origin, propertyName: k, propertyValue: v });
    return c;
  }

  /** Applies checked values; emits a propertyChange only for values that really changed. */
  update(c: StoredContact, values: Map<string, string>, origin: ChangeOrigin): StoredContact {
    const changed: [string, string][] = [];
    for (const [k, v] of values) {
      if ((c.properties.get(k) ?? '') === v) continue;
      changed.push([k, v]);
    }
    if (changed.length === 0) return c;
    const newEmail = values.get('email');
    if (newEmail !== undefined && newEmail !== '' && newEmail !== c.properties.get('email')) {
      const other = this.byEmail.get(newEmail);
      if (other && other !== c.id && this.contact(other)) throw conflict(`A contact with the email ${newEmail} already exists. Existing ID: ${other}`);
      const old = c.properties.get('email');
      if (old) this.byEmail.delete(old);
      this.byEmail.set(newEmail, c.id);
    }
    const at = this.stamp();
    for (const [k, v] of changed) {
      if (v === '') c.properties.delete(k);
      else c.properties.set(k, v);
      c.changedAt.set(k, at);
    }
    c.updatedAt = at;
    for (const [k, v] of changed) this.emit({ type: 'contact.propertyChange', objectId: c.id, at, origin, propertyName: k, propertyValue: v });
    return c;
  }

  archive(id: string, origin: ChangeOrigin): boolean {
    const c = this.contact(id);
    if (!c) return false;
    c.archived = true;
    c.updatedAt = this.stamp();
    this.emit({ type: 'contact.deletion', objectId: id, at: c.updatedAt, origin });
    return true;
  }

  /** Restores an archived contact, as HubSpot's recycle bin does: the same id, the values it had. */
  unarchive(id: string): StoredContact {
    const c = this.contacts.get(id);
    if (!c?.archived) throw notFound(`No archived contact ${id}`);
    const email = c.properties.get('email');
    if (email && this.contactByEmail(email)) throw conflict(`A contact with the email ${email} already exists. Existing ID: ${this.byEmail.get(email)}`);
    c.archived = false;
    c.updatedAt = this.stamp();
    if (email) this.byEmail.set(email, id);
    return c;
  }

  /** GDPR delete: the record is gone for good and its email blocklisted. Unknown email: blocklisted only. */
  purge(objectId: string, idProperty: string | undefined, origin: ChangeOrigin): void {
    let c: StoredContact | undefined;
    if (idProperty === 'email') {
      const email = objectId.trim().toLowerCase();
      c = this.contactByEmail(email);
      this.blocklist.add(email);
    } else if (idProperty === undefined || idProperty === 'hs_object_id') {
      c = this.contact(objectId);
      if (!c) throw notFound(`Object not found. objectId are usually numeric.`, { context: { id: [objectId] } });
    } else throw validation(`idProperty '${idProperty}' is not a unique property`);
    if (!c) return;
    const email = c.properties.get('email');
    if (email) {
      this.blocklist.add(email);
      this.byEmail.delete(email);
    }
    this.contacts.delete(c.id);
    for (const l of this.lists.values()) l.members.delete(c.id);
    this.emit({ type: 'contact.privacyDeletion', objectId: c.id, at: this.stamp(), origin });
  }

  /**
   * Merges `mergedId` into `primaryId` (HubSpot keeps the primary's values, fills its blanks, and lists
   * every record merged into it, the merged one's own merged ids included, in `hs_merged_object_ids`).
   */
  merge(primaryId: string, mergedId: string, origin: ChangeOrigin): StoredContact {
    const primary = this.contact(primaryId);
    const merged = this.contact(mergedId);
    if (!primary || !merged) throw notFound('Both contacts must exist to merge');
    const ids = (c: StoredContact): string[] => (c.properties.get(MERGED_IDS) ?? '').split(';').filter(Boolean);
    const mergedIds = [...new Set([...ids(primary), mergedId, ...ids(merged)])].join(';');
    for (const [k, v] of merged.properties) {
      if (primary.properties.has(k) || k === 'email' || k === MERGED_IDS) continue;
      primary.properties.set(k, v);
      primary.changedAt.set(k, merged.changedAt.get(k) ?? merged.updatedAt);
    }
    primary.properties.set(MERGED_IDS, mergedIds);
    this.contacts.delete(mergedId);
    const email = merged.properties.get('email');
    if (email) this.byEmail.delete(email);
    for (const l of this.lists.values()) if (l.members.delete(mergedId)) l.members.add(primaryId);
    primary.updatedAt = this.stamp();
    primary.changedAt.set(MERGED_IDS, primary.updatedAt);
    this.emit({ type: 'contact.merge', objectId: primaryId, at: primary.updatedAt, origin, primaryObjectId: primaryId, mergedObjectIds: [mergedId] });
    return primary;
  }

  /** A stored value as answers show it; `lastmodifieddate`, `createdate` and `hs_object_id` are computed. */
  value(c: StoredContact, name: string): string | undefined {
    if (name === 'hs_object_id') return c.id;
    if (name === 'lastmodifieddate') return new Date(c.updatedAt).toISOString();
    if (name === 'createdate') return new Date(c.createdAt).toISOString();
    const v = c.properties.get(name);
    return v === undefined ? undefined : this.properties.present(name, v);
  }

  /** A raw comparable value for search (times as ms). */
  sortValue(c: StoredContact, name: string): string | number | undefined {
    if (name === 'hs_object_id') return Number(c.id);
    if (name === 'lastmodifieddate') return c.updatedAt;
    if (name === 'createdate') return c.createdAt;
    const v = c.properties.get(name);
    if (v === undefined) return undefined;
    const t = this.properties.get(name)?.type;
    return t === 'number' || t === 'date' || t === 'datetime' ? Number(v) : v;
  }

  /** An email's status per subscription type. */
  subscriptionStatus(email: string): Map<string, 'SUBSCRIBED' | 'NOT_SUBSCRIBED'> {
    return this.statuses.get(email.trim().toLowerCase()) ?? new Map();
  }

  /** Sets one status; opting out of every type sets the contact's `hs_email_optout`, as HubSpot does. */
  setSubscription(email: string, subscriptionId: string, status: 'SUBSCRIBED' | 'NOT_SUBSCRIBED', origin: ChangeOrigin): void {
    if (!this.subscriptionTypes.some((t) => t.id === subscriptionId)) throw validation(`Subscription ${subscriptionId} does not exist`);
    const key = email.trim().toLowerCase();
    const map = this.statuses.get(key) ?? new Map<string, 'SUBSCRIBED' | 'NOT_SUBSCRIBED'>();
    map.set(subscriptionId, status);
    this.statuses.set(key, map);
    const c = this.contactByEmail(key);
    if (!c) return;
    const optedOut = this.subscriptionTypes.every((t) => map.get(t.id) === 'NOT_SUBSCRIBED');
    this.update(c, new Map([['hs_email_optout', optedOut ? 'true' : 'false']]), origin);
  }

  createList(name: string, processingType: StoredList['processingType']): StoredList {
    if ([...this.lists.values()].some((l) => l.name.toLowerCase() === name.toLowerCase())) throw conflict(`A list named '${name}' already exists.`);
    const at = this.now();
    const l: StoredList = {
      listId: String(this.nextListId++),
      name,
      processingType,
      listVersion: 1,
      members: new Set(),
      joinedAt: new Map(),
      createdAt: at,
      updatedAt: at,
    };
    this.lists.set(l.listId, l);
    return l;
  }

  list(listId: string): StoredList | undefined {
    return this.lists.get(listId);
  }

  listByName(name: string): StoredList | undefined {
    return [...this.lists.values()].find((l) => l.name.toLowerCase() === name.toLowerCase());
  }

  allLists(): StoredList[] {
    return [...this.lists.values()];
  }
}
