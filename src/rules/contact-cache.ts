/**
 * The contact attributes rules read (email, creation time, consent, tags, the referenced
 * properties), held in memory by contact id and refreshed per contact after each write.
 */
import type { Contact, FieldValue } from '../model/types';
import type { Store } from '../store/store';
import type { ContactView } from './context';

const NO_PROPERTIES: Record<string, FieldValue> = Object.freeze(Object.create(null) as Record<string, FieldValue>);
const NO_TAGS: string[] = Object.freeze([]) as unknown as string[];

/** A contact as rules see it, from a stored contact. */
export function contactView(c: Contact): ContactView {
  const properties = Object.create(null) as Record<string, FieldValue>;
  for (const [k, v] of Object.entries(c.properties)) properties[k] = v.value;
  return { id: c.id, email: c.email, properties, tags: [...c.tags], consent: c.consent?.status ?? '', createdAt: c.createdAt };
}

/**
 * Some contacts' attributes as they cross to a sweep worker: ids and creation times as typed arrays,
 * and emails, consent, properties and tags as one JSON text of four arrays by position (null: none;
 * a null email: no such contact). Structured cloning half a million small objects and arrays costs
 * several times more on the main thread than writing them as one string, which clones as a copy.
 */
export interface ContactColumns {
  ids: Float64Array;
  created: Float64Array;
  json: string;
}

export class ContactCache {
  private readonly emails: (string | undefined)[] = [];
  private readonly created: number[] = [];
  private readonly consent: (string | undefined)[] = [];
  // By id in arrays, not Maps: a full recompute reads both for every contact, and an array index is
  // much cheaper than hashing into a Map of a million entries.
  private readonly properties: (Record<string, FieldValue> | undefined)[] = [];
  private readonly tags: (string[] | undefined)[] = [];
  private count = 0;

  /** Only `propertyNames` are kept (all when undefined). */
  constructor(private readonly propertyNames: Set<string> | undefined) {}

  /** Loads every contact from the store. */
  static load(store: Store, propertyNames: Set<string> | undefined): ContactCache {
    const cache = new ContactCache(propertyNames);
    for (const [id, email, createdAt, consent] of store.scanContacts()) {
      cache.emails[id] = email;
      cache.created[id] = createdAt;
      if (consent) cache.consent[id] = consent;
      // Written for every contact so the arrays stay as dense as `emails` (sparse writes would turn
      // them into slow dictionaries).
      cache.properties[id] = undefined;
      cache.tags[id] = undefined;
      cache.count++;
    }
    if (propertyNames === undefined || propertyNames.size) {
      for (const [id, name, value] of store.scanProperties(propertyNames && [...propertyNames])) cache.propsOf(id)[name] = value;
    }
    for (const [id, tag] of store.scanTags()) {
      let list = cache.tags[id];
      if (!list) cache.tags[id] = list = [];
      list.push(tag);
    }
    return cache;
  }

  /** Sets one contact's attributes (bulk loading; `properties` should hold only the names rules read). */
  put(id: number, email: string, createdAt: number, consent: string | undefined, properties?: Record<string, FieldValue>, tags?: string[]): void {
    if (this.emails[id] === undefined) this.count++;
    this.emails[id] = email;
    this.created[id] = createdAt;
    this.consent[id] = consent;
    this.properties[id] = properties ?? this.properties[id];
    this.tags[id] = tags?.length ? tags : this.tags[id];
  }

  private propsOf(id: number): Record<string, FieldValue> {
    let p = this.properties[id];
    if (!p) this.properties[id] = p = Object.create(null) as Record<string, FieldValue>;
    return p;
  }

  /** The largest contact id seen. */
  get maxId(): number {
    return this.emails.length - 1;
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.emails[id] !== undefined;
  }

  /** Contact ids in [lo, hi), ascending. */
  *ids(lo = 0, hi = Infinity): IterableIterator<number> {
    const end = Math.min(hi, this.emails.length);
    for (let id = Math.max(0, lo); id < end; id++) if (this.emails[id] !== undefined) yield id;
  }

  /** The attributes of these contacts, packed for a sweep worker (see ContactColumns). */
  export(ids: readonly number[]): ContactColumns {
    const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
    return {
      ids: Float64Array.from(ids),
      created: Float64Array.from(ids, (id) => this.created[id] ?? 0),
      json: JSON.stringify([
        ids.map((id) => orNull(this.emails[id])),
        ids.map((id) => orNull(this.consent[id])),
        ids.map((id) => orNull(this.properties[id])),
        ids.map((id) => orNull(this.tags[id])),
      ]),
    };
  }

  /** Every contact, packed as `export` packs some (for the rules' state snapshot). */
  exportAll(): ContactColumns {
    return this.export([...this.ids()]);
  }

  /** Takes the attributes of contacts as `export` gave them (a sweep worker following the main thread). */
  import(c: ContactColumns): void {
    const [emails, consent, properties, tags] = JSON.parse(c.json) as [
      (string | null)[],
      (string | null)[],
      (Record<string, FieldValue> | null)[],
      (string[] | null)[],
    ];
    // Filled up to the largest id first: a write far past an array's end makes it a slow dictionary.
    let top = -1;
    for (const id of c.ids) if (id > top) top = id;
    while (this.emails.length <= top) {
      this.emails.push(undefined);
      this.created.push(0);
      this.consent.push(undefined);
      this.properties.push(undefined);
      this.tags.push(undefined);
    }
    c.ids.forEach((id, k) => {
      const email = emails[k];
      if (email === null || email === undefined) {
        if (this.emails[id] !== undefined) this.count--;
        this.emails[id] = undefined;
        this.properties[id] = undefined;
        this.tags[id] = undefined;
        this.consent[id] = undefined;
        return;
      }
      if (this.emails[id] === undefined) this.count++;
      this.emails[id] = email;
      this.created[id] = c.created[k]!;
      this.consent[id] = consent[k] ?? undefined;
      this.properties[id] = properties[k] ?? undefined;
      this.tags[id] = tags[k] ?? undefined;
    });
  }

  /** A view to refill with `viewInto` (a sweep reuses one for every contact). */
  blankView(): ContactView {
    return { id: 0, email: '', properties: NO_PROPERTIES, tags: NO_TAGS, consent: '', createdAt: 0 };
  }

  /** Fills `view` with a known contact's attributes (see `view`). */
  viewInto(view: ContactView, id: number): void {
    view.id = id;
    view.email = this.emails[id]!;
    view.properties = this.properties[id] ?? NO_PROPERTIES;
    view.tags = this.tags[id] ?? NO_TAGS;
    view.consent = this.consent[id] ?? '';
    view.createdAt = this.created[id]!;
  }

  /** The view rules read, or undefined for an unknown contact. */
  view(id: number): ContactView | undefined {
    const email = this.emails[id];
    if (email === undefined) return undefined;
    return {
      id,
      email,
      properties: this.properties[id] ?? NO_PROPERTIES,
      tags: this.tags[id] ?? NO_TAGS,
      consent: this.consent[id] ?? '',
      createdAt: this.created[id]!,
    };
  }

  /** Replaces one contact's attributes from the store's copy (undefined: the contact was erased). */
  replace(id: number, contact: Contact | undefined): void {
    if (!contact) {
      if (this.emails[id] !== undefined) this.count--;
      this.emails[id] = undefined;
      this.properties[id] = undefined;
      this.tags[id] = undefined;
      this.consent[id] = undefined;
      return;
    }
    if (this.emails[id] === undefined) this.count++;
    this.emails[id] = contact.email;
    this.created[id] = contact.createdAt;
    this.consent[id] = contact.consent?.status;
    const props = Object.create(null) as Record<string, FieldValue>;
    let any = false;
    for (const [k, v] of Object.entries(contact.properties)) {
      if (this.propertyNames && !this.propertyNames.has(k)) continue;
      props[k] = v.value;
      any = true;
    }
    this.properties[id] = any ? props : undefined;
    this.tags[id] = contact.tags.size ? [...contact.tags] : undefined;
  }
}
