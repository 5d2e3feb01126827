/**
 * What the daemon's HTTP server and scheduler need from the rest of segsync. The daemon owns HTTP,
 * timing, metrics and shutdown; these services own the work (store writes, rule re-evaluation, sync).
 * `src/daemon/wire.ts` builds them from the config, the store, the rules engine and the sync engine.
 */
import type { RawRequest } from '../../connectors/connector';
import type { IdentifyItem, TrackItem } from '../ingest/identity-graph';
import type { EspName, FieldWarning } from '../model/types';

/** What storing a batch of track/identify calls did. */
export interface IntakeResult {
  /** Events stored (new idempotency ids). */
  inserted: number;
  /** Events whose idempotency id was already stored: dropped. */
  duplicates: number;
  /** Contacts whose segments were re-evaluated because of this batch. */
  reevaluated: number;
  /** Segment answers that changed (flips), for metrics. */
  flips: number;
  /**
   * Positions (in the input) refused: events whose id is stored with other content; identify calls
   * that would merge two contacts without the right to (see IdentifyItem.mayMergeContacts).
   */
  conflicts: number[];
  /** Positions (in the input) stored with a part left out, and why: an identify's consent the store kept its own against. */
  warnings?: (FieldWarning & { index: number })[];
}

/** What one webhook delivery did. */
export interface WebhookOutcome {
  /** The status and body to answer the ESP with (e.g. Mailchimp's validation GET wants 200). */
  status: number;
  body?: string;
  /** Remote contact changes applied. */
  changes: number;
  /** Engagement events stored. */
  events: number;
  /** Deliveries ignored as duplicates (same vendor event id seen before) or echoes of our own writes. */
  ignored: number;
  /** Items of the delivery refused (unreadable, over the limits); the others were applied. */
  rejected: number;
}

export interface PullOutcome {
  esp: EspName;
  pages: number;
  contacts: number;
  /** Contacts whose local state changed. */
  changed: number;
  /** Newest ESP modification time seen, epoch ms (for the pull-lag metric). */
  newestModifiedAt: number | undefined;
}

export interface DrainOutcome {
  esp: EspName;
  /** Vendor API calls made. */
  calls: number;
  /** Contacts the ESP confirmed. */
  ok: number;
  /** Contacts to try again later. */
  retried: number;
  /** Contacts dead-lettered. */
  failed: number;
  /** 429 answers seen. */
  rateLimited: number;
}

export interface ReconcileOutcome {
  esp: EspName;
  /** Contacts whose owned fields or tags on the ESP differed from what segsync believed. */
  drifted: number;
  /** Repair operations queued. */
  queued: number;
}

export interface ReadyReport {
  ok: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** The work behind the daemon's routes and timers. Every method is safe to call concurrently. */
export interface DaemonServices {
  /** ESPs configured and enabled. */
  readonly esps: readonly EspName[];
  /** Stores events on the contact (or anonymous profile) their identifiers name, re-evaluates the touched contacts, enqueues pushes. */
  track(items: TrackItem[]): Promise<IntakeResult>;
  /** Links identifiers, absorbs anonymous profiles, merges traits; re-evaluates, enqueues pushes. */
  identify(items: IdentifyItem[]): Promise<IntakeResult>;
  /** Verifies and applies one webhook delivery; throws `WebhookError` when verification fails. */
  webhook(esp: EspName, request: RawRequest): Promise<WebhookOutcome>;
  /** One incremental pull from an ESP. */
  pull(esp: EspName): Promise<PullOutcome>;
  /** Whether a pull of `esp` also reads engagement events (absent: assumed, so pushes wait for it). */
  readsEvents?(esp: EspName): boolean;
  /** The ESPs whose events another process (a `segsync pull` beside the daemon) is reading now. */
  eventsPulledElsewhere?(): EspName[];
  /**
   * Re-evaluates contacts whose segment answers can flip by `now` (and those another process changed
   * or stored events of), a bounded number a run, and queues what they need on the ESPs: the flips,
   * the operations queued, and whether more is waiting.
   */
  reevaluateDue(now: number): Promise<{ flips: number; queued: number; more: boolean }>;
  /** Pushes what is due in one ESP's outbox (within its rate limits). */
  drainOutbox(esp: EspName): Promise<DrainOutcome>;
  /** Outbox depth per ESP (pending, dead). */
  outboxDepth(): { esp: EspName; pending: number; dead: number }[];
  /** Rows the store set aside as unreadable (the quarantine). */
  quarantined(): number;
  /** Anonymous visitors kept locally (no email yet) and their events. */
  anonymousProfiles(): { profiles: number; events: number };
  /** Store writable (a probe that does not wait), and each ESP's last real call. */
  ready(): Promise<ReadyReport>;
  /** Reads an ESP back and queues repairs for drift in segsync's own fields and tags. */
  reconcile?(esp: EspName): Promise<ReconcileOutcome>;
  /** Deletes anonymous profiles (never identified visitors) past the retention limit; returns how many. */
  pruneAnonymous?(now: number): Promise<number>;
  /** True while the safety valve holds an ESP's queue (a push would strip owned tags or fields). */
  pushStopped?(esp: EspName): boolean;
  /** The daemon is stopping: long reads (pulls, reconciles) end after the page they are applying. */
  stopReads?(): void;
  /** Waits for in-flight calls, then releases connectors and the store. */
  close(): Promise<void>;
}
