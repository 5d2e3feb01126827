/**
 * The contact attributes rules read (email, creation time, consent, tags, the referenced
 * properties), held in memory by contact id and refreshed per contact after each write. Equal
 * property records, tag lists and consent texts are one frozen object shared by every contact that
 * has them: rules read few, mostly low-cardinality properties (a country, a plan), so a million
 * contacts hold a few hundred records instead of a million objects for every collection to walk.
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
 * Some contacts' attributes as they cross to a sweep worker or into a snapshot: typed arrays by
 * position (consent, properties and tags as indexes into lists of the distinct values, -1: none;
 * `alive` 0: no such contact), the distinct values and the emails as JSON. Structured cloning or
 * parsing a million small objects costs many times more than typed arrays and a few hundred records.
 */
export interface ContactColumns {
  ids: Float64Array;
  alive: Uint8Array;
  created: Float64Array;
  consent: Int32Array;
  records: Int32Array;
  tags: Int32Array;
  /** JSON of [consent texts, property records, tag lists]. */
  values: string;
  /** JSON of the emails by position, or undefined when they do not cross (every known one is ''). */
  emails: string | undefined;
}

type Values = [string[], Record<string, FieldValue>[], string[][]];

/**
 * The contacts of ids lo .. hi - 1 out of packed columns whose ids ascend (a saved state's), copied;
 * the distinct values are shared whole. Undefined when emails cross: their JSON is not cut cheaply.
 */
export function sliceColumns(c: ContactColumns, lo: number, hi: number): ContactColumns | undefined {
  if (c.emails !== undefined && c.emails !== '[]') return undefined;
  const at = (id: number): number => {
    let a = 0;
    let b = c.ids.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (c.ids[m]! < id) a = m + 1;
      else b = m;
    }
    return a;
  };
  const from = at(lo);
  const to = at(hi);
  return {
    ids: c.ids.slice(from, to),
    alive: c.alive.slice(from, to),
    created: c.created.slice(from, to),
    consent: c.consent.slice(from, to),
    records: c.records.slice(from, to),
    tags: c.tags.slice(from, to),
    values: c.values,
    emails: undefined,
  };
}

/** One frozen copy of each distinct record, by a key of its content. */
class Shared<T extends object> {
  private readonly byKey = new Map<string, T>();

  of(key: string, value: T): T {
    const known = this.byKey.get(key);
    if (known) return known;
    this.byKey.set(key, Object.freeze(value));
    return value;
  }
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
  private readonly records = new Shared<Record<string, FieldValue>>();
  private readonly tagLists = new Shared<string[]>();
  private readonly consents = new Map<string, string>();

  /**
   * Only `propertyNames` are kept (all when undefined); emails only with `keepEmails` (else every
   * known contact's is ''): a million addresses are most of the heap, and most rule sets never read one.
   */
  constructor(
    private readonly propertyNames: Set<string> | undefined,
    private readonly keepEmails = true,
  ) {}

  /** Loads every contact from the store. */
  static load(store: Store, propertyNames: Set<string> | undefined, keepEmails = true): ContactCache {
    const cache = new ContactCache(propertyNames, keepEmails);
    for (const [id, email, createdAt, consent] of store.scanContacts()) {
      cache.emails[id] = keepEmails ? email : '';
      cache.created[id] = createdAt;
      if (consent) cache.consent[id] = cache.consentText(consent);
      // Written for every contact so the arrays stay as dense as `emails` (sparse writes would turn
      // them into slow dictionaries).
      cache.properties[id] = undefined;
      cache.tags[id] = undefined;
      cache.count++;
    }
    // Rows come by contact id: each contact's record is complete, and shared, when the next id starts.
    if (propertyNames === undefined || propertyNames.size) {
      let id = -1;
      let record: Record<string, FieldValue> | undefined;
      const done = (): void => {
        if (record) cache.properties[id] = cache.shareRecord(record);
      };
      for (const [rowId, name, value] of store.scanProperties(propertyNames && [...propertyNames])) {
        if (rowId !== id) {
          done();
          id = rowId;
          record = Object.create(null) as Record<string, FieldValue>;
        }
        record![name] = value;
      }
      done();
    }
    let id = -1;
    let list: string[] = [];
    const done = (): void => {
      if (list.length) cache.tags[id] = cache.shareTags(list);
    };
    for (const [rowId, tag] of store.scanTags()) {
      if (rowId !== id) {
        done();
        id = rowId;
        list = [];
      }
      list.push(tag);
    }
    done();
    return cache;
  }

  /** Sets one contact's attributes (bulk loading; `properties` should hold only the names rules read). */
  put(id: number, email: string, createdAt: number, consent: string | undefined, properties?: Record<string, FieldValue>, tags?: string[]): void {
    if (this.emails[id] === undefined) this.count++;
    this.emails[id] = this.keepEmails ? email : '';
    this.created[id] = createdAt;
    this.consent[id] = consent === undefined ? undefined : this.consentText(consent);
    this.properties[id] = properties ? this.shareRecord(Object.assign(Object.create(null) as Record<string, FieldValue>, properties)) : this.properties[id];
    this.tags[id] = tags?.length ? this.shareTags([...tags]) : this.tags[id];
  }

  private shareRecord(record: Record<string, FieldValue>): Record<string, FieldValue> {
    return this.records.of(JSON.stringify(record), record);
  }

  private shareTags(list: string[]): string[] {
    return this.tagLists.of(JSON.stringify(list), list);
  }

  private consentText(text: string): string {
    const known = this.consents.get(text);
    if (known !== undefined) return known;
    this.consents.set(text, text);
    return text;
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

  /**
   * The attributes of these contacts, packed for a sweep worker (see ContactColumns); without
   * `emails`, every known contact's email crosses as '' (for rules that never read it).
   */
  export(ids: readonly number[], emails = true): ContactColumns {
    const indexer = <T>(list: T[]): ((v: T | undefined) => number) => {
      const at = new Map<T, number>();
      return (v) => {
        if (v === undefined) return -1;
        let k = at.get(v);
        if (k === undefined) {
          at.set(v, (k = list.length));
          list.push(v);
        }
        return k;
      };
    };
    const values: Values = [[], [], []];
    const consentIndex = indexer(values[0]);
    const recordIndex = indexer(values[1]);
    const tagIndex = indexer(values[2]);
    const n = ids.length;
    const out: ContactColumns = {
      ids: Float64Array.from(ids),
      alive: new Uint8Array(n),
      created: new Float64Array(n),
      consent: new Int32Array(n),
      records: new Int32Array(n),
      tags: new Int32Array(n),
      values: '',
      emails: emails ? JSON.stringify(ids.map((id) => this.emails[id] ?? null)) : undefined,
    };
    for (let k = 0; k < n; k++) {
      const id = ids[k]!;
      out.alive[k] = this.emails[id] === undefined ? 0 : 1;
      out.created[k] = this.created[id] ?? 0;
      out.consent[k] = consentIndex(this.consent[id]);
      out.records[k] = recordIndex(this.properties[id]);
      out.tags[k] = tagIndex(this.tags[id]);
    }
    out.values = JSON.stringify(values);
    return out;
  }

  /** Every contact, packed as `export` packs some (for the rules' state snapshot). */
  exportAll(): ContactColumns {
    return this.export([...this.ids()], this.keepEmails);
  }

  /** Takes the attributes of contacts as `export` gave them (a sweep worker following the main thread). */
  import(c: ContactColumns): void {
    const [consents, recordList, tagLists] = JSON.parse(c.values) as Values;
    const emails = c.emails === undefined ? undefined : (JSON.parse(c.emails) as (string | null)[]);
    const texts = consents.map((t) => this.consentText(t));
    const records = recordList.map((r) => this.shareRecord(Object.assign(Object.create(null) as Record<string, FieldValue>, r)));
    const tags = tagLists.map((t) => this.shareTags(t));
    // Filled up to the largest id first: a write far past an array's end makes it a slow dictionary.
    // Grown in one step each: pushing a million entries one by one re-copied every array a dozen
    // times (0.46 s of a restart's 1.2 s for its contacts).
    let top = -1;
    for (const id of c.ids) if (id > top) top = id;
    const grow = <T>(list: T[], value: T): void => {
      const from = list.length;
      if (from > top) return;
      list.length = top + 1;
      list.fill(value, from);
    };
    grow(this.emails, undefined);
    grow(this.created, 0);
    grow(this.consent, undefined);
    grow(this.properties, undefined);
    grow(this.tags, undefined);
    const n = c.ids.length;
    for (let k = 0; k < n; k++) {
      const id = c.ids[k]!;
      if (!c.alive[k]) {
        if (this.emails[id] !== undefined) this.count--;
        this.emails[id] = undefined;
        this.properties[id] = undefined;
        this.tags[id] = undefined;
        this.consent[id] = undefined;
        continue;
      }
      if (this.emails[id] === undefined) this.count++;
      this.emails[id] = emails && this.keepEmails ? (emails[k] ?? '') : '';
      this.created[id] = c.created[k]!;
      this.consent[id] = c.consent[k]! >= 0 ? texts[c.consent[k]!] : undefined;
      this.properties[id] = c.records[k]! >= 0 ? records[c.records[k]!] : undefined;
      this.tags[id] = c.tags[k]! >= 0 ? tags[c.tags[k]!] : undefined;
    }
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
    this.emails[id] = this.keepEmails ? contact.email : '';
    this.created[id] = contact.createdAt;
    this.consent[id] = contact.consent ? this.consentText(contact.consent.status) : undefined;
    const props = Object.create(null) as Record<string, FieldValue>;
    let any = false;
    for (const [k, v] of Object.entries(contact.properties)) {
      if (this.propertyNames && !this.propertyNames.has(k)) continue;
      props[k] = v.value;
      any = true;
    }
    this.properties[id] = any ? this.shareRecord(props) : undefined;
    this.tags[id] = contact.tags.size ? this.shareTags([...contact.tags]) : undefined;
  }
}
