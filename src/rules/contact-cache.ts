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

/**
 * Distinct values by a key of their content, each frozen once and known by its position: equal
 * records, tag lists and consent texts are one object, and a contact holds the position.
 */
class Distinct<T> {
  readonly list: T[] = [];
  private readonly at = new Map<string, number>();

  /** The position of the value with this key, `make` called (and its result frozen) when new. */
  of(key: string, make: () => T): number {
    let k = this.at.get(key);
    if (k === undefined) {
      const value = make();
      if (typeof value === 'object' && value !== null) Object.freeze(value);
      this.at.set(key, (k = this.list.length));
      this.list.push(value);
    }
    return k;
  }
}

/**
 * The attributes by contact id in typed arrays (consent, properties and tags as 1 + the position of
 * a distinct value, 0: none): a start takes in a million contacts, which as five JS arrays of a
 * million slots cost page faults, growth and collections; here they are a few flat buffers.
 */
export class ContactCache {
  /** Ids below `length` have slots; `maxId` is the largest id ever written (a removal too). */
  private length = 0;
  private alive = new Uint8Array(0);
  private created = new Float64Array(0);
  private consentOf = new Int32Array(0);
  private recordOf = new Int32Array(0);
  private tagsOf = new Int32Array(0);
  /** By id, kept only with `keepEmails` (dense up to `length`: a sparse JS array is a slow dictionary). */
  private readonly emails: (string | undefined)[] = [];
  private count = 0;
  private readonly consents = new Distinct<string>();
  private readonly records = new Distinct<Record<string, FieldValue>>();
  private readonly tagLists = new Distinct<string[]>();

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
      cache.slot(id);
      if (!cache.alive[id]) cache.count++;
      cache.alive[id] = 1;
      if (keepEmails) cache.emails[id] = email;
      cache.created[id] = createdAt;
      cache.consentOf[id] = consent ? cache.consentCode(consent) : 0;
    }
    // Rows come by contact id: each contact's record is complete, and shared, when the next id starts.
    if (propertyNames === undefined || propertyNames.size) {
      let id = -1;
      let record: Record<string, FieldValue> | undefined;
      const done = (): void => {
        if (record && id < cache.length) cache.recordOf[id] = cache.recordCode(record);
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
      if (list.length && id < cache.length) cache.tagsOf[id] = cache.tagsCode(list);
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

  /** Makes room for id and counts it as written. */
  private slot(id: number): void {
    if (id >= this.alive.length) {
      const size = Math.max(id + 1, Math.ceil(this.alive.length * 1.5), 1024);
      const grow = <T extends Uint8Array | Float64Array | Int32Array>(a: T, b: T): T => {
        b.set(a);
        return b;
      };
      this.alive = grow(this.alive, new Uint8Array(size));
      this.created = grow(this.created, new Float64Array(size));
      this.consentOf = grow(this.consentOf, new Int32Array(size));
      this.recordOf = grow(this.recordOf, new Int32Array(size));
      this.tagsOf = grow(this.tagsOf, new Int32Array(size));
    }
    if (id >= this.length) {
      if (this.keepEmails) {
        const from = this.emails.length;
        this.emails.length = id + 1;
        this.emails.fill(undefined, from);
      }
      this.length = id + 1;
    }
  }

  /** Sets one contact's attributes (bulk loading; `properties` should hold only the names rules read). */
  put(id: number, email: string, createdAt: number, consent: string | undefined, properties?: Record<string, FieldValue>, tags?: string[]): void {
    this.slot(id);
    if (!this.alive[id]) this.count++;
    this.alive[id] = 1;
    if (this.keepEmails) this.emails[id] = email;
    this.created[id] = createdAt;
    this.consentOf[id] = consent === undefined ? 0 : this.consentCode(consent);
    if (properties) this.recordOf[id] = this.recordCode(Object.assign(Object.create(null) as Record<string, FieldValue>, properties));
    if (tags?.length) this.tagsOf[id] = this.tagsCode([...tags]);
  }

  private consentCode(text: string): number {
    return 1 + this.consents.of(text, () => text);
  }

  private recordCode(record: Record<string, FieldValue>): number {
    return 1 + this.records.of(JSON.stringify(record), () => record);
  }

  private tagsCode(list: string[]): number {
    return 1 + this.tagLists.of(JSON.stringify(list), () => list);
  }

  /** Forgets a contact (erased, or gone from the main cache). */
  private remove(id: number): void {
    this.slot(id);
    if (this.alive[id]) this.count--;
    this.alive[id] = 0;
    if (this.keepEmails) this.emails[id] = undefined;
    this.consentOf[id] = 0;
    this.recordOf[id] = 0;
    this.tagsOf[id] = 0;
  }

  /** The largest contact id seen. */
  get maxId(): number {
    return this.length - 1;
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return id < this.length && this.alive[id] === 1;
  }

  /** Contact ids in [lo, hi), ascending. */
  *ids(lo = 0, hi = Infinity): IterableIterator<number> {
    const end = Math.min(hi, this.length);
    for (let id = Math.max(0, lo); id < end; id++) if (this.alive[id]) yield id;
  }

  private emailOf(id: number): string {
    return this.keepEmails ? this.emails[id]! : '';
  }

  /**
   * The attributes of these contacts, packed for a sweep worker (see ContactColumns); without
   * `emails`, every known contact's email crosses as ''. Only the distinct values these contacts
   * use cross (a delta of a few contacts must not carry every record).
   */
  export(ids: readonly number[], emails = true): ContactColumns {
    const indexer = <T>(from: T[], list: T[]): ((code: number) => number) => {
      const at = new Map<number, number>();
      return (code) => {
        if (code === 0) return -1;
        let k = at.get(code);
        if (k === undefined) {
          at.set(code, (k = list.length));
          list.push(from[code - 1]!);
        }
        return k;
      };
    };
    const values: Values = [[], [], []];
    const consentIndex = indexer(this.consents.list, values[0]);
    const recordIndex = indexer(this.records.list, values[1]);
    const tagIndex = indexer(this.tagLists.list, values[2]);
    const n = ids.length;
    const out: ContactColumns = {
      ids: Float64Array.from(ids),
      alive: new Uint8Array(n),
      created: new Float64Array(n),
      consent: new Int32Array(n),
      records: new Int32Array(n),
      tags: new Int32Array(n),
      values: '',
      emails: emails ? JSON.stringify(ids.map((id) => (this.has(id) ? this.emailOf(id) : null))) : undefined,
    };
    for (let k = 0; k < n; k++) {
      const id = ids[k]!;
      const known = this.has(id);
      out.alive[k] = known ? 1 : 0;
      out.created[k] = id < this.length ? this.created[id]! : 0;
      out.consent[k] = known ? consentIndex(this.consentOf[id]!) : -1;
      out.records[k] = known ? recordIndex(this.recordOf[id]!) : -1;
      out.tags[k] = known ? tagIndex(this.tagsOf[id]!) : -1;
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
    const texts = consents.map((t) => this.consentCode(t));
    const records = recordList.map((r) => this.recordCode(Object.assign(Object.create(null) as Record<string, FieldValue>, r)));
    const tags = tagLists.map((t) => this.tagsCode(t));
    // Room for the largest id first, in one step.
    let top = -1;
    for (const id of c.ids) if (id > top) top = id;
    if (top >= 0) this.slot(top);
    const n = c.ids.length;
    for (let k = 0; k < n; k++) {
      const id = c.ids[k]!;
      if (!c.alive[k]) {
        this.remove(id);
        continue;
      }
      if (!this.alive[id]) this.count++;
      this.alive[id] = 1;
      if (this.keepEmails) this.emails[id] = emails ? (emails[k] ?? '') : '';
      this.created[id] = c.created[k]!;
      this.consentOf[id] = c.consent[k]! >= 0 ? texts[c.consent[k]!]! : 0;
      this.recordOf[id] = c.records[k]! >= 0 ? records[c.records[k]!]! : 0;
      this.tagsOf[id] = c.tags[k]! >= 0 ? tags[c.tags[k]!]! : 0;
    }
  }

  /** A view to refill with `viewInto` (a sweep reuses one for every contact). */
  blankView(): ContactView {
    return { id: 0, email: '', properties: NO_PROPERTIES, tags: NO_TAGS, consent: '', createdAt: 0 };
  }

  /** Fills `view` with a known contact's attributes (see `view`). */
  viewInto(view: ContactView, id: number): void {
    const record = this.recordOf[id]!;
    const tags = this.tagsOf[id]!;
    const consent = this.consentOf[id]!;
    view.id = id;
    view.email = this.emailOf(id);
    view.properties = record ? this.records.list[record - 1]! : NO_PROPERTIES;
    view.tags = tags ? this.tagLists.list[tags - 1]! : NO_TAGS;
    view.consent = consent ? this.consents.list[consent - 1]! : '';
    view.createdAt = this.created[id]!;
  }

  /** The view rules read, or undefined for an unknown contact. */
  view(id: number): ContactView | undefined {
    if (!this.has(id)) return undefined;
    const view = this.blankView();
    this.viewInto(view, id);
    return view;
  }

  /** Replaces one contact's attributes from the store's copy (undefined: the contact was erased). */
  replace(id: number, contact: Contact | undefined): void {
    if (!contact) {
      this.remove(id);
      return;
    }
    this.slot(id);
    if (!this.alive[id]) this.count++;
    this.alive[id] = 1;
    if (this.keepEmails) this.emails[id] = contact.email;
    this.created[id] = contact.createdAt;
    this.consentOf[id] = contact.consent ? this.consentCode(contact.consent.status) : 0;
    const props = Object.create(null) as Record<string, FieldValue>;
    let any = false;
    for (const [k, v] of Object.entries(contact.properties)) {
      if (this.propertyNames && !this.propertyNames.has(k)) continue;
      props[k] = v.value;
      any = true;
    }
    this.recordOf[id] = any ? this.recordCode(props) : 0;
    this.tagsOf[id] = contact.tags.size ? this.tagsCode([...contact.tags]) : 0;
  }
}
