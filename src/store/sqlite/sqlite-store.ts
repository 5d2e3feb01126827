/**
 * The default store: one embedded SQLite file through better-sqlite3, in WAL mode (readers never
 * block the writer), with versioned migrations.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { ConfigError, StoreError, StoreFullError } from '../../errors';
import { diskFullError } from '../disk-full';
import { normaliseEmail, requireEmail, stableStringify } from '../../model/identity';
import { isOptedOut } from '../../model/consent';
import type { Consent, ConsentStatus, Contact, EspName, FieldValue, IncomingContact, IncomingEvent, PropertyValue, SegsyncEvent } from '../../model/types';
import type {
  AppendOutcome,
  Decision,
  Durability,
  EventBulkLoad,
  EventRow,
  EventRowChunk,
  OutboxInput,
  OutboxItem,
  PushLease,
  QuarantinedRow,
  SegmentState,
  Store,
  StoreCounts,
  SyncFieldState,
  UnlinkCounts,
  UpsertOutcome,
} from '../store';
import { ADDED_TAGS_KEY, RECORD_KEY, UNLINKED_KEY } from '../store';
import { maybeSegsync, processRuns } from '../process-alive';
import { toEventRow } from '../event-row';
import { SqliteIdentities } from './identities';
import { MIGRATIONS, RULES_TABLES } from './migrations';
import { answerParts, countMembers, mergeAnswers, packAnswers, parseAnswer, unpackAnswers } from './answer-rows';
import { readRanges } from './range-reader';
import { snapshotFilesInMemory, snapshotFilesOnDisk } from './snapshot-files';
import type { SnapshotFiles } from './snapshot-files';
import { StatementCache } from './statements';
import type { Migration } from './migrations';

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** Open without writing (a second process reading while the daemon writes). */
  readonly?: boolean;
  /** Clock for timestamps the store sets itself. */
  now?: () => number;
  /** Migrations to apply (tests pass a prefix of the list to simulate an older file). */
  migrations?: Migration[];
  /**
   * `normal` (default): a commit survives a crash of segsync, but a power loss or OS crash may undo
   * the last commits. `full`: every commit is on disk before it returns (synchronous=FULL).
   */
  durability?: Durability;
  /** Fewest events a full scan reads on two connections at once (default 1,000,000; tests set it low). */
  parallelScanFrom?: number;
}

type Row = Record<string, unknown>;

/** Most emails the intake cache holds (about 100 bytes each) before it starts over. */
const CONTACT_CACHE_LIMIT = 500_000;

/**
 * The events table's two indexes. A bulk load may drop them and build them again at its end; a load
 * that died in between leaves them missing, and the next writable open builds them again.
 */
const EVENTS_BY_EVENT_ID_INDEX = 'CREATE UNIQUE INDEX IF NOT EXISTS events_by_event_id ON events (event_id)';
const EVENTS_BY_CONTACT_INDEX = 'CREATE INDEX IF NOT EXISTS events_by_contact ON events (contact_id, time)';

/** The migration that made event-id uniqueness a named index (before it, there is nothing to restore). */
const NAMED_EVENT_INDEXES_VERSION = 12;
/** Fewest events a full scan reads on two connections at once: below it, starting a thread costs more. */
const PARALLEL_SCAN_FROM = 1_000_000;
/** From this migration on, changed and deleted event rows count in rules_writes. */
const EVENT_WRITES_COUNTED_VERSION = 86;

/**
 * Smallest bulk load that rebuilds the event indexes instead of updating them row by row. Updating
 * them costs about 1.6 µs per event (5 µs with random ids such as UUIDs), a rebuild about 1 µs per
 * stored event, so a rebuild pays once the load is at least as big as the table; below this size the
 * saving is not worth a schema change.
 */
const BULK_REBUILD_MIN_EVENTS = 100_000;

/** How long a writer waits for another process's write lock before it gives up, ms. */
const BUSY_TIMEOUT_MS = 5000;
/** Keys per query when reading connector notes by key (SQLite's bound on statement parameters is far above). */
const NOTE_KEYS_PER_QUERY = 500;

/**
 * How long a webhook delivery id is remembered for deduplication: twice the longest retry window a
 * vendor is quoted with (HubSpot: up to 3 days), and pruned every this many new ids.
 */
export const WEBHOOK_DEDUPE_RETENTION_MS = 7 * 24 * 3_600_000;
const WEBHOOK_PRUNE_EVERY = 1000;

/** store_meta key: the fingerprint of the rules the stored answers follow (see rules/fingerprint.ts). */
const ANSWERS_FINGERPRINT = 'answers_fingerprint';
/** store_meta key: the pid of the process reading events as they arrive (a daemon), if one announced itself. */
const LIVE_READER = 'live_reader_pid';
/** store_meta keys `events_pull:ESP` name the pid reading that ESP's events now. */
const EVENTS_PULL = 'events_pull:';
/** store_meta key: the highest event row already checked for readable JSON. */
const CHECKED_EVENT_ROW = 'json_checked_event_row';

/** Helper threads for an index build's sort, and the page cache (KiB, negative) that sizes its runs. */
const SORTER_THREADS = 2;
const SORTER_CACHE_SIZE = -8000;

const json = (v: FieldValue | undefined): string | null => (v === undefined ? null : JSON.stringify(v));
/** Outbox rows that write an ESP field (not a tag, not a `@` key such as consent or erase). */
const FIELD_WRITE = "op IN ('set', 'clear') AND substr(key, 1, 1) <> '@'";
/** A clear, or a write of what `json` makes of an empty, 0 or false value (the safety valve's resets). */
const RESET = `(op = 'clear' OR value IS NULL OR value IN ('null', '""', '[]', '0', 'false', '"0"', '"false"'))`;
const unjson = (s: unknown): FieldValue | undefined => (typeof s === 'string' ? (JSON.parse(s) as FieldValue) : undefined);

/** The default Store on SQLite. */
export class SqliteStore implements Store {
  readonly db: Db;
  readonly identities: SqliteIdentities;
  private readonly now: () => number;
  private readonly stmts: StatementCache;
  private readonly eventNameIds = new Map<string, number>();
  /** email → contact id for event intake; only committed ids enter it (see appendEventRows). */
  private readonly contactIdCache = new Map<string, number>();

  /** Contacts whose events the last open set aside (their segment answers need a re-evaluation). */
  readonly sweptContacts: number[] = [];
  private readonly readonly: boolean;
  private webhookMarks = 0;
  /** Whether this connection counts its own writes to what the rules cache holds (see countOwnRulesWrites). */
  private ownRulesWrites = false;
  /** This connection announced its process as a live reader (see announceLiveReader). */
  private liveReader = false;
  /** Whether this connection's own contact writes stay out of contact_changes (see evaluatesOwnContactWrites). */
  private ownContactWritesEvaluated = false;
  private contactFeed: boolean | undefined;
  /** Whether the store has migration 91's event_row_reuse (a read-only older file has not). */
  private rowReuseLog: boolean | undefined;
  /** Whether the store has migration 97's written_fields (a read-only older file has not). */
  private writtenFieldsTable: boolean | undefined;
  /** Whether the store has migration 98's added_tags. */
  private addedTagsTable: boolean | undefined;
  /** The current transaction already dropped the saved rules state (see dropRulesState). */
  private rulesStateDropped = false;
  private readonly path: string;
  private readonly parallelScanFrom: number;
  /** Where the rules' snapshots keep their bytes (the rows of event_cache and rules_state name them). */
  private readonly snapshots: SnapshotFiles;
  /** Why the last full scan read on one connection after all (its worker failed), if it did. */
  scanFallback: string | undefined;
  /** The last write transaction failed for want of disk space, and none has committed since. */
  private fullFault: StoreFullError | undefined;

  constructor(options: SqliteStoreOptions) {
    this.now = options.now ?? Date.now;
    this.readonly = options.readonly ?? false;
    this.path = options.path;
    this.parallelScanFrom = options.parallelScanFrom ?? PARALLEL_SCAN_FROM;
    this.snapshots = options.path === ':memory:' ? snapshotFilesInMemory() : snapshotFilesOnDisk(options.path);
    if (options.path !== ':memory:' && !options.readonly) checkStorePath(options.path);
    try {
      this.db = new Database(options.path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      this.stmts = new StatementCache(this.db, (err) => this.writeFailure(err));
    } catch (err) {
      throw new StoreError(`cannot open the store at ${options.path}: ${(err as Error).message}`, {
        hint: options.readonly ? 'run a command that writes (e.g. `segsync import`) first to create it' : 'check the path and its permissions',
        cause: err,
      });
    }
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    }
    this.db.pragma('foreign_keys = ON');
    // Merges a contact's given answers into its stored ones where saveEvaluations meets a stored row.
    this.db.function('segsync_merge_answers', { deterministic: true }, (before, given) => mergeAnswers(String(before), String(given)));
    // Members per segment, as JSON [segment, members] pairs: an aggregate takes each row without
    // handing it to a JavaScript iterator, which cost `status` about a third of its time at 1 M contacts.
    this.db.aggregate('segsync_count_members', {
      start: () => new Map<string, number>(),
      step: (members: Map<string, number>, text: unknown) => {
        countMembers(String(text), members);
      },
      result: (members: Map<string, number>) => JSON.stringify([...members]),
    });
    this.identities = new SqliteIdentities(this.db);
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.db.pragma('cache_size = -65536');
    // Fewer, larger checkpoints: bulk event intake rewrites the same index pages, and each
    // checkpoint copies them again.
    if (!options.readonly) this.db.pragma('wal_autocheckpoint = 16384');
    if (!options.readonly) {
      this.migrate(options.migrations ?? MIGRATIONS);
      this.restoreEventIndexes();
      this.sweptContacts = this.quarantineUnreadableEvents();
      this.countOwnRulesWrites();
    }
  }

  /**
   * Counts this connection's own writes to what the rules cache holds, in a TEMP table its TEMP
   * triggers keep (other connections neither see nor fire them): rules_writes minus this count is
   * what other connections wrote since this one opened.
   */
  private countOwnRulesWrites(): void {
    if (!this.hasTable('rules_writes')) return;
    const counted = RULES_TABLES.flatMap((t) => ['INSERT', 'UPDATE', 'DELETE'].map((op) => [t, op] as const));
    if (this.schemaVersion >= EVENT_WRITES_COUNTED_VERSION) counted.push(['events', 'UPDATE'], ['events', 'DELETE']);
    const triggers = counted.map(
      ([t, op]) => `CREATE TEMP TRIGGER own_rules_writes_${t}_${op.toLowerCase()} AFTER ${op} ON main.${t} BEGIN UPDATE own_rules_writes SET n = n + 1; END;`,
    );
    this.db.exec(`CREATE TEMP TABLE own_rules_writes (n INTEGER NOT NULL); INSERT INTO own_rules_writes (n) VALUES (0); ${triggers.join('\n')}`);
    this.ownRulesWrites = true;
  }

  /**
   * Moves event rows SQLite cannot read as JSON into the quarantine (a store that opens is a store
   * that evaluates), checking only rows added since the last open. Returns the contacts affected.
   */
  private quarantineUnreadableEvents(): number[] {
    if (!this.hasTable('store_meta')) return [];
    const from = Number(this.meta(CHECKED_EVENT_ROW) ?? 0);
    const to = this.eventCountBound();
    if (to <= from) return [];
    return this.transaction(() => {
      const bad = this.db
        .prepare(
          'SELECT e.id, e.event_id, e.contact_id, n.name, e.time, e.source, e.properties FROM events e LEFT JOIN event_names n ON n.id = e.name_id WHERE e.id > ? AND e.id <= ? AND NOT json_valid(e.properties)',
        )
        .all(from, to) as Row[];
      const put = this.stmt(
        'INSERT INTO quarantine (kind, ref, contact_id, name, time, source, raw, reason, quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const at = this.now();
      for (const r of bad) {
        put.run(
          'event',
          r.event_id,
          r.contact_id,
          r.name,
          r.time,
          r.source,
          r.properties,
          'properties are not readable JSON (nested deeper than 1000 levels, or malformed)',
          at,
        );
        this.stmt('DELETE FROM events WHERE id = ?').run(r.id);
      }
      this.setMeta(CHECKED_EVENT_ROW, String(to));
      return [...new Set(bad.map((r) => r.contact_id as number))];
    });
  }

  private hasTable(name: string): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  }

  /**
   * Builds the event indexes a bulk load set aside (at its end, or on the next open after a crash),
   * first removing the events whose id was already stored: the earliest row of each id stays.
   * Returns how many were removed.
   */
  private restoreEventIndexes(): number {
    if (this.schemaVersion < NAMED_EVENT_INDEXES_VERSION) return 0;
    const hasIndex = (name: string): boolean => this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(name) !== undefined;
    if (hasIndex('events_by_event_id') && hasIndex('events_by_contact')) return 0;
    return this.withParallelSorter(() =>
      this.transaction(() => {
        let removed = 0;
        if (!hasIndex('events_by_event_id')) {
          try {
            this.db.exec(EVENTS_BY_EVENT_ID_INDEX);
          } catch (err) {
            if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw err;
            removed = this.db
              .prepare(
                `DELETE FROM events WHERE id IN (
                 SELECT id FROM (SELECT id, event_id, lag(event_id) OVER (ORDER BY event_id, id) AS previous FROM events)
                 WHERE previous = event_id)`,
              )
              .run().changes;
            this.db.exec(EVENTS_BY_EVENT_ID_INDEX);
          }
        }
        this.db.exec(EVENTS_BY_CONTACT_INDEX);
        return removed;
      }),
    );
  }

  /**
   * Runs an index build with SQLite's sorter split into memory-sized runs sorted on helper threads
   * (`PRAGMA threads`; the run size follows `cache_size`): building the unique index over a million
   * random ids takes 0.5 s instead of 0.8 s this way. The settings go back afterwards.
   */
  private withParallelSorter<T>(fn: () => T): T {
    const cacheSize = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma(`threads = ${SORTER_THREADS}`);
    this.db.pragma(`cache_size = ${SORTER_CACHE_SIZE}`);
    try {
      return fn();
    } finally {
      this.db.pragma('threads = 0');
      this.db.pragma(`cache_size = ${cacheSize}`);
    }
  }

  /** Schema version of the open file. */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(migrations: Migration[]): void {
    const current = this.schemaVersion;
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (current > latest) {
      throw new StoreError(`the store file has schema version ${current}, newer than this segsync knows (${latest})`, {
        hint: 'upgrade segsync, or point store.path at another file',
      });
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.pragma(`user_version = ${m.version}`);
      })();
    }
  }

  private stmt(sql: string): Statement {
    return this.stmts.get(sql);
  }

  /** The error a failed write raises: a full disk is named, typed and remembered for `probeWrite`. */
  private writeFailure(err: unknown): unknown {
    const full = diskFullError(err, this.path);
    if (!full) return err;
    this.fullFault = full;
    return full;
  }

  /**
   * Write transactions start with BEGIN IMMEDIATE: they take the write lock first, so a busy store
   * makes them wait (busy_timeout) instead of failing when a read would upgrade to a write.
   */
  transaction<T>(fn: () => T): T {
    const outermost = !this.db.inTransaction;
    const tx = this.db.transaction(fn);
    try {
      const result = this.readonly ? tx() : tx.immediate();
      if (outermost) this.fullFault = undefined;
      return result;
    } catch (err) {
      // A rolled-back part may have held the drop: the next answer write drops the state again.
      this.rulesStateDropped = false;
      throw this.writeFailure(err);
    } finally {
      if (outermost) this.rulesStateDropped = false;
    }
  }

  // Contacts

  upsertContacts(contacts: IncomingContact[]): UpsertOutcome[] {
    return this.transaction(() => contacts.map((c) => this.upsertOne(c)));
  }

  private upsertOne(c: IncomingContact): UpsertOutcome {
    const email = requireEmail(c.email);
    const at = c.time ?? this.now();
    let created = false;
    let row = this.stmt('SELECT id FROM contacts WHERE email = ?').get(email) as { id: number } | undefined;
    if (!row) {
      const info = this.stmt('INSERT INTO contacts (email, created_at, updated_at) VALUES (?, ?, ?)').run(email, c.createdAt ?? at, at);
      row = { id: Number(info.lastInsertRowid) };
      created = true;
    } else if (c.createdAt !== undefined) {
      // A creation time given by the source (an import's created_at) is the contact's, whoever came first.
      this.stmt('UPDATE contacts SET created_at = ? WHERE id = ?').run(c.createdAt, row.id);
    }
    const contactId = row.id;
    const changed: string[] = [];
    for (const [name, value] of Object.entries(c.properties)) {
      if (this.writeProperty(contactId, name, { value, updatedAt: at, source: c.source })) changed.push(name);
    }
    if (c.tags?.length) this.updateTags(contactId, c.tags, [], c.source, at);
    const consentKept = c.consent && !created ? this.consentAgainst(contactId, c.consent, c.consentAt, at) : undefined;
    if (c.consent && !consentKept) this.setConsent(contactId, { status: c.consent, updatedAt: c.consentAt ?? at, source: c.source });
    for (const [esp, id] of Object.entries(c.externalIds ?? {})) {
      if (id) this.setExternalId(contactId, esp as EspName, id);
    }
    if (changed.length) this.touch(contactId, at);
    return { contactId, created, changed, ...(consentKept ? { consentKept } : {}) };
  }

  /**
   * The stored consent that stands against a given one: a newer one, or an opt-out when the given
   * consent would lift it without saying when it was given (an old export imported today must not
   * resubscribe someone who opted out since).
   */
  private consentAgainst(contactId: number, status: ConsentStatus, givenAt: number | undefined, at: number): Consent | undefined {
    const row = this.stmt('SELECT consent_status, consent_updated_at, consent_source FROM contacts WHERE id = ?').get(contactId) as Row;
    if (row.consent_status === null) return undefined;
    const stored: Consent = {
      status: row.consent_status as ConsentStatus,
      updatedAt: row.consent_updated_at as number,
      source: row.consent_source as Consent['source'],
    };
    if ((givenAt ?? at) < stored.updatedAt) return stored;
    return isOptedOut(stored.status) && !isOptedOut(status) && givenAt === undefined ? stored : undefined;
  }

  private writeProperty(contactId: number, name: string, v: PropertyValue): boolean {
    const value = JSON.stringify(v.value);
    const prev = this.stmt('SELECT value FROM properties WHERE contact_id = ? AND name = ?').get(contactId, name) as { value: string } | undefined;
    if (prev?.value === value) return false;
    this.stmt(
      `INSERT INTO properties (contact_id, name, value, updated_at, source) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (contact_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, source = excluded.source`,
    ).run(contactId, name, value, v.updatedAt, v.source);
    return true;
  }

  private touch(contactId: number, at: number): void {
    this.stmt('UPDATE contacts SET updated_at = MAX(updated_at, ?) WHERE id = ?').run(at, contactId);
  }

  contactExists(id: number): boolean {
    return this.stmt('SELECT 1 FROM contacts WHERE id = ?').get(id) !== undefined;
  }

  getContact(id: number): Contact | undefined {
    const row = this.stmt('SELECT * FROM contacts WHERE id = ?').get(id) as Row | undefined;
    return row ? this.hydrate(row) : undefined;
  }

  findContactByEmail(email: string): Contact | undefined {
    const row = this.stmt('SELECT * FROM contacts WHERE email = ?').get(normaliseEmail(email)) as Row | undefined;
    return row ? this.hydrate(row) : undefined;
  }

  findContactByExternalId(esp: EspName, externalId: string): Contact | undefined {
    const row = this.stmt('SELECT c.* FROM contacts c JOIN external_ids x ON x.contact_id = c.id WHERE x.esp = ? AND x.external_id = ?').get(
      esp,
      externalId,
    ) as Row | undefined;
    return row ? this.hydrate(row) : undefined;
  }

  private hydrate(row: Row): Contact {
    const id = row.id as number;
    const properties: Contact['properties'] = {};
    for (const p of this.stmt('SELECT name, value, updated_at, source FROM properties WHERE contact_id = ?').all(id) as Row[]) {
      properties[p.name as string] = { value: unjson(p.value) ?? null, updatedAt: p.updated_at as number, source: p.source as PropertyValue['source'] };
    }
    const tags = new Set((this.stmt('SELECT tag FROM tags WHERE contact_id = ?').all(id) as Row[]).map((t) => t.tag as string));
    const externalIds: Contact['externalIds'] = {};
    for (const x of this.stmt('SELECT esp, external_id FROM external_ids WHERE contact_id = ?').all(id) as Row[]) {
      externalIds[x.esp as EspName] = x.external_id as string;
    }
    const consent: Consent | undefined = row.consent_status
      ? { status: row.consent_status as ConsentStatus, updatedAt: row.consent_updated_at as number, source: row.consent_source as Consent['source'] }
      : undefined;
    return { id, email: row.email as string, externalIds, properties, tags, consent, createdAt: row.created_at as number, updatedAt: row.updated_at as number };
  }

  resolveEmails(emails: string[]): Map<string, number> {
    const out = new Map<string, number>();
    const find = this.stmt('SELECT id FROM contacts WHERE email = ?');
    const insert = this.stmt('INSERT INTO contacts (email, created_at, updated_at) VALUES (?, ?, ?)');
    this.transaction(() => {
      const at = this.now();
      for (const e of emails) {
        if (out.has(e)) continue;
        const row = find.get(e) as { id: number } | undefined;
        out.set(e, row ? row.id : Number(insert.run(e, at, at).lastInsertRowid));
      }
    });
    return out;
  }

  setExternalId(contactId: number, esp: EspName, externalId: string | undefined): void {
    if (externalId === undefined) {
      this.stmt('DELETE FROM external_ids WHERE contact_id = ? AND esp = ?').run(contactId, esp);
      return;
    }
    const owner = this.stmt('SELECT contact_id FROM external_ids WHERE esp = ? AND external_id = ?').get(esp, externalId) as { contact_id: number } | undefined;
    if (owner && owner.contact_id !== contactId) {
      throw new StoreError(`${esp} id ${externalId} already belongs to contact ${owner.contact_id}, not ${contactId}`, {
        hint: `the ESP merged or re-used a record: resolve the duplicate contacts first; or, if ${esp}'s account was replaced or reset (a sandbox restarted without --state numbers its records afresh), run \`segsync unlink --esp ${esp}\` to forget its ids and sync state, then pull to re-adopt its records by email`,
      });
    }
    this.stmt(
      `INSERT INTO external_ids (contact_id, esp, external_id) VALUES (?, ?, ?)
       ON CONFLICT (contact_id, esp) DO UPDATE SET external_id = excluded.external_id`,
    ).run(contactId, esp, externalId);
  }

  setProperty(contactId: number, name: string, value: PropertyValue): void {
    if (this.writeProperty(contactId, name, value)) this.touch(contactId, value.updatedAt);
  }

  updateTags(contactId: number, add: string[], remove: string[], source: PropertyValue['source'], at: number): { added: string[]; removed: string[] } {
    const added: string[] = [];
    const removed: string[] = [];
    const ins = this.stmt('INSERT OR IGNORE INTO tags (contact_id, tag, added_at, source) VALUES (?, ?, ?, ?)');
    const del = this.stmt('DELETE FROM tags WHERE contact_id = ? AND tag = ?');
    this.transaction(() => {
      for (const t of add) if (ins.run(contactId, t, at, source).changes) added.push(t);
      for (const t of remove) if (del.run(contactId, t).changes) removed.push(t);
      if (added.length || removed.length) this.touch(contactId, at);
    });
    return { added, removed };
  }

  setConsent(contactId: number, consent: Consent): void {
    this.stmt('UPDATE contacts SET consent_status = ?, consent_updated_at = ?, consent_source = ?, updated_at = MAX(updated_at, ?) WHERE id = ?').run(
      consent.status,
      consent.updatedAt,
      consent.source,
      consent.updatedAt,
      contactId,
    );
  }

  changeEmail(contactId: number, email: string): void {
    const normal = requireEmail(email);
    const taken = this.stmt('SELECT id FROM contacts WHERE email = ?').get(normal) as { id: number } | undefined;
    if (taken && taken.id !== contactId) {
      throw new StoreError(`cannot change contact ${contactId}'s email to ${normal}: contact ${taken.id} has it`, {
        hint: 'two local contacts now share an address; merge them before syncing',
      });
    }
    this.stmt('UPDATE contacts SET email = ?, updated_at = ? WHERE id = ?').run(normal, this.now(), contactId);
    this.forgetContact(contactId);
  }

  eraseContact(contactId: number): void {
    this.transaction(() => {
      this.stmt('DELETE FROM events WHERE contact_id = ?').run(contactId);
      this.stmt('DELETE FROM contacts WHERE id = ?').run(contactId);
    });
    this.forgetContact(contactId);
  }

  private forgetContact(contactId: number): void {
    for (const [email, id] of this.contactIdCache) if (id === contactId) this.contactIdCache.delete(email);
  }

  contactIds(afterId: number, limit: number): number[] {
    return this.stmt('SELECT id FROM contacts WHERE id > ? ORDER BY id LIMIT ?').pluck().all(afterId, limit) as number[];
  }

  // Events

  /** A name's id; a name seen for the first time goes into `learned` (cached once committed). */
  private eventNameId(name: string, learned: Map<string, number>): number {
    let id = this.eventNameIds.get(name) ?? learned.get(name);
    if (id !== undefined) return id;
    const row = this.stmt('SELECT id FROM event_names WHERE name = ?').get(name) as { id: number } | undefined;
    id = row ? row.id : Number(this.stmt('INSERT INTO event_names (name) VALUES (?)').run(name).lastInsertRowid);
    learned.set(name, id);
    return id;
  }

  appendEvents(events: IncomingEvent[]): AppendOutcome {
    return this.appendEventRows(events.map(toEventRow));
  }

  appendEventRows(rows: EventRow[]): AppendOutcome {
    const insert = this.stmt(
      // No conflict target: while a bulk load has set the unique index aside, rows go in and the
      // load's end removes the repeats (see restoreEventIndexes).
      'INSERT INTO events (event_id, contact_id, name_id, time, properties, source) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    const findContact = this.stmt('SELECT id FROM contacts WHERE email = ?');
    const createContact = this.stmt('INSERT INTO contacts (email, created_at, updated_at) VALUES (?, ?, ?)');
    const learned = new Map<string, number>();
    const learnedNames = new Map<string, number>();
    const outcome = this.transaction(() => {
      let inserted = 0;
      let duplicates = 0;
      let contactsCreated = 0;
      const touched = new Set<number>();
      const conflicts: number[] = [];
      const at = this.now();
      for (let i = 0; i < rows.length; i++) {
        const e = rows[i]!;
        let contactId = this.contactIdCache.get(e.email) ?? learned.get(e.email);
        if (contactId === undefined) {
          const row = findContact.get(e.email) as { id: number } | undefined;
          if (row) contactId = row.id;
          else {
            contactId = Number(createContact.run(requireEmail(e.email), at, at).lastInsertRowid);
            contactsCreated++;
          }
          learned.set(e.email, contactId);
        }
        const nameId = this.eventNameId(e.name, learnedNames);
        const r = insert.run(e.eventId, contactId, nameId, e.time, e.propertiesJson, e.source);
        if (r.changes) {
          inserted++;
          touched.add(contactId);
        } else if (this.sameStoredEvent(e, contactId, nameId)) duplicates++;
        else conflicts.push(i);
      }
      return { inserted, duplicates, contactsCreated, touched: [...touched], conflicts };
    });
    // Ids created inside an enclosing transaction may still be rolled back: remember only committed ones.
    if (!this.db.inTransaction) {
      if (this.contactIdCache.size + learned.size > CONTACT_CACHE_LIMIT) this.contactIdCache.clear();
      for (const [email, id] of learned) this.contactIdCache.set(email, id);
      for (const [name, id] of learnedNames) this.eventNameIds.set(name, id);
    }
    return outcome;
  }

  /** Whether the event stored under `e.eventId` is this one (a resend), not another that reused its id. */
  private sameStoredEvent(e: EventRow, contactId: number, nameId: number): boolean {
    const stored = this.stmt('SELECT contact_id, name_id, time, properties FROM events WHERE event_id = ?').get(e.eventId) as Row | undefined;
    if (!stored) return true;
    if (stored.contact_id !== contactId || stored.name_id !== nameId || (stored.time !== e.time && !e.timeFromReceipt)) return false;
    if (stored.properties === e.propertiesJson) return true;
    // The same properties in another key order are the same event.
    return stableStringify(JSON.parse(stored.properties as string)) === stableStringify(JSON.parse(e.propertiesJson));
  }

  beginEventBulkLoad(expectedEvents: number): EventBulkLoad {
    const rebuild =
      !this.db.inTransaction &&
      this.schemaVersion >= NAMED_EVENT_INDEXES_VERSION &&
      expectedEvents >= BULK_REBUILD_MIN_EVENTS &&
      expectedEvents >= this.eventCountBound();
    // A daemon reads each contact's new events by this index as they arrive: without it every read
    // scans the rows since, which held its catch-ups (and the write lock) for minutes.
    if (rebuild)
      this.db.exec(
        // A pid reused after a crash counts too: a slower import.
        this.liveReaderElsewhere() !== undefined
          ? 'DROP INDEX IF EXISTS events_by_event_id;'
          : 'DROP INDEX IF EXISTS events_by_event_id; DROP INDEX IF EXISTS events_by_contact;',
      );
    let open = true;
    return {
      rebuildsIndexes: rebuild,
      append: (rows) => this.withoutForeignKeyChecks(() => this.appendEventRows(rows)),
      finish: () => {
        if (!open) return { duplicates: 0 };
        open = false;
        return { duplicates: rebuild ? this.restoreEventIndexes() : 0 };
      },
    };
  }

  /**
   * Runs an event append with SQLite's foreign-key checks off (a sixth of its cost): appendEventRows
   * takes every contact and name id from a row it found or created in the same transaction, so the
   * checks could never fail. Only outside a transaction, where the setting takes effect and nothing
   * else can run on this connection until it is back on.
   */
  private withoutForeignKeyChecks<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.db.pragma('foreign_keys = OFF');
    try {
      return fn();
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  private eventNameById(): Map<number, string> {
    const m = new Map<number, string>();
    for (const r of this.stmt('SELECT id, name FROM event_names').all() as Row[]) m.set(r.id as number, r.name as string);
    return m;
  }

  eventsOf(contactId: number): SegsyncEvent[] {
    const names = this.eventNameById();
    return (this.stmt('SELECT * FROM events WHERE contact_id = ? ORDER BY time, id').all(contactId) as Row[]).map((r) => toEvent(r, names));
  }

  *iterateEvents(): IterableIterator<SegsyncEvent> {
    const names = this.eventNameById();
    // A separate statement: an iterating statement cannot be reused while it is open.
    const s = this.db.prepare('SELECT * FROM events ORDER BY contact_id, time, id');
    for (const r of s.iterate() as IterableIterator<Row>) yield toEvent(r, names);
  }

  eventNames(): { name: string; count: number }[] {
    return this.stmt(
      'SELECT n.name AS name, COUNT(e.id) AS count FROM event_names n LEFT JOIN events e ON e.name_id = n.id GROUP BY n.id ORDER BY count DESC',
    ).all() as { name: string; count: number }[];
  }

  // Segments

  getSegmentStates(contactId: number): SegmentState[] {
    const text = this.stmt('SELECT answers FROM segment_answers WHERE contact_id = ?').pluck().get(contactId) as string | undefined;
    return text === undefined ? [] : unpackAnswers(text).map((a) => ({ contactId, ...a }));
  }

  saveEvaluation(contactId: number, states: SegmentState[], nextChangeAt: number | undefined): void {
    const get = this.stmt('SELECT answers FROM segment_answers WHERE contact_id = ?').pluck();
    const put = this.stmt('INSERT INTO segment_answers (contact_id, answers) VALUES (?, ?) ON CONFLICT (contact_id) DO UPDATE SET answers = excluded.answers');
    const write = (): void => {
      this.dropRulesState();
      if (states.length) {
        // Only an answer whose value changed is written: the others keep their since.
        // Compared as stored JSON text, with no parse: every incremental evaluation comes through here.
        const text = get.get(contactId) as string | undefined;
        const parts = text === undefined ? [] : answerParts(text);
        const stored = new Map<string, string>();
        for (let i = 0; i + 2 < parts.length; i += 3) stored.set(parts[i]!, parts[i + 1]!);
        const changed = states.filter((s) => stored.get(s.segment) !== JSON.stringify(s.value));
        if (changed.length) put.run(contactId, text === undefined ? packAnswers(changed) : mergeAnswers(text, packAnswers(changed)));
      }
      this.noteEvaluated([contactId]);
      if (nextChangeAt === undefined) this.stmt('DELETE FROM wakeups WHERE contact_id = ?').run(contactId);
      else {
        this.stmt(
          'INSERT INTO wakeups (contact_id, next_change_at) VALUES (?, ?) ON CONFLICT (contact_id) DO UPDATE SET next_change_at = excluded.next_change_at',
        ).run(contactId, nextChangeAt);
      }
    };
    // Inside a caller's transaction (a catch-up of thousands of contacts) a savepoint per contact
    // cost more than its writes; what fails rolls back with the caller's transaction.
    if (this.db.inTransaction) write();
    else this.transaction(write);
  }

  dueWakeupTimes(now: number): { contactId: number; at: number }[] {
    // A scan of the table (no index by time, see migration 89): a one-off command reads the due
    // contacts once, where a daemon keeps them in a heap.
    const rows = this.stmt('SELECT contact_id, next_change_at FROM wakeups WHERE next_change_at <= ? ORDER BY contact_id').raw(true).all(now) as [
      number,
      number,
    ][];
    return rows.map(([contactId, at]) => ({ contactId, at }));
  }

  // Sync state

  getSyncState(contactId: number, esp: EspName): SyncFieldState[] {
    return (this.stmt('SELECT * FROM sync_state WHERE contact_id = ? AND esp = ?').all(contactId, esp) as Row[]).map((r) => ({
      contactId,
      esp,
      key: r.key as string,
      remoteValue: unjson(r.remote_value),
      pushedValue: unjson(r.pushed_value),
      remoteModifiedAt: (r.remote_modified_at as number | null) ?? undefined,
      ...(r.pushed_at !== null ? { pushedAt: r.pushed_at as number } : {}),
    }));
  }

  putSyncState(rows: SyncFieldState[]): void {
    const put = this.stmt(
      `INSERT INTO sync_state (contact_id, esp, key, remote_value, pushed_value, remote_modified_at, pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (contact_id, esp, key) DO UPDATE SET remote_value = excluded.remote_value,
         pushed_value = excluded.pushed_value, remote_modified_at = excluded.remote_modified_at,
         pushed_at = COALESCE(excluded.pushed_at, sync_state.pushed_at)`,
    );
    // The fields a push wrote, once per field and call (a settle writes one contact's few keys).
    const written = new Map<string, { esp: EspName; key: string; at: number }>();
    for (const r of rows) {
      if (r.pushedAt === undefined || r.key.startsWith('@')) continue;
      const id = `${r.esp}\u0000${r.key}`;
      const seen = written.get(id);
      if (!seen || seen.at < r.pushedAt) written.set(id, { esp: r.esp, key: r.key, at: r.pushedAt });
    }
    this.transaction(() => {
      for (const r of rows) put.run(r.contactId, r.esp, r.key, json(r.remoteValue), json(r.pushedValue), r.remoteModifiedAt ?? null, r.pushedAt ?? null);
      for (const w of written.values())
        this.stmt(
          `INSERT INTO written_fields (esp, key, last_written_at) VALUES (?, ?, ?)
           ON CONFLICT (esp, key) DO UPDATE SET last_written_at = MAX(COALESCE(last_written_at, 0), excluded.last_written_at)`,
        ).run(w.esp, w.key, w.at);
    });
  }

  writtenFields(esp: EspName): { key: string; lastWrittenAt: number | undefined }[] {
    // A read-only older store file has no record of them (migration 97).
    this.writtenFieldsTable ??= this.hasTable('written_fields');
    if (!this.writtenFieldsTable) return [];
    return (this.stmt('SELECT key, last_written_at FROM written_fields WHERE esp = ? ORDER BY key').all(esp) as Row[]).map((r) => ({
      key: r.key as string,
      lastWrittenAt: (r.last_written_at as number | null) ?? undefined,
    }));
  }

  noteAddedTags(esp: EspName, tags: string[], at: number): void {
    const note = this.stmt(
      `INSERT INTO added_tags (esp, tag, last_added_at) VALUES (?, ?, ?)
       ON CONFLICT (esp, tag) DO UPDATE SET last_added_at = MAX(COALESCE(last_added_at, 0), excluded.last_added_at)`,
    );
    this.transaction(() => {
      for (const tag of new Set(tags)) note.run(esp, tag, at);
    });
  }

  addedTagNames(esp: EspName): { tag: string; lastAddedAt: number | undefined }[] {
    // A read-only older store file has no record of them (migration 98).
    this.addedTagsTable ??= this.hasTable('added_tags');
    if (!this.addedTagsTable) return [];
    return (this.stmt('SELECT tag, last_added_at FROM added_tags WHERE esp = ? ORDER BY tag').all(esp) as Row[]).map((r) => ({
      tag: r.tag as string,
      lastAddedAt: (r.last_added_at as number | null) ?? undefined,
    }));
  }

  addedTagHolders(esp: EspName, tags: string[]): Map<string, number> {
    const out = new Map(tags.map((t) => [t, 0]));
    if (!tags.length) return out;
    // The literal key lets SQLite use migration 98's partial index.
    const rows = this.stmt(
      `SELECT j.value AS tag, count(*) AS n FROM sync_state s, json_each(s.pushed_value) j
       WHERE s.esp = ? AND s.key = '${ADDED_TAGS_KEY}' AND json_valid(s.pushed_value) AND j.value IN (SELECT value FROM json_each(?)) GROUP BY j.value`,
    ).all(esp, JSON.stringify(tags)) as { tag: string; n: number }[];
    for (const r of rows) out.set(r.tag, r.n);
    return out;
  }

  forgetAddedTag(esp: EspName, tag: string): number {
    return this.transaction(() => {
      this.stmt('DELETE FROM added_tags WHERE esp = ? AND tag = ?').run(esp, tag);
      return this.stmt(
        `UPDATE sync_state SET pushed_value = (SELECT json_group_array(value) FROM json_each(sync_state.pushed_value) WHERE value <> ?)
         WHERE esp = ? AND key = '${ADDED_TAGS_KEY}' AND json_valid(pushed_value) AND EXISTS (SELECT 1 FROM json_each(sync_state.pushed_value) WHERE value = ?)`,
      ).run(tag, esp, tag).changes;
    });
  }

  forgetWrittenField(esp: EspName, key: string): number {
    return this.transaction(() => {
      this.stmt('DELETE FROM written_fields WHERE esp = ? AND key = ?').run(esp, key);
      return this.stmt('DELETE FROM sync_state WHERE esp = ? AND key = ?').run(esp, key).changes;
    });
  }

  unlinkedCounts(esp: EspName): Record<string, number> {
    // The literal key lets SQLite use the partial index of migration 96.
    const rows = this.stmt(
      `SELECT remote_value AS reason, count(*) AS n FROM sync_state WHERE esp = ? AND key = '${UNLINKED_KEY}' AND remote_value IS NOT NULL GROUP BY remote_value`,
    ).all(esp) as { reason: string; n: number }[];
    const out: Record<string, number> = {};
    for (const r of rows) {
      const reason = unjson(r.reason);
      if (typeof reason === 'string') out[reason] = r.n;
    }
    return out;
  }

  syncStatesByKey(esp: EspName, key: string): SyncFieldState[] {
    return (this.stmt('SELECT * FROM sync_state WHERE esp = ? AND key = ?').all(esp, key) as Row[]).map((r) => ({
      contactId: r.contact_id as number,
      esp,
      key,
      remoteValue: unjson(r.remote_value),
      pushedValue: unjson(r.pushed_value),
      remoteModifiedAt: (r.remote_modified_at as number | null) ?? undefined,
      ...(r.pushed_at !== null ? { pushedAt: r.pushed_at as number } : {}),
    }));
  }

  findContactByRecordKey(esp: EspName, recordKey: string): Contact | undefined {
    // The literal key lets SQLite use the partial index of migration 30.
    const row = this.stmt(
      `SELECT c.* FROM contacts c JOIN sync_state s ON s.contact_id = c.id WHERE s.esp = ? AND s.key = '${RECORD_KEY}' AND s.remote_value = ? LIMIT 1`,
    ).get(esp, json(recordKey)) as Row | undefined;
    return row ? this.hydrate(row) : undefined;
  }

  clearSyncState(contactId: number, esp: EspName): void {
    this.transaction(() => {
      this.stmt('DELETE FROM sync_state WHERE contact_id = ? AND esp = ?').run(contactId, esp);
      this.stmt('DELETE FROM external_ids WHERE contact_id = ? AND esp = ?').run(contactId, esp);
    });
  }

  markWebhookEvent(esp: EspName, eventId: string, at: number): boolean {
    const fresh = this.stmt('INSERT INTO webhook_events (esp, event_id, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(esp, eventId, at).changes === 1;
    // Pruned as it grows (not on a timer): the table stays bounded by the deliveries of one window.
    if (fresh && ++this.webhookMarks % WEBHOOK_PRUNE_EVERY === 0) this.pruneWebhookEvents(at - WEBHOOK_DEDUPE_RETENTION_MS);
    return fresh;
  }

  pruneWebhookEvents(before: number): number {
    return this.stmt('DELETE FROM webhook_events WHERE seen_at < ?').run(before).changes;
  }

  quarantined(limit: number): { total: number; rows: QuarantinedRow[] } {
    if (!this.hasTable('quarantine')) return { total: 0, rows: [] };
    const total = this.stmt('SELECT COUNT(*) FROM quarantine').pluck().get() as number;
    const rows = (this.stmt('SELECT * FROM quarantine ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map((r) => ({
      id: r.id as number,
      kind: r.kind as QuarantinedRow['kind'],
      ref: r.ref as string,
      contactId: (r.contact_id as number | null) ?? undefined,
      reason: r.reason as string,
      quarantinedAt: r.quarantined_at as number,
    }));
    return { total, rows };
  }

  probeWrite(): void {
    if (this.readonly) throw new StoreError('the store is open read-only', { hint: 'the daemon opens it for writing' });
    if (this.db.inTransaction) return;
    // A probe rolls back before anything reaches the disk, so only real writes tell that it is full.
    if (this.fullFault) throw this.fullFault;
    // No waiting: a readiness probe must answer at once, and a store another process keeps locked is not ready.
    this.db.pragma('busy_timeout = 0');
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        this.setMeta('write_probe', String(this.now()));
      } finally {
        this.db.exec('ROLLBACK');
      }
    } catch (err) {
      const busy = (err as { code?: string }).code?.startsWith('SQLITE_BUSY') ?? false;
      throw new StoreError(busy ? 'the store is locked by another process' : `the store cannot be written: ${(err as Error).message}`, {
        hint: busy
          ? 'another process holds the write lock (a backup, a long import, a stuck segsync); intake waits for it'
          : 'check the disk (space, permissions, read-only mount)',
        cause: err,
      });
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  connectorNotes(esp: EspName, kind: string, now: number, keys?: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    const add = (rows: unknown[]): void => {
      for (const r of rows as { key: string; value: string }[]) out.set(r.key, r.value);
    };
    if (!keys) add(this.stmt('SELECT key, value FROM connector_notes WHERE esp = ? AND kind = ? AND expires_at > ?').all(esp, kind, now));
    else
      for (let k = 0; k < keys.length; k += NOTE_KEYS_PER_QUERY) {
        const chunk = keys.slice(k, k + NOTE_KEYS_PER_QUERY);
        add(
          this.stmt(`SELECT key, value FROM connector_notes WHERE esp = ? AND kind = ? AND expires_at > ? AND key IN (${chunk.map(() => '?').join(', ')})`).all(
            esp,
            kind,
            now,
            ...chunk,
          ),
        );
      }
    return out;
  }

  putConnectorNotes(esp: EspName, kind: string, entries: readonly (readonly [string, string])[], expiresAt: number, now: number): void {
    const put = this.stmt(
      `INSERT INTO connector_notes (esp, kind, key, value, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (esp, kind, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    );
    this.transaction(() => {
      this.stmt('DELETE FROM connector_notes WHERE expires_at <= ?').run(now);
      for (const [key, value] of entries) put.run(esp, kind, key, value, expiresAt);
    });
  }

  dropConnectorNotes(esp: EspName, kind: string, keys: readonly string[]): void {
    const drop = this.stmt('DELETE FROM connector_notes WHERE esp = ? AND kind = ? AND key = ?');
    this.transaction(() => {
      for (const key of keys) drop.run(esp, kind, key);
    });
  }

  unlinkEsp(esp: EspName): UnlinkCounts {
    return this.transaction(() => {
      // The notes name the old account's jobs: nothing the next account does.
      this.stmt('DELETE FROM connector_notes WHERE esp = ?').run(esp);
      this.stmt('DELETE FROM written_fields WHERE esp = ?').run(esp);
      this.stmt('DELETE FROM added_tags WHERE esp = ?').run(esp);
      return {
        ids: this.stmt('DELETE FROM external_ids WHERE esp = ?').run(esp).changes,
        syncStates: this.stmt('DELETE FROM sync_state WHERE esp = ?').run(esp).changes,
        cursors: this.stmt('DELETE FROM sync_cursors WHERE esp = ?').run(esp).changes,
        webhookEvents: this.stmt('DELETE FROM webhook_events WHERE esp = ?').run(esp).changes,
      };
    });
  }

  getCursor(esp: EspName, kind: string): string | undefined {
    return (this.stmt('SELECT cursor FROM sync_cursors WHERE esp = ? AND kind = ?').pluck().get(esp, kind) as string | undefined) ?? undefined;
  }

  forgetCursor(esp: EspName, kind: string): boolean {
    return this.stmt('DELETE FROM sync_cursors WHERE esp = ? AND kind = ?').run(esp, kind).changes > 0;
  }

  setCursor(esp: EspName, kind: string, cursor: string): void {
    this.stmt(
      `INSERT INTO sync_cursors (esp, kind, cursor, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (esp, kind) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
    ).run(esp, kind, cursor, this.now());
  }

  recordDecision(d: Decision): void {
    this.stmt('INSERT INTO decisions (contact_id, field, winner, reason, at, detail) VALUES (?, ?, ?, ?, ?, ?)').run(
      d.contactId,
      d.field,
      d.winner,
      d.reason,
      d.at,
      d.detail ? JSON.stringify(d.detail) : null,
    );
  }

  decisionsFor(contactId: number, field?: string): Decision[] {
    const rows = (
      field === undefined
        ? this.stmt('SELECT * FROM decisions WHERE contact_id = ? ORDER BY at, id').all(contactId)
        : this.stmt('SELECT * FROM decisions WHERE contact_id = ? AND field = ? ORDER BY at, id').all(contactId, field)
    ) as Row[];
    return rows.map((r) => ({
      contactId,
      field: r.field as string,
      winner: r.winner as string,
      reason: r.reason as string,
      at: r.at as number,
      ...(r.detail ? { detail: JSON.parse(r.detail as string) as Record<string, FieldValue> } : {}),
    }));
  }

  // Outbox

  enqueue(ops: OutboxInput[], now: number): void {
    const put = this.stmt(
      `INSERT INTO outbox (esp, contact_id, key, op, value, version, created_at, attempts, next_attempt_at, dead)
       VALUES (?, ?, ?, ?, ?, 1, ?, 0, ?, 0)
       ON CONFLICT (esp, contact_id, key) DO UPDATE SET op = excluded.op, value = excluded.value,
         version = outbox.version + 1, attempts = 0, next_attempt_at = excluded.next_attempt_at, dead = 0, last_error = NULL`,
    );
    this.transaction(() => {
      for (const o of ops) put.run(o.esp, o.contactId, o.key, o.op, json(o.value), now, now);
    });
  }

  dueOutbox(esp: EspName, now: number, limit: number): OutboxItem[] {
    return (
      this.stmt('SELECT * FROM outbox WHERE esp = ? AND dead = 0 AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?').all(esp, now, limit) as Row[]
    ).map(toOutbox);
  }

  outboxStripCounts(esp: EspName, fields: 'resets' | 'changes', min: number): { tags: Map<string, number>; fields: Map<string, number> } {
    const tags = this.stmt("SELECT value, COUNT(*) AS n FROM outbox WHERE esp = ? AND dead = 0 AND op = 'removeTag' GROUP BY value HAVING n >= ?").all(
      esp,
      min,
    ) as { value: string; n: number }[];
    const writes = this.stmt(
      `SELECT key, COUNT(*) AS n FROM outbox WHERE esp = ? AND dead = 0 AND ${FIELD_WRITE} AND (? = 'changes' OR ${RESET}) GROUP BY key HAVING n >= ?`,
    ).all(esp, fields, min) as { key: string; n: number }[];
    return { tags: new Map(tags.map((t) => [String(unjson(t.value)), t.n])), fields: new Map(writes.map((w) => [w.key, w.n])) };
  }

  outboxFieldWrites(esp: EspName, key: string, fields: 'resets' | 'changes'): OutboxItem[] {
    return (
      this.stmt(`SELECT * FROM outbox WHERE esp = ? AND key = ? AND dead = 0 AND ${FIELD_WRITE} AND (? = 'changes' OR ${RESET})`).all(esp, key, fields) as Row[]
    ).map(toOutbox);
  }

  completeOutbox(done: { id: number; version: number }[]): void {
    const del = this.stmt('DELETE FROM outbox WHERE id = ? AND version = ?');
    this.transaction(() => {
      for (const d of done) del.run(d.id, d.version);
    });
  }

  pendingOutbox(esp: EspName, contactId: number): OutboxItem[] {
    return (this.stmt('SELECT * FROM outbox WHERE esp = ? AND contact_id = ? AND +dead = 0').all(esp, contactId) as Row[]).map(toOutbox);
  }

  dropOutboxFor(esp: EspName, contactId: number): { queued: number; dead: number } {
    return this.transaction(() => {
      const counts = this.stmt(
        "SELECT COALESCE(SUM(dead = 0), 0) AS queued, COALESCE(SUM(dead = 1), 0) AS dead FROM outbox WHERE esp = ? AND contact_id = ? AND op <> 'erase'",
      ).get(esp, contactId) as { queued: number; dead: number };
      this.stmt("DELETE FROM outbox WHERE esp = ? AND contact_id = ? AND op <> 'erase'").run(esp, contactId);
      return { queued: counts.queued, dead: counts.dead };
    });
  }

  claimOutbox(items: { id: number; version: number }[]): Set<number> {
    const mark = this.stmt('UPDATE outbox SET sent = 1 WHERE id = ? AND version = ?');
    return this.transaction(() => new Set(items.filter((i) => mark.run(i.id, i.version).changes > 0).map((i) => i.id)));
  }

  removeOutbox(ids: number[]): void {
    const del = this.stmt('DELETE FROM outbox WHERE id = ?');
    this.transaction(() => {
      for (const id of ids) del.run(id);
    });
  }

  failOutbox(id: number, error: string, nextAttemptAt: number, dead: boolean, countAttempt = true): void {
    this.stmt('UPDATE outbox SET attempts = attempts + ?, last_error = ?, next_attempt_at = ?, dead = ? WHERE id = ?').run(
      countAttempt ? 1 : 0,
      error,
      nextAttemptAt,
      dead ? 1 : 0,
      id,
    );
  }

  takePushLease(lease: PushLease, mayReplace: (current: PushLease) => boolean): PushLease | undefined {
    return this.transaction(() => {
      const current = this.pushLease(lease.esp);
      if (current && current.owner !== lease.owner && !mayReplace(current)) return current;
      this.stmt(
        `INSERT INTO push_leases (esp, owner, pid, host, command, renewed_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (esp) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host, command = excluded.command, renewed_at = excluded.renewed_at`,
      ).run(lease.esp, lease.owner, lease.pid, lease.host, lease.command, lease.renewedAt);
      return undefined;
    });
  }

  pushLease(esp: EspName): PushLease | undefined {
    const r = this.stmt('SELECT * FROM push_leases WHERE esp = ?').get(esp) as Row | undefined;
    return r
      ? { esp, owner: r.owner as string, pid: r.pid as number, host: r.host as string, command: r.command as string, renewedAt: r.renewed_at as number }
      : undefined;
  }

  releasePushLease(esp: EspName, owner: string): void {
    this.stmt('DELETE FROM push_leases WHERE esp = ? AND owner = ?').run(esp, owner);
  }

  reviveDead(esp: EspName | undefined, now: number): number {
    const r =
      esp === undefined
        ? this.stmt('UPDATE outbox SET dead = 0, attempts = 0, next_attempt_at = ? WHERE dead = 1').run(now)
        : this.stmt('UPDATE outbox SET dead = 0, attempts = 0, next_attempt_at = ? WHERE dead = 1 AND esp = ?').run(now, esp);
    return r.changes;
  }

  deadOutbox(esp: EspName | undefined, limit: number): OutboxItem[] {
    const rows =
      esp === undefined
        ? this.stmt('SELECT * FROM outbox WHERE dead = 1 ORDER BY id LIMIT ?').all(limit)
        : this.stmt('SELECT * FROM outbox WHERE dead = 1 AND esp = ? ORDER BY id LIMIT ?').all(esp, limit);
    return (rows as Row[]).map(toOutbox);
  }

  // Bulk scans

  propertyNames(): string[] {
    return this.stmt('SELECT DISTINCT name FROM properties ORDER BY name').pluck().all() as string[];
  }

  eventPropertyNames(sample: number): { event: string; property: string }[] {
    return this.stmt(
      `SELECT DISTINCT n.name AS event, j.key AS property
       FROM (SELECT name_id, properties FROM events ORDER BY id DESC LIMIT ?) e
       JOIN event_names n ON n.id = e.name_id, json_each(e.properties) j
       WHERE json_type(e.properties) = 'object' ORDER BY 1, 2`,
    ).all(sample) as { event: string; property: string }[];
  }

  eventCountBound(): number {
    return this.stmt('SELECT COALESCE(MAX(id), 0) FROM events').pluck().get() as number;
  }

  readEventCache(layout: string): { maxEventRow: number; parts: Iterable<Buffer> } | undefined {
    const row = this.stmt('SELECT max_event_row, file FROM event_cache WHERE layout = ?').get(layout) as { max_event_row: number; file: string } | undefined;
    // Read part by part as iterated, so a restart never holds the whole snapshot beside its columns.
    const parts = row && this.snapshots.read(row.file);
    return parts && { maxEventRow: row.max_event_row, parts };
  }

  *lastEventRows(afterRow: number, throughRow: number): IterableIterator<[number, number]> {
    const s = this.stmt('SELECT contact_id, MAX(id) FROM events WHERE id > ? AND id <= ? GROUP BY contact_id').raw();
    yield* s.iterate(afterRow, throughRow) as IterableIterator<[number, number]>;
  }

  writeEventCache(layout: string, maxEventRow: number, parts: Uint8Array[]): void {
    this.transaction(() => {
      this.stmt('DELETE FROM event_cache').run();
      const file = this.snapshots.write('events', parts);
      this.stmt('INSERT INTO event_cache (layout, max_event_row, file) VALUES (?, ?, ?)').run(layout, maxEventRow, file);
      // Under the write lock: no other writer is between its file and its row.
      this.snapshots.prune('events', file);
    });
  }

  contactCount(): number {
    return this.stmt('SELECT COUNT(*) FROM contacts').pluck().get() as number;
  }

  foreignRulesWrites(): number {
    if (!this.ownRulesWrites) return NaN;
    return this.stmt('SELECT (SELECT n FROM main.rules_writes) - (SELECT n FROM temp.own_rules_writes)').pluck().get() as number;
  }

  contactChanges(limit = -1): [contactId: number, version: number][] {
    if (!this.hasContactFeed()) return [];
    return this.stmt('SELECT contact_id, version FROM contact_changes ORDER BY contact_id LIMIT ?').raw().all(limit) as [number, number][];
  }

  clearContactChanges(changes: Iterable<[contactId: number, version: number]>): void {
    if (!this.hasContactFeed()) return;
    const clear = this.stmt('DELETE FROM contact_changes WHERE contact_id = ? AND version = ?');
    this.transaction(() => {
      for (const [id, version] of changes) clear.run(id, version);
    });
  }

  contactChangeMark(): number {
    if (!this.hasContactFeed()) return 0;
    return this.stmt('SELECT n FROM rules_writes').pluck().get() as number;
  }

  announceLiveReader(): boolean {
    try {
      this.setMeta(LIVE_READER, String(process.pid));
    } catch (err) {
      // No import can run on a full disk either: the caller says so and goes on.
      if (err instanceof StoreFullError) return false;
      throw err;
    }
    this.liveReader = true;
    return true;
  }

  liveReaderElsewhere(): number | undefined {
    const pid = Number(this.meta(LIVE_READER));
    return pid !== process.pid && processRuns(pid) ? pid : undefined;
  }

  noteEventsPull(esp: EspName, on: boolean): void {
    const key = `${EVENTS_PULL}${esp}`;
    try {
      if (on) this.setMeta(key, String(process.pid));
      else this.stmt('DELETE FROM store_meta WHERE key = ? AND value = ?').run(key, String(process.pid));
    } catch (err) {
      // A note a full disk kept out only lets a daemon push a little early; the pull itself says why it stops.
      if (!(err instanceof StoreFullError)) throw err;
    }
  }

  eventsPullsElsewhere(): EspName[] {
    const rows = this.stmt('SELECT key, value FROM store_meta WHERE key LIKE ?').all(`${EVENTS_PULL}%`) as { key: string; value: string }[];
    return rows
      .filter((r) => {
        const pid = Number(r.value);
        // A pull killed before it removed its note, or a pid since taken by another program, reads no more.
        return pid !== process.pid && processRuns(pid) && maybeSegsync(pid);
      })
      .map((r) => r.key.slice(EVENTS_PULL.length) as EspName);
  }

  evaluatesOwnContactWrites(): void {
    if (this.readonly || this.ownContactWritesEvaluated || !this.hasContactFeed()) return;
    // A TEMP trigger fires on this connection only: a contact this connection alone changed is never
    // noted, and one another process changed stays noted (its row exists, so no insert fires).
    this.db.exec(
      'CREATE TEMP TRIGGER own_contact_changes AFTER INSERT ON main.contact_changes BEGIN DELETE FROM contact_changes WHERE contact_id = NEW.contact_id; END;',
    );
    this.ownContactWritesEvaluated = true;
  }

  /**
   * Notes contacts whose answers or wake-up this connection stored in contact_changes, unless it
   * queues what its own writes imply (a daemon, see evaluatesOwnContactWrites): a `segsync segments`
   * stores answers and queues no push, so a daemon's catch-up queues them (a new segment's tags after
   * a recompute). A wake-up alone is noted too: a daemon that caught up every note then knows its
   * caches hold what the tables hold, and may save them (see SegmentEngine.saveState).
   */
  private noteEvaluated(contactIds: number[]): void {
    if (!contactIds.length || this.ownContactWritesEvaluated || this.readonly || !this.hasContactFeed()) return;
    this.stmt(
      `INSERT INTO contact_changes (contact_id, version) SELECT value, (SELECT n FROM rules_writes) FROM json_each(?) WHERE true
       ON CONFLICT (contact_id) DO UPDATE SET version = excluded.version`,
    ).run(JSON.stringify(contactIds));
  }

  eventRowReuse(afterSeq: number): { seq: number; floor: number } | undefined {
    this.rowReuseLog ??= this.hasTable('event_row_reuse');
    if (!this.rowReuseLog) return undefined;
    const [seq, floor] = this.stmt('SELECT MAX(seq), MIN(floor) FROM event_row_reuse WHERE seq > ?').raw().get(afterSeq) as [number | null, number | null];
    return seq === null ? undefined : { seq, floor: floor! };
  }

  forgetEventRowReuse(throughSeq: number): void {
    this.rowReuseLog ??= this.hasTable('event_row_reuse');
    if (this.rowReuseLog && !this.readonly) this.stmt('DELETE FROM event_row_reuse WHERE seq <= ?').run(throughSeq);
  }

  /** Whether the store has migration 88's contact_changes (a read-only older file has not). */
  private hasContactFeed(): boolean {
    this.contactFeed ??= this.hasTable('contact_changes');
    return this.contactFeed;
  }

  answersFingerprint(): string | undefined {
    return this.hasTable('store_meta') ? this.meta(ANSWERS_FINGERPRINT) : undefined;
  }

  setAnswersFingerprint(fingerprint: string | undefined): void {
    if (fingerprint === undefined) this.stmt('DELETE FROM store_meta WHERE key = ?').run(ANSWERS_FINGERPRINT);
    else this.setMeta(ANSWERS_FINGERPRINT, fingerprint);
  }

  /** A store_meta value. */
  private meta(key: string): string | undefined {
    return this.stmt('SELECT value FROM store_meta WHERE key = ?').pluck().get(key) as string | undefined;
  }

  /** Sets a store_meta value. */
  private setMeta(key: string, value: string): void {
    this.stmt('INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  readRulesState(layout: string): Iterable<Buffer> | undefined {
    const file = this.stmt('SELECT file FROM rules_state WHERE layout = ?').pluck().get(layout) as string | undefined;
    return file === undefined ? undefined : this.snapshots.read(file);
  }

  writeRulesState(layout: string, parts: Uint8Array[]): void {
    this.transaction(() => {
      this.dropRulesState();
      const file = this.snapshots.write('rules', parts);
      this.stmt('INSERT INTO rules_state (layout, file) VALUES (?, ?)').run(layout, file);
      this.snapshots.prune('rules', file);
      // A state exists again: the next answer write in this transaction must drop it.
      this.rulesStateDropped = false;
    });
  }

  /**
   * Answers or wake-ups are about to change: the saved rules state no longer matches them (and this
   * connection wrote them). Once per transaction: a catch-up writing thousands of contacts in one
   * spent more on these three statements than on its answers.
   */
  private dropRulesState(): void {
    if (this.rulesStateDropped) return;
    this.stmt('DELETE FROM rules_state').run();
    if (this.ownRulesWrites) {
      this.stmt('UPDATE main.rules_writes SET n = n + 1').run();
      this.stmt('UPDATE temp.own_rules_writes SET n = n + 1').run();
    }
    this.rulesStateDropped = this.db.inTransaction;
  }

  eventNamesById(): Map<number, string> {
    return this.eventNameById();
  }

  *scanEventChunks(numeric: string[], json: string[], afterRow = 0, throughRow = Number.MAX_SAFE_INTEGER): IterableIterator<EventRowChunk> {
    const path = (key: string): string => `$."${key.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    // `|| ''` drops the JSON subtype, so a filtered value arrives as its JSON text, as a row would give it.
    const cols = [...numeric.map(() => 'properties ->> ?'), ...json.map(() => "(properties -> ?) || ''")];
    const width = 3 + cols.length;
    // Read as one flat JSON array per range of row ids: the cold start scans every event, and handing
    // over a row costs far more than parsing its bytes as JSON, and parsing an array per row (20 M
    // small arrays) twice as much as one flat array. The order comes from the subquery, which the
    // row id range scan gives with no sort (an ORDER BY inside the aggregate sorted each range again).
    const RANGE = 65_536;
    const top = Math.min(throughRow, this.eventCountBound());
    const values = ['contact_id', 'name_id', 'time', ...cols.map((_, i) => `json_quote(p${i})`)].join(" || ',' || ");
    const sql = `SELECT '[' || group_concat(${values}, ',') || ']' FROM (
       SELECT contact_id, name_id, time${cols.map((c, i) => `, ${c} AS p${i}`).join('')} FROM events WHERE id > ? AND id <= ? ORDER BY id)`;
    const s = this.stmt(sql).pluck();
    const params = [...numeric.map(path), ...json.map(path)];
    const ranges: [number, number][] = [];
    for (let lo = afterRow; lo < top; lo += RANGE) ranges.push([lo, Math.min(top, lo + RANGE)]);
    const run = (lo: number, hi: number): string => (s.get(...params, lo, hi) as string | null) ?? '[]';
    // A second connection sees only what is committed: inside a transaction, one connection reads all.
    const parallel = this.path !== ':memory:' && !this.db.inTransaction && top - afterRow >= this.parallelScanFrom && ranges.length > 1;
    this.scanFallback = undefined;
    const texts = parallel
      ? readRanges(this.path, sql, params, ranges, run, (reason) => {
          this.scanFallback = reason;
        })
      : (function* (): IterableIterator<string> {
          for (const [lo, hi] of ranges) yield run(lo, hi);
        })();
    for (const text of texts) {
      const chunk = JSON.parse(text) as unknown[];
      if (chunk.length) yield { width, values: chunk };
    }
  }

  eventsAfter(contactId: number, afterRow: number): { row: number; event: SegsyncEvent }[] {
    const names = this.eventNameById();
    return (this.stmt('SELECT * FROM events WHERE contact_id = ? AND id > ? ORDER BY id').all(contactId, afterRow) as Row[]).map((r) => ({
      row: r.id as number,
      event: toEvent(r, names),
    }));
  }

  *scanContacts(): IterableIterator<[number, string, number, string | null]> {
    yield* this.scanPacked<[number, string, number, string | null]>(
      'contacts',
      'id',
      ['id', 'json_quote(email)', 'created_at', 'json_quote(consent_status)'],
      'id',
    );
  }

  *scanProperties(names: string[] | undefined): IterableIterator<[number, string, FieldValue]> {
    const where = names === undefined ? '' : `AND name IN (${names.map(() => '?').join(', ') || 'NULL'})`;
    // Stored values are JSON text (written by JSON.stringify, checked by migration 13): spliced in as
    // they are. Should one not be JSON, its range is read again with such values as null, so one bad
    // row costs neither the start nor the other contacts' properties.
    yield* this.scanPacked<[number, string, FieldValue]>(
      'properties',
      'contact_id',
      ['contact_id', 'json_quote(name)', 'value'],
      'contact_id, name',
      where,
      names ?? [],
      ['contact_id', 'json_quote(name)', "iif(json_valid(value), value, 'null')"],
    );
  }

  *scanTags(): IterableIterator<[number, string]> {
    yield* this.scanPacked<[number, string]>('tags', 'contact_id', ['contact_id', 'json_quote(tag)'], 'contact_id, tag');
  }

  /**
   * Rows of a table keyed by contact id, read as one flat JSON array per range of 65,536 ids (each
   * `columns` expression gives one value's JSON text): a cold start reads millions of rows, and
   * handing over a row, or SQLite building a JSON array per row, costs far more than splicing the
   * values' text and parsing it once. Rows come in `orderBy` order (the primary key's, so no sort).
   */
  private *scanPacked<T extends unknown[]>(
    table: string,
    idColumn: string,
    columns: string[],
    orderBy: string,
    where = '',
    params: unknown[] = [],
    guarded: string[] = columns,
  ): IterableIterator<T> {
    const RANGE = 65_536;
    const width = columns.length;
    const top = (this.stmt(`SELECT COALESCE(MAX(${idColumn}), 0) FROM ${table}`).pluck().get() as number) + 1;
    const query = (cols: string[]): Statement =>
      this.stmt(
        `SELECT '[' || group_concat(${cols.map((_, i) => `c${i}`).join(" || ',' || ")}, ',') || ']'
         FROM (SELECT ${cols.map((c, i) => `${c} AS c${i}`).join(', ')} FROM ${table} WHERE ${idColumn} >= ? AND ${idColumn} < ? ${where} ORDER BY ${orderBy})`,
      ).pluck();
    const fast = query(columns);
    for (let lo = 0; lo < top; lo += RANGE) {
      const text = fast.get(lo, lo + RANGE, ...params) as string | null;
      if (text === null) continue;
      let flat: unknown[];
      try {
        flat = JSON.parse(text) as unknown[];
      } catch {
        flat = JSON.parse((query(guarded).get(lo, lo + RANGE, ...params) as string | null) ?? '[]') as unknown[];
      }
      for (let i = 0; i < flat.length; i += width) yield flat.slice(i, i + width) as T;
    }
  }

  *scanSegmentStates(): IterableIterator<[number, string, string, number]> {
    for (const [contactId, parts] of this.answerRows()) {
      const at: number[] = [];
      for (let i = 0; i + 2 < parts.length; i += 3) at.push(i);
      at.sort((x, y) => (parts[x]! < parts[y]! ? -1 : parts[x]! > parts[y]! ? 1 : 0));
      for (const i of at) yield [contactId, parts[i]!, parts[i + 1]!, Number(parts[i + 2])];
    }
  }

  forEachSegmentAnswer(fn: (contactId: number, segment: string, value: FieldValue) => void): void {
    for (const [contactId, parts] of this.answerRows()) for (let i = 0; i + 2 < parts.length; i += 3) fn(contactId, parts[i]!, parseAnswer(parts[i + 1]!));
  }

  /** Every contact's stored answers, as the parts of its text (see answerParts), by contact. */
  private *answerRows(): IterableIterator<[number, string[]]> {
    for (const [contactId, text] of this.db.prepare('SELECT contact_id, answers FROM segment_answers').raw(true).iterate() as IterableIterator<
      [number, string]
    >)
      yield [contactId, answerParts(text)];
  }

  forEachWakeup(fn: (contactId: number, at: number) => void): void {
    // Packed per range of 65,536 contact ids, for the same reason as the answers.
    const s = this.stmt("SELECT group_concat(contact_id || ',' || next_change_at, ',') FROM wakeups WHERE contact_id >= ? AND contact_id < ?").pluck();
    const top = (this.stmt('SELECT COALESCE(MAX(contact_id), 0) FROM wakeups').pluck().get() as number) + 1;
    for (let lo = 0; lo < top; lo += 65_536) {
      const packed = s.get(lo, lo + 65_536) as string | null;
      if (!packed) continue;
      const nums = packed.split(',');
      for (let i = 0; i + 1 < nums.length; i += 2) fn(Number(nums[i]), Number(nums[i + 1]));
    }
  }

  saveEvaluations(items: { contactId: number; states: SegmentState[]; nextChangeAt: number | undefined }[]): void {
    // Many rows per statement: a first full recompute writes a million contacts' answers.
    const ROWS = 64;
    const upsert = (n: number): Statement =>
      this.stmt(
        `INSERT INTO segment_answers (contact_id, answers) VALUES ${Array.from({ length: n }, () => '(?, ?)').join(', ')}
         ON CONFLICT (contact_id) DO UPDATE SET answers = segsync_merge_answers(answers, excluded.answers)`,
      );
    // Wake-ups too: a first recompute writes one for most of a million contacts.
    const wake = (n: number): Statement =>
      this.stmt(
        `INSERT INTO wakeups (contact_id, next_change_at) VALUES ${Array.from({ length: n }, () => '(?, ?)').join(', ')}
         ON CONFLICT (contact_id) DO UPDATE SET next_change_at = excluded.next_change_at`,
      );
    const unwake = (n: number): Statement => this.stmt(`DELETE FROM wakeups WHERE contact_id IN (${Array.from({ length: n }, () => '?').join(', ')})`);
    this.transaction(() => {
      this.dropRulesState();
      // A contact named twice ends as its last word says: the second row merges into the first.
      let params: unknown[] = [];
      const wakeups = new Map<number, number | undefined>();
      for (const item of items) {
        if (item.states.length) {
          params.push(item.contactId, packAnswers(item.states));
          if (params.length === ROWS * 2) {
            upsert(ROWS).run(...params);
            params = [];
          }
        }
        wakeups.set(item.contactId, item.nextChangeAt);
      }
      if (params.length) upsert(params.length / 2).run(...params);
      this.noteEvaluated([...wakeups.keys()]);
      const wakes: number[] = [];
      const unwakes: number[] = [];
      for (const [id, at] of wakeups) {
        if (at === undefined) unwakes.push(id);
        else wakes.push(id, at);
      }
      for (let k = 0; k < wakes.length; k += ROWS * 2) {
        const chunk = wakes.slice(k, k + ROWS * 2);
        wake(chunk.length / 2).run(...chunk);
      }
      for (let k = 0; k < unwakes.length; k += ROWS) {
        const chunk = unwakes.slice(k, k + ROWS);
        unwake(chunk.length).run(...chunk);
      }
    });
  }

  counts(): StoreCounts {
    const contacts = this.stmt('SELECT COUNT(*) FROM contacts').pluck().get() as number;
    const events = this.stmt('SELECT COUNT(*) FROM events').pluck().get() as number;
    const members = JSON.parse((this.stmt('SELECT segsync_count_members(answers) FROM segment_answers').pluck().get() as string | null) ?? '[]') as [
      string,
      number,
    ][];
    const segments = members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([segment, n]) => ({ segment, members: n }));
    return { contacts, events, segments, outbox: this.outboxCounts() };
  }

  outboxCounts(): StoreCounts['outbox'] {
    return this.stmt(
      'SELECT esp, SUM(CASE WHEN dead = 0 THEN 1 ELSE 0 END) AS pending, SUM(dead) AS dead FROM outbox GROUP BY esp ORDER BY esp',
    ).all() as StoreCounts['outbox'];
  }

  close(): void {
    if (this.liveReader && this.db.open) {
      try {
        this.stmt('DELETE FROM store_meta WHERE key = ? AND value = ?').run(LIVE_READER, String(process.pid));
      } catch (err) {
        // Left behind, the row names a pid that no longer runs, which counts as no live reader.
        if (!(err instanceof StoreFullError)) throw err;
      }
    }
    if (this.db.open) this.db.close();
    this.snapshots.close();
  }
}

function toEvent(r: Row, names: Map<number, string>): SegsyncEvent {
  return {
    eventId: r.event_id as string,
    contactId: r.contact_id as number,
    name: names.get(r.name_id as number) ?? '?',
    time: r.time as number,
    properties: JSON.parse(r.properties as string) as SegsyncEvent['properties'],
    source: r.source as SegsyncEvent['source'],
  };
}

function toOutbox(r: Row): OutboxItem {
  return {
    id: r.id as number,
    esp: r.esp as EspName,
    contactId: r.contact_id as number,
    key: r.key as string,
    op: r.op as OutboxItem['op'],
    value: unjson(r.value),
    version: r.version as number,
    attempts: r.attempts as number,
    nextAttemptAt: r.next_attempt_at as number,
    lastError: (r.last_error as string | null) ?? undefined,
    dead: r.dead === 1,
    sent: r.sent === 1,
    createdAt: r.created_at as number,
  };
}

/**
 * Refuses store paths that would silently start a new, empty store where the user expects theirs: an
 * empty (0-byte) file, or a folder that does not exist (a typo, an unmounted disk). Only segsync's own
 * default folder `.segsync` is created, and only inside a folder that exists.
 */
function checkStorePath(path: string): void {
  const folder = dirname(path);
  const file = nearestExistingAncestor(folder);
  if (file !== undefined && !statSync(file).isDirectory()) {
    throw new StoreError(`the store's folder ${folder} cannot exist: ${file} is a file, not a folder`, {
      hint: `choose another store path (store.path, --store or SEGSYNC_STORE), or move ${file} away`,
    });
  }
  if (!existsSync(folder)) {
    if (basename(folder) === '.segsync' && existsSync(dirname(folder))) {
      mkdirSync(folder);
      return;
    }
    throw new StoreError(`the store's folder ${folder} does not exist`, {
      hint: `create it (mkdir -p ${folder}) if this is where the store belongs, or fix store.path / --store / SEGSYNC_STORE; segsync does not create it, so a typo or an unmounted disk never starts an empty store`,
    });
  }
  if (existsSync(path) && statSync(path).isFile() && statSync(path).size === 0) {
    throw new StoreError(`the store file ${path} is empty (0 bytes)`, {
      hint: 'a failed copy or a full disk may have truncated it: restore it from a backup; if a new, empty store is what you want, delete the file first',
    });
  }
}

/** The path itself or its nearest ancestor that exists (undefined only when none does). */
function nearestExistingAncestor(path: string): string | undefined {
  for (let p = path; ; p = dirname(p)) {
    if (existsSync(p)) return p;
    if (dirname(p) === p) return undefined;
  }
}

/** Opens the default store at a path. */
export function openStore(path: string, options: Omit<SqliteStoreOptions, 'path'> = {}): SqliteStore {
  // SQLite opens an empty path as a temporary database deleted on close: everything would be lost.
  if (!path.trim())
    throw new ConfigError('the store path is empty', { hint: 'set store.path in segsync.yaml, pass --store FILE, or unset an empty SEGSYNC_STORE' });
  return new SqliteStore({ path, ...options });
}
