/**
 * TEST FIXTURE, not the product: a small but real `DaemonServices` for the daemon's own tests (the
 * product's services are src/daemon/wire.ts, built from config, store, rules and sync engine). Intake really writes to a `SqliteStore` (duplicates counted by the store's
 * idempotency ids) and enqueues one outbox operation per touched contact and ESP; drains really
 * complete outbox rows; webhooks are really verified: HubSpot with the connector's v3 signature
 * check, Mailchimp with the connector's URL-secret check and parser, and Klaviyo with a fixture HMAC
 * (hex HMAC-SHA256 of rawBody + Klaviyo-Timestamp, 5-minute window), deduplicated by vendor event id
 * through the store (`markWebhookEvent`).
 * It applies no sync semantics and evaluates no rules.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RawRequest } from '../../connectors/connector';
import { verifyV3 } from '../../connectors/hubspot/webhooks';
import { parseWebhook as parseMailchimp } from '../../connectors/mailchimp/webhooks';
import type { DaemonServices, DrainOutcome, IntakeResult, PullOutcome, ReadyReport, WebhookOutcome } from '../../src/daemon/services';
import type { NextWakeupSource } from '../../src/daemon/scheduler';
import { StoreError, WebhookError } from '../../src/errors';
import type { Clock } from '../../src/model/clock';
import { ESP_NAMES } from '../../src/model/types';
import type { EspName } from '../../src/model/types';
import { storeIdentifies, storeTracks } from '../../src/ingest/identity-graph';
import type { IdentifyItem, TrackItem } from '../../src/ingest/identity-graph';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store';

export interface FixtureSecrets {
  hubspot?: string;
  mailchimp?: string;
  klaviyo?: string;
}

export interface FixtureOptions {
  store: SqliteStore;
  clock: Clock;
  esps?: EspName[];
  secrets?: FixtureSecrets;
  /** Wall-clock milliseconds each track call, and each drain that has something to push, stays in flight (shutdown tests). */
  holdMs?: { track?: number; drain?: number };
  /** Called when a call of that kind starts (lets a child process announce it). */
  onStart?: (kind: 'track' | 'identify' | 'push') => void;
}

/** The fixture's Klaviyo-like signature: hex HMAC-SHA256(secret, rawBody + timestamp). */
export function signKlaviyoFixture(secret: string, rawBody: string | Buffer, timestamp: string): string {
  return createHmac('sha256', secret)
    .update(Buffer.concat([Buffer.from(rawBody), Buffer.from(timestamp)]))
    .digest('hex');
}

const KLAVIYO_MAX_SKEW_MS = 5 * 60_000;

/** A store-backed `DaemonServices` for tests (see the file comment). */
export class FixtureServices implements DaemonServices, NextWakeupSource {
  readonly esps: readonly EspName[];
  /** Every pull/drain/re-evaluation call, for assertions. */
  readonly calls: { pull: EspName[]; drain: EspName[]; reevaluate: number[] } = { pull: [], drain: [], reevaluate: [] };
  /** What `ready()` reports for the connectors. */
  connectorsReachable = true;
  /** What `nextWakeupAt()` answers. */
  nextWakeup: number | undefined;
  closed = false;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly options: FixtureOptions) {
    this.esps = options.esps ?? [...ESP_NAMES];
  }

  get store(): SqliteStore {
    return this.options.store;
  }

  quarantined(): number {
    return this.store.quarantined(0).total;
  }

  anonymousProfiles(): { profiles: number; events: number } {
    return this.store.identities.profileCounts();
  }

  nextWakeupAt(): number | undefined {
    return this.nextWakeup;
  }

  track(items: TrackItem[]): Promise<IntakeResult> {
    return this.tracked('track', async () => {
      await this.hold(this.options.holdMs?.track);
      const last = items[items.length - 1]?.event.name ?? null;
      const outcome = this.store.transaction(() => {
        const stored = storeTracks(this.store, items, this.options.clock.now());
        this.enqueueFor(stored.touched, 'last_event', last);
        return stored;
      });
      return { inserted: outcome.inserted, duplicates: outcome.duplicates, reevaluated: outcome.touched.length, flips: 0, conflicts: outcome.conflicts };
    });
  }

  identify(items: IdentifyItem[]): Promise<IntakeResult> {
    return this.tracked('identify', async () => {
      const outcome = this.store.transaction(() => storeIdentifies(this.store, items, this.options.clock.now()));
      const changed = [...new Set([...outcome.contacts, ...outcome.eventsArrived, ...outcome.regathered])];
      for (const id of changed) this.enqueueFor([id], 'traits', 'identify');
      return { inserted: changed.length, duplicates: 0, reevaluated: changed.length, flips: 0, conflicts: outcome.refused };
    });
  }

  webhook(esp: EspName, request: RawRequest): Promise<WebhookOutcome> {
    return this.tracked(undefined, async () => {
      const secrets = this.options.secrets ?? {};
      // Vendor event ids, deduplicated through the store (as the real services do), so a replay is
      // recognised across restarts too.
      let ids: string[];
      if (esp === 'hubspot') {
        verifyV3(request, secrets.hubspot, this.options.clock.now());
        ids = (parseJson(request.rawBody) as { eventId: number | string }[]).map((e) => String(e.eventId));
      } else if (esp === 'mailchimp') {
        const parsed = parseMailchimp(request, secrets.mailchimp, (merges) =>
          Object.fromEntries(Object.entries(merges).map(([k, v]) => [k.toLowerCase(), String(v)])),
        );
        if (parsed.reply && !parsed.changes.length)
          return { status: parsed.reply.status, body: parsed.reply.body ?? '', changes: 0, events: 0, ignored: 0, rejected: 0 };
        ids = parsed.changes.map((c) => c.eventId);
      } else {
        ids = verifyKlaviyoFixture(request, secrets.klaviyo, this.options.clock.now());
      }
      const fresh = ids.filter((id) => this.store.markWebhookEvent(esp, id, request.receivedAt));
      return {
        status: 200,
        changes: esp === 'klaviyo' ? 0 : fresh.length,
        events: esp === 'klaviyo' ? fresh.length : 0,
        ignored: ids.length - fresh.length,
        rejected: 0,
      };
    });
  }

  pull(esp: EspName): Promise<PullOutcome> {
    return this.tracked(undefined, async () => {
      this.calls.pull.push(esp);
      return { esp, pages: 1, contacts: 0, changed: 0, newestModifiedAt: undefined };
    });
  }

  reevaluateDue(now: number): Promise<{ flips: number; queued: number; more: boolean }> {
    return this.tracked(undefined, async () => {
      this.calls.reevaluate.push(now);
      return { flips: 0, queued: 0, more: false };
    });
  }

  drainOutbox(esp: EspName): Promise<DrainOutcome> {
    return this.tracked(undefined, async () => {
      this.calls.drain.push(esp);
      const due = this.store.dueOutbox(esp, this.options.clock.now(), 500);
      if (due.length) {
        this.options.onStart?.('push');
        await this.hold(this.options.holdMs?.drain);
      }
      this.store.completeOutbox(due.map((d) => ({ id: d.id, version: d.version })));
      return { esp, calls: due.length ? 1 : 0, ok: due.length, retried: 0, failed: 0, rateLimited: 0 };
    });
  }

  outboxDepth(): { esp: EspName; pending: number; dead: number }[] {
    const counts = this.store.counts().outbox;
    return this.esps.map((esp) => counts.find((c) => c.esp === esp) ?? { esp, pending: 0, dead: 0 });
  }

  async ready(): Promise<ReadyReport> {
    let store: { ok: boolean; detail?: string };
    try {
      this.store.db.prepare('SELECT 1').get();
      store = { ok: true };
    } catch (err) {
      store = { ok: false, detail: (err as Error).message };
    }
    const connectors = this.connectorsReachable ? { ok: true } : { ok: false, detail: 'fixture: connectors marked unreachable' };
    return { ok: store.ok && connectors.ok, checks: { store, connectors } };
  }

  async close(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    this.closed = true;
    this.store.close();
  }

  private enqueueFor(contactIds: number[], key: string, value: string | null): void {
    const now = this.options.clock.now();
    this.store.enqueue(
      contactIds.flatMap((contactId) => this.esps.map((esp) => ({ esp, contactId, key, op: 'set' as const, value }))),
      now,
    );
  }

  private async hold(ms: number | undefined): Promise<void> {
    if (ms) await sleep(ms);
  }

  private tracked<T>(kind: Parameters<NonNullable<FixtureOptions['onStart']>>[0] | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('fixture services are closed'));
    if (kind) this.options.onStart?.(kind);
    const p = fn();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }
}

function verifyKlaviyoFixture(request: RawRequest, secret: string | undefined, now: number): string[] {
  if (!secret) throw new WebhookError('klaviyo: no webhook secret configured');
  const signature = request.headers['klaviyo-signature'];
  const timestamp = request.headers['klaviyo-timestamp'];
  if (!signature || !timestamp) throw new WebhookError('klaviyo: webhook without Klaviyo-Signature / Klaviyo-Timestamp');
  const at = /^\d+$/.test(timestamp) ? Number(timestamp) * 1000 : Date.parse(timestamp);
  if (!Number.isFinite(at) || Math.abs(now - at) > KLAVIYO_MAX_SKEW_MS)
    throw new WebhookError(`klaviyo: webhook timestamp ${timestamp} is more than 5 minutes from now`);
  const expected = Buffer.from(signKlaviyoFixture(secret, request.rawBody, timestamp), 'hex');
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new WebhookError('klaviyo: webhook signature does not match');
  const body = parseJson(request.rawBody) as { data?: { external_id?: string }[] };
  return (body.data ?? []).map((d) => d.external_id ?? createHash('sha256').update(JSON.stringify(d)).digest('hex'));
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new WebhookError('webhook body is not JSON');
  }
}
