/**
 * The local store: the hub every ESP syncs through. The interface is synchronous because the default
 * store is embedded SQLite (better-sqlite3 answers in microseconds, and a synchronous transaction
 * cannot interleave with other work); a networked store would sit behind an async facade.
 */
import type { Consent, Contact, EspName, FieldValue, IncomingContact, IncomingEvent, PropertyValue, SegsyncEvent } from '../model/types';
import type { IdentityStore } from './identities';

/** What merging one incoming contact did. */
export interface UpsertOutcome {
  contactId: number;
  created: boolean;
  /** Property names whose value changed. */
  changed: string[];
  /** The stored consent that stood against the given one (newer, or an opt-out an undated consent may not lift). */
  consentKept?: Consent;
}

/** What appending a batch of events did. */
export interface AppendOutcome {
  inserted: number;
  /** Events whose idempotency id was already stored: dropped. */
  duplicates: number;
  /** Contacts created because an event named an unknown email. */
  contactsCreated: number;
  /** Contacts that received at least one new event (for incremental re-evaluation). */
  touched: number[];
  /**
   * Positions (in the input) of events whose id was already stored with different content: not
   * stored, and not duplicates either: the sender reused an id, and must hear about it.
   */
  conflicts: number[];
}

/** A stored row set aside because it could not be read back (it would stop every start otherwise). */
export interface QuarantinedRow {
  id: number;
  /** `event` (a row of events) or `property` (a contact property). */
  kind: 'event' | 'property';
  /** The event id, or the property name. */
  ref: string;
  contactId: number | undefined;
  reason: string;
  quarantinedAt: number;
}

/** Event rows of a scan laid end to end: row i is values[i * width] .. values[(i + 1) * width - 1]. */
export interface EventRowChunk {
  width: number;
  values: unknown[];
}

/** How the store makes a commit durable. */
export type Durability = 'normal' | 'full';

/** An event ready to store: identity by normalised email, id derived, properties serialised. */
export interface EventRow {
  eventId: string;
  /** Normalised email. */
  email: string;
  name: string;
  time: number;
  /** `properties` as JSON text. */
  propertiesJson: string;
  source: SegsyncEvent['source'];
  /** See IncomingEvent.timeFromReceipt: a stored event with the same id and another time is the same event. */
  timeFromReceipt?: boolean;
}

/** A bulk load of events (an import): rows go in as with `appendEventRows`, faster. */
export interface EventBulkLoad {
  /**
   * Whether the load set the event indexes aside: then `append` cannot see repeated event ids, and
   * `finish` removes them (keeping the first) and reports them.
   */
  readonly rebuildsIndexes: boolean;
  append(rows: EventRow[]): AppendOutcome;
  /** Ends the load and restores whatever it set aside; call it whether the load succeeded or not. */
  finish(): { duplicates: number };
}

/** A stored segment answer for one contact. */
export interface SegmentState {
  contactId: number;
  segment: string;
  /** The rule's value: true/false for flags, the stage/score/code for value segments. */
  value: FieldValue;
  /** Epoch ms since when it has had this value. */
  since: number;
}

/**
 * Sync-state key holding a record's id that survives an email change, for ESPs whose record id does
 * not (Mailchimp's `contact_id`): stores index it so a pull can find the contact by it.
 */
export const RECORD_KEY = '@record';

/**
 * Sync-state key marking a contact whose record on the ESP was archived or deleted there (its value
 * says why): stores index it so the unlinked contacts of an ESP are counted without a scan.
 */
export const UNLINKED_KEY = '@unlinked';

/**
 * Sync-state key of the tags segsync itself put on the contact on that ESP (its `pushedValue`): stores
 * index it so the contacts holding a tag segsync added are found without reading every key.
 */
export const ADDED_TAGS_KEY = '@tags-added';

/** A per-contact, per-ESP, per-key record of what the ESP holds and what segsync last sent. */
export interface SyncFieldState {
  contactId: number;
  esp: EspName;
  /** A mapped ESP field name, or a reserved key such as `@tags`. */
  key: string;
  remoteValue: FieldValue | undefined;
  pushedValue: FieldValue | undefined;
  /** The ESP's modification time of the value, epoch ms. */
  remoteModifiedAt: number | undefined;
  /**
   * When segsync last recorded a push's answer for this key (local clock, epoch ms): a read of the ESP
   * begun before then may predate the push. Kept when a write does not give it.
   */
  pushedAt?: number;
}

export type OutboxOp = 'set' | 'clear' | 'addTag' | 'removeTag' | 'erase';

/** An operation to enqueue. Operations on the same (esp, contact, key) coalesce: the last one wins. */
export interface OutboxInput {
  esp: EspName;
  contactId: number;
  /** Field name, `tag:<name>`, or `@erase`. */
  key: string;
  op: OutboxOp;
  value?: FieldValue;
}

/** A pending outbox operation. */
export interface OutboxItem extends Required<Omit<OutboxInput, 'value'>> {
  id: number;
  value: FieldValue | undefined;
  /** Bumped on every coalesce, so completing a claimed version never deletes a newer one. */
  version: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | undefined;
  dead: boolean;
  /** Sent to the ESP at least once: the ESP may hold its value even if no answer was recorded. */
  sent: boolean;
  createdAt: number;
}

/** A conflict decision, kept so `explain` can say why a value won. */
export interface Decision {
  contactId: number;
  field: string;
  /** Who won: local or an ESP name. */
  winner: string;
  reason: string;
  at: number;
  detail?: Record<string, FieldValue>;
}

export interface OutboxCounts {
  esp: EspName;
  pending: number;
  dead: number;
}

export interface StoreCounts {
  contacts: number;
  events: number;
  segments: { segment: string; members: number }[];
  outbox: OutboxCounts[];
}

/** What `unlinkEsp` forgot. */
export interface UnlinkCounts {
  ids: number;
  syncStates: number;
  cursors: number;
  webhookEvents: number;
}

/** Reads and writes of the local picture of every contact. */
/** Who sends an ESP's outbox: one process at a time (sync/push-lease.ts). */
export interface PushLease {
  esp: EspName;
  /** Unique to one process: its host, pid and a random part. */
  owner: string;
  pid: number;
  host: string;
  /** What the holder runs: \`daemon\`, \`push\`, \`erase\` … */
  command: string;
  /** When the holder last said it was still there (epoch ms). */
  renewedAt: number;
}

export interface Store {
  /** Runs `fn` in one transaction: all of its writes commit together or none do. Nests. */
  transaction<T>(fn: () => T): T;
  /** The identity graph: userId / anonymousId identifiers, anonymous profiles and their events. */
  readonly identities: IdentityStore;

  // Contacts
  /** Merges contacts by normalised email, creating the missing ones; one transaction for the batch. */
  upsertContacts(contacts: IncomingContact[]): UpsertOutcome[];
  getContact(id: number): Contact | undefined;
  /** Whether a contact with this id is stored (not erased, not merged away). */
  contactExists(id: number): boolean;
  findContactByEmail(email: string): Contact | undefined;
  findContactByExternalId(esp: EspName, externalId: string): Contact | undefined;
  /** Ids of contacts by normalised email, creating the missing ones (fast path for event intake). */
  resolveEmails(emails: string[]): Map<string, number>;
  setExternalId(contactId: number, esp: EspName, externalId: string | undefined): void;
  setProperty(contactId: number, name: string, value: PropertyValue): void;
  /** Adds and removes tags; returns what actually changed. */
  updateTags(contactId: number, add: string[], remove: string[], source: PropertyValue['source'], at: number): { added: string[]; removed: string[] };
  setConsent(contactId: number, consent: Consent): void;
  /** Changes a contact's email (an ESP reported an email change); fails when the new email is taken. */
  changeEmail(contactId: number, email: string): void;
  /** Removes a contact and everything about it (GDPR erase). */
  eraseContact(contactId: number): void;
  /** How many contacts the store holds. */
  contactCount(): number;
  /** Every contact id in ascending order, paged. */
  contactIds(afterId: number, limit: number): number[];

  // Events
  /** Appends events, creating unknown contacts; a replayed idempotency id is dropped. */
  appendEvents(events: IncomingEvent[]): AppendOutcome;
  /** The same for events already prepared (validated, ids derived, properties serialised), e.g. by an import worker. */
  appendEventRows(rows: EventRow[]): AppendOutcome;
  /** Starts a bulk load of about `expectedEvents` events; the store may set indexes aside until `finish`. */
  beginEventBulkLoad(expectedEvents: number): EventBulkLoad;
  eventsOf(contactId: number): SegsyncEvent[];
  /** Every event ordered by contact then time, streamed. */
  iterateEvents(): IterableIterator<SegsyncEvent>;
  /** Event names seen, with counts (for "did you mean" in rules). */
  eventNames(): { name: string; count: number }[];

  // Segments
  getSegmentStates(contactId: number): SegmentState[];
  /** Writes segment answers and the contact's next wake-up time together. */
  saveEvaluation(contactId: number, states: SegmentState[], nextChangeAt: number | undefined): void;
  /**
   * Contacts whose answers can flip by the clock alone at or before `now`, in id order, each with its
   * stored wake-up time (so a flip is stamped when it happened).
   */
  dueWakeupTimes(now: number): { contactId: number; at: number }[];

  // Sync state
  getSyncState(contactId: number, esp: EspName): SyncFieldState[];
  putSyncState(rows: SyncFieldState[]): void;
  /** One key's sync state for every contact on an ESP (e.g. who is known to carry which tags). */
  syncStatesByKey(esp: EspName, key: string): SyncFieldState[];
  /** How many contacts are unlinked from an ESP (their `UNLINKED_KEY` sync state), per reason. */
  unlinkedCounts(esp: EspName): Record<string, number>;
  /**
   * The fields (not `@` keys) a push has written on an ESP, with when it last wrote each: the records
   * there keep the last value of one segsync.yaml no longer maps.
   */
  writtenFields(esp: EspName): { key: string; lastWrittenAt: number | undefined }[];
  /** Forgets one field's sync state on an ESP and that segsync wrote it; returns how many contacts' states went. */
  forgetWrittenField(esp: EspName, key: string): number;
  /** Records that a push put these tags on contacts of an ESP (a tag segsync.yaml later stops owning is then named). */
  noteAddedTags(esp: EspName, tags: string[], at: number): void;
  /** Every tag a push has put on contacts of an ESP, with when it last did. */
  addedTagNames(esp: EspName): { tag: string; lastAddedAt: number | undefined }[];
  /** How many contacts of an ESP hold each of `tags` among those segsync put on them (their `ADDED_TAGS_KEY`). */
  addedTagHolders(esp: EspName, tags: string[]): Map<string, number>;
  /** Forgets that segsync put `tag` on contacts of an ESP (from each contact's record and the list); returns how many contacts held it. */
  forgetAddedTag(esp: EspName, tag: string): number;
  /** The contact whose record on the ESP has this stable id (its `RECORD_KEY` sync state), if any. */
  findContactByRecordKey(esp: EspName, recordKey: string): Contact | undefined;
  /** Forgets everything known about a contact on one ESP (its record there was deleted or merged away). */
  clearSyncState(contactId: number, esp: EspName): void;
  /** Records a webhook delivery's vendor event id; false when it was seen before (a replay). */
  markWebhookEvent(esp: EspName, eventId: string, at: number): boolean;
  /**
   * Forgets one ESP's record ids, per-contact sync state, pull cursors and seen webhook ids, so the next
   * pull adopts that ESP's records afresh by email (its account was replaced or reset). Contacts, their
   * values, events, segments and the outbox stay. Returns how many of each were forgotten.
   */
  unlinkEsp(esp: EspName): UnlinkCounts;
  /** Forgets webhook delivery ids seen before `before` (past every vendor's retry window); returns how many. */
  pruneWebhookEvents(before: number): number;
  /** Rows set aside as unreadable, newest first, and how many there are. */
  quarantined(limit: number): { total: number; rows: QuarantinedRow[] };
  /** Contacts whose unreadable events the open moved to the quarantine (to evaluate again). */
  readonly sweptContacts: number[];
  /** Tries a write without waiting for the lock (then rolls it back); throws `StoreError` when it cannot. */
  probeWrite(): void;
  getCursor(esp: EspName, kind: string): string | undefined;
  setCursor(esp: EspName, kind: string, cursor: string): void;
  /** Forgets one cursor; true when there was one. */
  forgetCursor(esp: EspName, kind: string): boolean;
  recordDecision(decision: Decision): void;
  decisionsFor(contactId: number, field?: string): Decision[];

  // Outbox
  enqueue(ops: OutboxInput[], now: number): void;
  /** Due, live operations of one ESP, oldest first. */
  dueOutbox(esp: EspName, now: number, limit: number): OutboxItem[];
  /**
   * For the safety valve, without reading the queue: live tag removals per tag, and live field writes
   * per ESP field (`resets`: only clears and writes of an empty, 0 or false value), where at least `min`.
   */
  outboxStripCounts(esp: EspName, fields: 'resets' | 'changes', min: number): { tags: Map<string, number>; fields: Map<string, number> };
  /** The live field writes of one ESP field the valve counts (the same `fields` filter). */
  outboxFieldWrites(esp: EspName, key: string, fields: 'resets' | 'changes'): OutboxItem[];
  /** Removes operations the ESP confirmed, unless they were coalesced with a newer change meanwhile. */
  completeOutbox(done: { id: number; version: number }[]): void;
  /** Live operations queued for one contact on one ESP. */
  pendingOutbox(esp: EspName, contactId: number): OutboxItem[];
  /**
   * Drops every operation for one contact on one ESP, live or dead-lettered, except erase requests
   * (its record there is gone: those writes can never succeed). Returns how many of each it dropped.
   */
  dropOutboxFor(esp: EspName, contactId: number): { queued: number; dead: number };
  /**
   * Marks operations as about to be sent (before the call, so a crash mid-call leaves the mark) and
   * returns the ids of those still queued as read: one dropped or replaced by a newer change since is
   * not sent (the newer one goes in a later round).
   */
  claimOutbox(items: { id: number; version: number }[]): Set<number>;
  /** Drops queued operations that are no longer wanted (the value went back to what the ESP has). */
  removeOutbox(ids: number[]): void;
  /** Records a failed attempt: retried at `nextAttemptAt`, or dead-lettered. */
  failOutbox(id: number, error: string, nextAttemptAt: number, dead: boolean, countAttempt?: boolean): void;
  /**
   * Takes the push lease of \`lease.esp\` for \`lease.owner\`, or renews it, unless another owner holds
   * it and \`mayReplace\` says that holder still stands: then returns that holder and changes nothing.
   */
  takePushLease(lease: PushLease, mayReplace: (current: PushLease) => boolean): PushLease | undefined;
  /** The push lease of an ESP, if a process holds one. */
  pushLease(esp: EspName): PushLease | undefined;
  /** Gives the lease up, if \`owner\` still holds it. */
  releasePushLease(esp: EspName, owner: string): void;
  /** A connector's unexpired notes of `kind` (connectors/connector.ts, `ConnectorNotes`), under `keys` or all. */
  connectorNotes(esp: EspName, kind: string, now: number, keys?: readonly string[]): Map<string, string>;
  /** Notes `entries` for a connector until `expiresAt` (replacing notes under the same keys); drops expired notes. */
  putConnectorNotes(esp: EspName, kind: string, entries: readonly (readonly [string, string])[], expiresAt: number, now: number): void;
  dropConnectorNotes(esp: EspName, kind: string, keys: readonly string[]): void;
  /** Puts dead-lettered operations back in the queue (all, or one ESP's). */
  reviveDead(esp: EspName | undefined, now: number): number;
  deadOutbox(esp: EspName | undefined, limit: number): OutboxItem[];

  // Bulk scans (the rules engine's in-memory caches are built from these)
  /** Contact property names in use (for "did you mean" in rules). */
  propertyNames(): string[];
  /** Property names seen on events of each name, from the `sample` most recent events. */
  eventPropertyNames(sample: number): { event: string; property: string }[];
  /** Upper bound of the number of stored events (to size caches). */
  eventCountBound(): number;
  /**
   * Every event in storage order (only rows after `afterRow` and through `throughRow`, when given), in
   * chunks of rows laid end to end, each [contactId, eventNameId, time, ...values of `numeric`,
   * ...JSON text of `json`] properties.
   */
  scanEventChunks(numeric: string[], json: string[], afterRow?: number, throughRow?: number): IterableIterator<EventRowChunk>;
  /** Why the last scanEventChunks read on one connection where it meant to use two (slower, never wrong). */
  readonly scanFallback?: string | undefined;
  /** Event name ids (as scanEventChunks gives them) to names. */
  eventNamesById(): Map<number, string>;
  /** The saved event-cache snapshot for a layout: its parts in order (read as iterated) and the last event row it holds. */
  readEventCache(layout: string): { maxEventRow: number; parts: Iterable<Buffer> } | undefined;
  /** Each contact with event rows after `afterRow` through `throughRow`, with its last such row. */
  lastEventRows(afterRow: number, throughRow: number): Iterable<[contactId: number, row: number]>;
  /** Replaces the saved event-cache snapshot (one is kept). */
  writeEventCache(layout: string, maxEventRow: number, parts: Uint8Array[]): void;
  /**
   * How many writes other connections made to what the rules cache holds (contacts, properties,
   * tags, answers, wake-ups, changed or deleted events): a change between two reads means someone else wrote it. NaN when
   * this store cannot tell (read-only).
   */
  foreignRulesWrites(): number;
  /**
   * The contacts whose properties, tags, consent or events changed (or that were created or deleted)
   * since a rules engine last evaluated them, as [contactId, version], lowest ids first, at most
   * `limit` (all when omitted): what another process wrote, which no engine in this one heard of.
   */
  contactChanges(limit?: number): [contactId: number, version: number][];
  /** The version the next noted change will be above: a change noted with a higher one came after this call. */
  contactChangeMark(): number;
  /** Forgets these noted changes, each only when its version is still the same (the contact did not change again since). */
  clearContactChanges(changes: Iterable<[contactId: number, version: number]>): void;
  /**
   * Deletes of the newest event rows recorded after `afterSeq`: SQLite gives their ids to the next
   * rows stored, so a reader that had passed those ids must look again above `floor`, the lowest
   * highest-row-left of them. With `seq`, the latest record; undefined when there is none.
   */
  eventRowReuse(afterSeq: number): { seq: number; floor: number } | undefined;
  /** Forgets the records through `throughSeq` (their one reader, the daemon's rules engine, has looked again above their floors). */
  forgetEventRowReuse(throughSeq: number): void;
  /**
   * Records that this process reads each contact's new events as they arrive, until it closes the
   * store (the daemon): a bulk load in another process then keeps the index such reads need. False
   * when a full disk kept it from being recorded.
   */
  announceLiveReader(): boolean;
  /** The pid of another process that announced itself a live reader (a daemon) and still runs. */
  liveReaderElsewhere(): number | undefined;
  /**
   * Notes that this process is reading an ESP's engagement events (`on`), or no longer is: answers read
   * between two of its pages are transient, and a daemon waits before pushing them.
   */
  noteEventsPull(esp: EspName, on: boolean): void;
  /** The ESPs whose events another process that still runs is reading now. */
  eventsPullsElsewhere(): EspName[];
  /** From now on this connection's own contact and answer writes are not noted: it evaluates and queues what each implies where it makes it (the daemon). */
  evaluatesOwnContactWrites(): void;
  /** The fingerprint of the rules every contact's stored answers were last computed by (rules/fingerprint.ts), if recorded. */
  answersFingerprint(): string | undefined;
  /** Records that every contact's stored answers follow the rules of this fingerprint (undefined: of no known rules). */
  setAnswersFingerprint(fingerprint: string | undefined): void;
  /** The saved rules-state snapshot for a layout, its parts in order (any write to what it holds drops it). */
  readRulesState(layout: string): Iterable<Buffer> | undefined;
  /** Replaces the saved rules-state snapshot (one is kept). */
  writeRulesState(layout: string, parts: Uint8Array[]): void;
  /** One contact's events stored after event row `afterRow` (all when 0), with their row numbers. */
  eventsAfter(contactId: number, afterRow: number): { row: number; event: SegsyncEvent }[];
  /** Every contact as [id, email, createdAt, consentStatus | null]. */
  scanContacts(): IterableIterator<[number, string, number, string | null]>;
  /** Stored properties as [contactId, name, value], only the names given (all when undefined). */
  scanProperties(names: string[] | undefined): IterableIterator<[number, string, FieldValue]>;
  /** Every tag as [contactId, tag]. */
  scanTags(): IterableIterator<[number, string]>;
  /** Every stored segment answer as [contactId, segment, value as JSON text, since] (no object per row: there are millions). */
  scanSegmentStates(): IterableIterator<[number, string, string, number]>;
  /** Calls `fn` for every stored segment answer: the fastest full read, for a cold start. */
  forEachSegmentAnswer(fn: (contactId: number, segment: string, value: FieldValue) => void): void;
  /** Calls `fn` for every stored wake-up. */
  forEachWakeup(fn: (contactId: number, at: number) => void): void;
  /**
   * Writes many contacts' evaluations in one transaction (a full recompute): unlike saveEvaluation,
   * every state given is written (the caller passes only the answers that changed).
   */
  saveEvaluations(items: { contactId: number; states: SegmentState[]; nextChangeAt: number | undefined }[]): void;

  /** Counts of everything (scans the events: for status screens, not for hot paths). */
  counts(): StoreCounts;
  /** Outbox depth per ESP alone: cheap at any store size (metrics, readiness). */
  outboxCounts(): StoreCounts['outbox'];
  close(): void;
}
