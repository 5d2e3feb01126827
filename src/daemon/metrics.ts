/**
 * The daemon's Prometheus metrics, on a registry of its own (never prom-client's global default, so
 * two daemons in one process — tests, benchmarks — do not share or clash).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../model/clock';
import type { EspName } from '../model/types';
import type { DaemonServices, DrainOutcome, IntakeResult, PullOutcome, ReconcileOutcome } from './services';

/** How a webhook delivery ended, as counted. */
export type WebhookResultLabel = 'applied' | 'ignored' | 'rejected' | 'error';

/** Every metric the daemon exports, and the small methods that feed them. */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly eventsIn: Counter<'kind' | 'result'>;
  private readonly flips: Counter<'cause'>;
  private readonly apiCalls: Counter<'esp' | 'op'>;
  private readonly rateLimited: Counter<'esp'>;
  private readonly pulls: Counter<'esp' | 'result'>;
  private readonly webhooks: Counter<'esp' | 'result'>;
  private readonly jobErrors: Counter<'job'>;
  private readonly webhookItemsRejected: Counter<'esp'>;
  private readonly driftFound: Counter<'esp'>;
  private readonly driftRepaired: Counter<'esp'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Start time of each ESP's last successful pull: everything changed before it has been seen. */
  private readonly lastPullStart = new Map<EspName, number>();
  private readonly newestChange = new Map<EspName, number>();

  constructor(services: Pick<DaemonServices, 'outboxDepth' | 'quarantined' | 'anonymousProfiles' | 'esps' | 'pushStopped'>, clock: Clock) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'segsync_' });
    this.eventsIn = new Counter({
      name: 'segsync_events_in_total',
      help: 'Events and contact updates received on the track API, by kind (track, identify; batch for refused batch items) and result (inserted, duplicate, rejected)',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.flips = new Counter({
      name: 'segsync_segment_flips_total',
      help: 'Segment answers that changed, by cause (intake: new events or traits; clock: time-based re-evaluation)',
      labelNames: ['cause'],
      registers,
    });
    this.apiCalls = new Counter({
      name: 'segsync_esp_api_calls_total',
      help: 'Vendor API calls, by ESP and operation (push, pull)',
      labelNames: ['esp', 'op'],
      registers,
    });
    this.rateLimited = new Counter({ name: 'segsync_esp_rate_limited_total', help: '429 answers from each ESP', labelNames: ['esp'], registers });
    this.pulls = new Counter({
      name: 'segsync_pulls_total',
      help: 'Incremental pulls, by ESP and result (ok, error)',
      labelNames: ['esp', 'result'],
      registers,
    });
    this.webhooks = new Counter({
      name: 'segsync_webhook_deliveries_total',
      help: 'Webhook deliveries, by ESP and result (applied, ignored: duplicate, echo or nothing to apply, rejected: failed verification, error)',
      labelNames: ['esp', 'result'],
      registers,
    });
    this.webhookItemsRejected = new Counter({
      name: 'segsync_webhook_items_rejected_total',
      help: 'Items of webhook deliveries refused one by one (unreadable, over the limits); the rest of each delivery was applied',
      labelNames: ['esp'],
      registers,
    });
    new Gauge({
      name: 'segsync_quarantined_rows',
      help: 'Stored rows set aside because they could not be read back (see `segsync status`)',
      registers,
      collect() {
        this.set(services.quarantined());
      },
    });
    new Gauge({
      name: 'segsync_anonymous_profiles',
      help: 'Anonymous visitors kept locally until they identify (never pushed; pruned after daemon.anonymousRetentionDays), by what is counted (profiles, events)',
      labelNames: ['kind'],
      registers,
      collect() {
        const { profiles, events } = services.anonymousProfiles();
        this.set({ kind: 'profiles' }, profiles);
        this.set({ kind: 'events' }, events);
      },
    });
    this.jobErrors = new Counter({ name: 'segsync_job_errors_total', help: 'Failed scheduler runs, by job', labelNames: ['job'], registers });
    this.driftFound = new Counter({
      name: 'segsync_reconcile_drift_found_total',
      help: 'Contacts whose segsync-owned fields or tags on an ESP differed from what segsync believed, found by reconcile',
      labelNames: ['esp'],
      registers,
    });
    this.driftRepaired = new Counter({
      name: 'segsync_reconcile_repairs_queued_total',
      help: 'Repair operations reconcile queued, by ESP',
      labelNames: ['esp'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'segsync_http_request_duration_seconds',
      help: 'HTTP request duration, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    new Gauge({
      name: 'segsync_outbox_depth',
      help: 'Outbox operations per ESP, by state (pending, dead: dead-lettered)',
      labelNames: ['esp', 'state'],
      registers,
      collect() {
        this.reset();
        for (const d of services.outboxDepth()) {
          this.set({ esp: d.esp, state: 'pending' }, d.pending);
          this.set({ esp: d.esp, state: 'dead' }, d.dead);
        }
      },
    });
    new Gauge({
      name: 'segsync_push_stopped',
      help: "1 while the safety valve holds an ESP's queue (see `segsync status`), else 0",
      labelNames: ['esp'],
      registers,
      collect() {
        this.reset();
        for (const esp of services.esps) this.set({ esp }, services.pushStopped?.(esp) ? 1 : 0);
      },
    });
    const lastPullStart = this.lastPullStart;
    new Gauge({
      name: 'segsync_pull_lag_seconds',
      help: 'Seconds since the start of the last successful incremental pull per ESP: how far behind the ESP the local picture can be',
      labelNames: ['esp'],
      registers,
      collect() {
        this.reset();
        for (const [esp, at] of lastPullStart) this.set({ esp }, Math.max(0, (clock.now() - at) / 1000));
      },
    });
    const newestChange = this.newestChange;
    new Gauge({
      name: 'segsync_pull_newest_change_timestamp_seconds',
      help: 'Newest ESP modification time seen by a pull, per ESP (unix seconds)',
      labelNames: ['esp'],
      registers,
      collect() {
        this.reset();
        for (const [esp, at] of newestChange) this.set({ esp }, at / 1000);
      },
    });
  }

  /** Counts one track or identify call's outcome. */
  intake(kind: 'track' | 'identify', result: IntakeResult): void {
    if (result.inserted) this.eventsIn.inc({ kind, result: 'inserted' }, result.inserted);
    if (result.duplicates) this.eventsIn.inc({ kind, result: 'duplicate' }, result.duplicates);
    if (result.flips) this.flips.inc({ cause: 'intake' }, result.flips);
  }

  /** Counts records refused before they reached the services, by the endpoint that refused them. */
  rejected(kind: 'track' | 'identify' | 'batch', count: number): void {
    if (count) this.eventsIn.inc({ kind, result: 'rejected' }, count);
  }

  /** Counts webhook items refused within a delivery that was otherwise applied. */
  webhookItemsRefused(esp: EspName, count: number): void {
    if (count) this.webhookItemsRejected.inc({ esp }, count);
  }

  /** Counts flips found by time-based re-evaluation. */
  clockFlips(count: number): void {
    if (count) this.flips.inc({ cause: 'clock' }, count);
  }

  /** Counts one outbox drain's calls and 429s. */
  drained(outcome: DrainOutcome): void {
    if (outcome.calls) this.apiCalls.inc({ esp: outcome.esp, op: 'push' }, outcome.calls);
    if (outcome.rateLimited) this.rateLimited.inc({ esp: outcome.esp }, outcome.rateLimited);
  }

  /** Records a successful pull that started at `startedAt`. */
  pulled(outcome: PullOutcome, startedAt: number): void {
    this.pulls.inc({ esp: outcome.esp, result: 'ok' });
    if (outcome.pages) this.apiCalls.inc({ esp: outcome.esp, op: 'pull' }, outcome.pages);
    this.lastPullStart.set(outcome.esp, startedAt);
    if (outcome.newestModifiedAt !== undefined) {
      this.newestChange.set(outcome.esp, Math.max(outcome.newestModifiedAt, this.newestChange.get(outcome.esp) ?? 0));
    }
  }

  /** Counts one reconcile's drift found and repairs queued. */
  reconciled(outcome: ReconcileOutcome): void {
    this.driftFound.inc({ esp: outcome.esp }, outcome.drifted);
    this.driftRepaired.inc({ esp: outcome.esp }, outcome.queued);
  }

  /** Counts a failed pull. */
  pullFailed(esp: EspName): void {
    this.pulls.inc({ esp, result: 'error' });
  }

  /** Counts a failed scheduler run. */
  jobFailed(job: string): void {
    this.jobErrors.inc({ job });
  }

  /** Counts one webhook delivery. */
  webhook(esp: EspName, result: WebhookResultLabel): void {
    this.webhooks.inc({ esp, result });
  }
}
