/**
 * What the sync engine needs from any ESP, and nothing vendor-specific. This file is the only thing
 * `src/sync/` imports from `connectors/`. Each vendor folder implements `Connector` in its `index.ts`.
 *
 * Field names inside this interface are the ESP's own names (the mapping in segsync.yaml turns local
 * fields into them); values are segsync's neutral `FieldValue`s, and each connector converts them to
 * its vendor's wire format (HubSpot midnight-UTC dates, Mailchimp string booleans, …).
 */
import type { SegsyncError } from '../src/errors';
import type { Clock } from '../src/model/clock';
import type { ConsentStatus, EspName, FieldValue } from '../src/model/types';

export type { EspName } from '../src/model/types';

/** The neutral types a mapped field can have; each connector maps them to its vendor's types. */
export const FIELD_TYPES = ['string', 'number', 'boolean', 'date', 'datetime', 'enum', 'list'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** A field the sync needs on the ESP. `ensureSchema` creates it when missing. */
export interface FieldSpec {
  /** The ESP's field name (HubSpot property name, Mailchimp merge tag, Klaviyo property key). */
  name: string;
  /** A human label for ESPs that show one. */
  label?: string;
  type: FieldType;
  /** Allowed values of an `enum` field. */
  options?: string[];
}

export interface SchemaReport {
  /** Fields that were created now. */
  created: string[];
  /** Fields that existed with a compatible type. */
  existing: string[];
  /** Fields whose definition was changed (e.g. tag options added). */
  updated: string[];
  /** Fields that exist with an incompatible type or could not be created: named, with what to do. */
  problems: { field: string; message: string; hint?: string }[];
}

/** A rate window: at most `limit` calls in any `windowMs`. */
export interface RateWindow {
  limit: number;
  windowMs: number;
  /** `rolling` (sliding log) or `fixed` (aligned to multiples of windowMs, as Klaviyo counts). */
  kind?: 'rolling' | 'fixed';
}

/**
 * What a connector declares about its vendor's limits. The shared limiter (`ratelimit.ts`) is built
 * from it; the sync engine's batcher reads `maxBatch`.
 */
export interface EspLimits {
  /** Largest batch the outbox hands `push`. (Tag, list and erase calls are chunked inside each connector.) */
  maxBatch: {
    /** Contacts per `push` call. */
    upsert: number;
  };
  /** Named rate windows, e.g. `{ burst: {limit: 100, windowMs: 10_000}, daily: {...} }`. */
  windows: Record<string, RateWindow>;
  /** Which windows each kind of call draws from, e.g. `{ default: ['burst','daily'], search: ['search','daily'] }`. */
  buckets: Record<string, string[]>;
  /** Most calls in flight at once for the account. */
  maxConcurrency: number;
}

/** How the sync engine names a contact to a connector. At least one of `email` and `externalId`. */
export interface ContactRef {
  /** Normalised email. */
  email: string;
  /** The contact's id on this ESP, when known. */
  externalId?: string;
  /** segsync's local id, echoed back in results so they can be matched without lookups. */
  contactId?: number;
}

/**
 * The reserved `ContactChange.set` key of an identity change: `set[EMAIL_KEY]` is the record's new
 * email (equal to `ref.email`), and `ref.externalId` names the record, which still has its old email.
 * Each connector changes the email its vendor's way, before the change's other writes.
 */
export const EMAIL_KEY = '@email';

/** One contact's pending change for one ESP: what to set, clear, tag and untag. */
export interface ContactChange {
  ref: ContactRef;
  /** ESP field name → new value. */
  set: Record<string, FieldValue>;
  /** ESP field names to clear. */
  clear: string[];
  /** Owned tags to add. */
  addTags: string[];
  /** Owned tags to remove. */
  removeTags: string[];
  /**
   * The tags last seen on the ESP (owned or not), when known: spares edits the ESP already holds, and
   * stands in where a fresh read cannot find the record.
   */
  remoteTags?: string[];
  /** segsync's consent for the contact: decides the status a new ESP record gets (never a resubscribe). */
  localConsent?: ConsentStatus;
  /**
   * An opt-out segsync was asked to carry to this ESP (the contact opted out somewhere): written as
   * the vendor's unsubscribe or suppression, never by deleting the record. Without it a connector
   * leaves an existing record's consent and status exactly as the ESP holds them.
   */
  optOut?: { at: number };
  /** The ESP's consent for the contact as last seen, when known. */
  remoteConsent?: ConsentStatus;
}

/** What happened to one contact of a pushed batch. */
export type ChangeResult =
  | {
      ref: ContactRef;
      status: 'ok';
      /** The ESP's id for the contact (new contacts get one). */
      externalId?: string;
      /** True when the ESP created the contact. */
      created?: boolean;
      /** The ESP's modification time after the write, if it said. */
      modifiedAt?: number;
      /** The contact's consent on the ESP after the write, if the answer says (lets the next push batch). */
      consent?: ConsentStatus;
      /**
       * Tags of the change's `addTags` the ESP already held before this write, where the connector learnt
       * it (a fresh read, or an answer naming only the members it added): a user's own, not segsync's doing.
       */
      tagsHeld?: string[];
    }
  | {
      ref: ContactRef;
      /** Worth trying again: rate limit, 5xx, timeout. */
      status: 'retry';
      error: SegsyncError;
      retryAfterMs?: number;
    }
  | {
      ref: ContactRef;
      /** Will not succeed as it is (validation, compliance state, unknown field): dead-letter with the reason. */
      status: 'failed';
      error: SegsyncError;
      /**
       * Only these keys of the change were refused (their values): nothing of it was written, and its
       * other keys may be sent again without them. Absent: the change as a whole failed.
       */
      keys?: string[];
    }
  | {
      ref: ContactRef;
      /**
       * The ESP holds no record under `ref.externalId` (deleted there), or, for a write by email, refuses
       * to make one again (permanently deleted there): nothing was written. The sync engine unlinks the
       * contact there, as when the ESP reports a deletion (never recreates it).
       */
      status: 'gone';
      error: SegsyncError;
    };

/** An opaque, JSON-serialisable position in an ESP's change listing, stored between pulls. */
export type Cursor = string;

/** A contact as an ESP reports it. */
export interface RemoteContact {
  externalId: string;
  /** Normalised email, when the ESP has one. */
  email?: string;
  /** ESP field name → value, converted to neutral values. Only the fields the connector was asked for. */
  fields: Record<string, FieldValue>;
  /** The contact's full tag set on the ESP (owned and not), when the ESP reports tags. */
  tags?: string[];
  consent?: ConsentStatus;
  /**
   * The ESP reports the contact holds no opt-out, where it reports opt-outs but no other consent
   * (HubSpot's \`hs_email_optout\` false): an opt-out segsync saw or carried there is gone (a resubscription).
   */
  noOptOut?: true;
  /**
   * When the contact gave or withdrew that consent, by the vendor's own consent timestamp, epoch ms.
   * Omitted when the vendor gives none: never the record's last-modified time.
   */
  consentAt?: number;
  /** The ESP's last modification time, epoch ms. */
  modifiedAt: number;
  /**
   * When the ESP created the record, epoch ms, for vendors whose ids a replaced account reuses
   * (HubSpot's per-portal sequence; Klaviyo's ULIDs and Mailchimp's email hashes never name another
   * person): tells a record that reuses an id segsync linked from the record it knew under that id.
   */
  createdAt?: number;
  /**
   * An id of the record that survives an email change, for vendors whose `externalId` does not
   * (Mailchimp's member id is the hash of the email; its `contact_id` stays): how a pull follows an
   * email changed there.
   */
  recordKey?: string;
  /**
   * Ids of records the ESP merged into this one (HubSpot's `hs_merged_object_ids`): they are gone, and
   * a contact linked to one of them is no longer linked to anything there.
   */
  mergedIds?: string[];
  /** When each of `fields` last changed on the ESP, where the vendor says (HubSpot property history), epoch ms. */
  fieldModifiedAt?: Record<string, number>;
  /** The contact was deleted or archived on the ESP. */
  deleted?: boolean;
}

/**
 * Everyone who carries one tag on the ESP right now, for ESPs where tag changes are found by listing a
 * tag's members rather than in the change feed (Mailchimp: tags are static segments, and tagging does
 * not fire webhooks). Contacts not listed do not carry the tag.
 */
export interface TagMembership {
  tag: string;
  externalIds: string[];
  /** Normalised emails, same order as `externalIds`. */
  emails: string[];
}

export interface RemotePage {
  contacts: RemoteContact[];
  /** Complete memberships of tags whose membership may have changed since the cursor. */
  tagMemberships?: TagMembership[];
  /** Where to resume after this page; store it only once the page is applied. */
  next: Cursor;
}

/** What a pull asks for. */
export interface PullRequest {
  /** Where the last pull stopped; `undefined` for a first, full scan. */
  cursor: Cursor | undefined;
  /** Upper bound fixed at the start of the pull, so paging does not chase its own tail. */
  until: Date;
  /** ESP field names to return in `fields`. */
  fields: string[];
}

/** An engagement event an ESP reports (opens, clicks, orders …). */
export interface RemoteEvent {
  /** The ESP's id for the event: the idempotency id. */
  eventId: string;
  email?: string;
  externalId?: string;
  name: string;
  /** Epoch ms. */
  time: number;
  properties: Record<string, FieldValue>;
}

export interface EventPage {
  events: RemoteEvent[];
  next: Cursor;
}

/** An HTTP request as the daemon received it, before any parsing: signatures are over raw bytes. */
export interface RawRequest {
  method: string;
  /** The full public URL the ESP called (scheme, host, path and query), as signed. */
  url: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  /** Epoch ms when it arrived (for timestamp windows). */
  receivedAt: number;
}

/** A change to one contact an ESP announced by webhook. Fields are partial: only what changed. */
export interface RemoteChange {
  /** The vendor's event id, for deduplication. */
  eventId: string;
  ref: { externalId?: string; email?: string };
  kind: 'created' | 'updated' | 'deleted' | 'merged' | 'erased' | 'email-changed';
  fields: Record<string, FieldValue>;
  tags?: string[];
  consent?: ConsentStatus;
  /**
   * The ESP reports the contact holds no opt-out, where it reports opt-outs but no other consent
   * (HubSpot's \`hs_email_optout\` false): an opt-out segsync saw or carried there is gone (a resubscription).
   */
  noOptOut?: true;
  /** For `merged`: the ids that are gone. For `email-changed`: the old email. */
  previous?: { externalIds?: string[]; email?: string };
  /** When it happened on the ESP, epoch ms. */
  occurredAt: number;
  /** The ESP says this change was made through the API by segsync's own integration. */
  fromSelf?: boolean;
}

/** One item of a webhook delivery that could not be read; the rest of the delivery still applies. */
export interface WebhookItemRejection {
  /** Position of the item in the delivery. */
  index: number;
  message: string;
}

export interface WebhookResult {
  /** Answer the ESP expects (e.g. Mailchimp's validation GET wants 200 with an empty body). */
  reply?: { status: number; body?: string };
  changes: RemoteChange[];
  events: RemoteEvent[];
  /** Items refused one by one (a bad item never fails the delivery, or the vendor would resend it forever). */
  rejected?: WebhookItemRejection[];
}

/** A push as the outbox will send it: its batches in the order it sends them, and its erasures. */
export interface PlannedPush {
  batches: ContactChange[][];
  erasures: ContactRef[];
}

/** What a planned push will cost on one ESP. */
export interface PushEstimate {
  /** HTTP requests, counted as `requestCount()` counts them, when nothing fails and nothing is retried. */
  calls: number;
  /** The least time the vendor's rate limits allow for them, ms. */
  minDurationMs: number;
  /** What the connector could not know and assumed (empty when the count is exact). */
  assumptions: string[];
}

/** The one interface every ESP connector implements. */
export interface Connector {
  readonly esp: EspName;
  readonly limits: EspLimits;
  /** Creates what is missing: custom fields and the tag options or lists tags need. Never deletes. */
  ensureSchema(fields: FieldSpec[], tags: string[]): Promise<SchemaReport>;
  /** Incremental, resumable listing of changed contacts, oldest first. */
  pull(request: PullRequest): AsyncIterable<RemotePage>;
  /** Applies one batch (at most `limits.maxBatch.upsert`); one result per input, in input order. */
  push(batch: ContactChange[]): Promise<ChangeResult[]>;
  /** GDPR/CCPA deletion through the vendor's deletion API (not an archive). */
  erase(contact: ContactRef): Promise<ChangeResult>;
  /**
   * The HTTP requests `push` and `erase` would make for a planned push, without calling anything: the
   * same decisions as the push, from what segsync last saw of the ESP. The schema is taken as
   * `ensureSchema` leaves it (a push ensures it first, and counts those requests apart).
   */
  estimate(plan: PlannedPush): PushEstimate;
  /** Verifies (throws `WebhookError` when it fails) and parses one webhook delivery. */
  webhook(request: RawRequest): WebhookResult;
  /** Engagement events since a cursor, where the vendor offers them. */
  pullEvents?(cursor: Cursor | undefined, until: Date): AsyncIterable<EventPage>;
  /** HTTP requests sent so far, retries included: what push summaries and plans count. */
  requestCount(): number;
  /**
   * Rate-limit answers (429) met and time spent waiting on the vendor's limits since the connector was
   * built, including those its client retried by itself: so summaries can count them truthfully.
   */
  rateStats?(): RateStats;
  /** Releases sockets and timers. */
  close(): Promise<void>;
}

/** What a connector's rate limiter has seen so far. */
export interface RateStats {
  /** 429 answers (each one paused the account and was tried again or handed back). */
  rateLimited: number;
  /** Time calls waited for a free slot or a pause to end, ms. */
  waitedMs: number;
}

/** The logging calls a connector may make (pino's logger satisfies it). Never log secrets or emails. */
export interface ConnectorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What the registry hands every connector besides its own options. */
export interface ConnectorDeps {
  clock: Clock;
  logger: ConnectorLogger;
  /** Where the connector keeps what must outlive its process (connectors/notes.ts); in memory when absent. */
  notes?: ConnectorNotes;
}

/**
 * Facts a connector keeps across restarts and processes, each until it expires: a vendor job segsync
 * stopped waiting for that may still run, a subscription the vendor has not applied yet. The store
 * keeps them (a `segsync push` from cron ends long before such a job; the next process must know of
 * it). Keys and values must not name a person (hash an email first): erasing a contact does not look here.
 */
export interface ConnectorNotes {
  /** The unexpired notes of `kind`, under `keys` (every one of them without `keys`). */
  get(kind: string, keys?: readonly string[]): Map<string, string>;
  /** Notes each entry under `kind` until `expiresAt`, replacing a note under the same key. */
  put(kind: string, entries: readonly (readonly [key: string, value: string])[], expiresAt: number): void;
  /** Drops the notes of `kind` under `keys`. */
  drop(kind: string, keys: readonly string[]): void;
}

/** One request and its answer, as a sandbox saw them (tests check each against the vendor's OpenAPI file). */
export interface SandboxExchange {
  method: string;
  /** Path with the query string. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  requestBody: unknown;
  status: number;
  responseBody: unknown;
}

/** Options every vendor sandbox accepts. */
export interface SandboxOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The sandbox's own clock (rate windows, modification times). */
  clock?: Clock;
  /** Enforce the vendor's rate limits (default true); a partial override tightens or loosens them. */
  rateLimits?: boolean | Record<string, RateWindow>;
  /** Where the sandbox delivers signed webhooks when contacts change, if anywhere. */
  webhookUrl?: string;
  /** Keep the sandbox's data in this file: read at start when it exists, written after changes and on close. */
  stateFile?: string;
}

/** A contact to create in a sandbox, as if imported in the vendor's app. */
export interface SandboxSeed {
  email: string;
  /** Values by the vendor's field names (HubSpot `firstname`, Mailchimp `FNAME`, Klaviyo `first_name`). */
  properties?: Record<string, string>;
  /**
   * Email marketing consent as the vendor records it (HubSpot: every subscription type; Mailchimp: the
   * member's status; Klaviyo: consent, plus the UNSUBSCRIBE suppression). Default: the vendor's default
   * for an import (Mailchimp subscribed; HubSpot and Klaviyo nothing recorded).
   */
  consent?: 'subscribed' | 'unsubscribed';
}

/** An engagement event to record in a sandbox whose vendor keeps them (Klaviyo). */
export interface SandboxEventSeed {
  email: string;
  /** The vendor's metric or event name ("Placed Order", "Opened Email"). */
  name: string;
  /** Epoch ms. */
  time: number;
  properties?: Record<string, FieldValue>;
}

/** One contact as a sandbox holds it, in the same shape for every vendor. */
export interface SandboxContact {
  email: string;
  /** Values by the vendor's field names (Klaviyo's standard attributes and custom properties together). */
  properties: Record<string, unknown>;
  /** The vendor's native tags (Mailchimp); empty where it has none. */
  tags: string[];
  /** Names of the lists the contact is in (HubSpot, Klaviyo). */
  lists: string[];
}

/** A running local emulator of a vendor's API, serving the vendor's real paths over HTTP. */
export interface SandboxServer {
  readonly esp: EspName;
  /** Base URL to give the connector (e.g. http://127.0.0.1:41234). */
  readonly url: string;
  /** What a connector config needs for this sandbox besides `baseUrl` and the credential (Mailchimp's `listId`, HubSpot's `appId`). */
  readonly connectorSettings: Record<string, string>;
  /** Creates contacts directly (no webhooks, no rate limits), as an import in the vendor's app would. */
  seedContacts(contacts: SandboxSeed[]): void;
  /** Every contact the sandbox holds. */
  contacts(): SandboxContact[];
  /** Records past engagement events (creating unknown contacts, sending no webhooks), where the vendor keeps them; absent otherwise. */
  seedEvents?(events: SandboxEventSeed[]): void;
  close(): Promise<void>;
}
