import { Writable } from 'node:stream';
import { DaemonMetrics } from '../../../src/daemon/metrics';
import { Scheduler } from '../../../src/daemon/scheduler';
import type { DaemonServices, DrainOutcome, PullOutcome, ReconcileOutcome } from '../../../src/daemon/services';
import { createLogger, hashEmail } from '../../../src/log/logger';
import { ManualClock } from '../../../src/model/clock';
import type { EspName } from '../../../src/model/types';

/**
 * Services whose pull/drain/re-evaluation calls are recorded with their clock time and can be held
 * open (a promise the test resolves), to observe timing and overlap. Intake and webhooks are not used
 * by the scheduler and throw.
 */
class TimedServices implements DaemonServices {
  readonly esps: EspName[];
  readonly pulls: { esp: EspName; at: number }[] = [];
  readonly drains: { esp: EspName; at: number }[] = [];
  readonly reevaluations: number[] = [];
  inFlightPulls = 0;
  maxInFlightPulls = 0;
  /** When set, pulls wait for it. */
  pullGate: Promise<void> | undefined;
  /** Outbox items per ESP: each drain takes all of them. */
  readonly pending = new Map<EspName, number>();
  pullError: Error | undefined;
  /** When set, every drain is answered 429 and pushes nothing. */
  rateLimited = false;
  nextWakeup: number | undefined;
  /** Whether an ESP's pull reads events; absent: the scheduler assumes it does. */
  readsEvents?: (esp: EspName) => boolean;
  /** The ESPs whose events another process reads now. */
  eventsPulledElsewhere?: () => EspName[];

  constructor(
    private readonly clock: ManualClock,
    esps: EspName[],
  ) {
    this.esps = esps;
  }

  nextWakeupAt(): number | undefined {
    return this.nextWakeup;
  }

  async pull(esp: EspName): Promise<PullOutcome> {
    this.pulls.push({ esp, at: this.clock.now() });
    this.inFlightPulls++;
    this.maxInFlightPulls = Math.max(this.maxInFlightPulls, this.inFlightPulls);
    try {
      if (this.pullGate) await this.pullGate;
      if (this.pullError) throw this.pullError;
      return { esp, pages: 1, contacts: 0, changed: 0, newestModifiedAt: undefined };
    } finally {
      this.inFlightPulls--;
    }
  }

  async drainOutbox(esp: EspName): Promise<DrainOutcome> {
    this.drains.push({ esp, at: this.clock.now() });
    const n = this.pending.get(esp) ?? 0;
    if (this.rateLimited) return { esp, calls: 1, ok: 0, retried: n, failed: 0, rateLimited: 1 };
    this.pending.set(esp, 0);
    return { esp, calls: n ? 1 : 0, ok: n, retried: 0, failed: 0, rateLimited: 0 };
  }

  /** Runs that report more waiting (a backlog), counted down by each run. */
  backlog = 0;

  /** Operations the next re-evaluation says it queued (with no flip: another process's changes). */
  queuedNext = 0;

  async reevaluateDue(now: number): Promise<{ flips: number; queued: number; more: boolean }> {
    this.reevaluations.push(now);
    if (this.backlog > 0) this.backlog--;
    const queued = this.queuedNext;
    this.queuedNext = 0;
    return { flips: 0, queued, more: this.backlog > 0 };
  }

  quarantined(): number {
    return 0;
  }

  anonymousProfiles(): { profiles: number; events: number } {
    return { profiles: 0, events: 0 };
  }

  outboxDepth() {
    return this.esps.map((esp) => ({ esp, pending: this.pending.get(esp) ?? 0, dead: 0 }));
  }

  track(): never {
    throw new Error('not used by the scheduler');
  }
  identify(): never {
    throw new Error('not used by the scheduler');
  }
  webhook(): never {
    throw new Error('not used by the scheduler');
  }
  async ready() {
    return { ok: true, checks: {} };
  }
  async close() {}
}

function setup(esps: EspName[] = ['hubspot']) {
  const clock = new ManualClock(Date.UTC(2026, 4, 1, 12, 0, 0));
  const services = new TimedServices(clock, esps);
  let logs = '';
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _e, done) {
        logs += chunk.toString();
        done();
      },
    }),
  });
  const scheduler = new Scheduler({
    services,
    clock,
    logger,
    metrics: new DaemonMetrics(services, clock),
    pullIntervalMs: 60_000,
    reevaluateIntervalMs: 5_000,
    drainIdleMs: { min: 250, max: 4_000 },
  });
  const t0 = clock.now();
  return { clock, services, scheduler, t0, logs: () => logs };
}

/** Lets promise continuations and setImmediate callbacks run without moving the clock. */
const settle = () => new ManualClock().advance(0);

describe('Scheduler', () => {
  it('pulls each ESP at start and then every pull interval', async () => {
    const { clock, services, scheduler, t0 } = setup(['hubspot', 'klaviyo']);
    scheduler.start();
    await settle();
    await clock.advance(59_999);
    expect(services.pulls.map((p) => [p.esp, p.at - t0])).toEqual([
      ['hubspot', 0],
      ['klaviyo', 0],
    ]);
    await clock.advance(1);
    await clock.advance(120_000);
    expect(services.pulls.filter((p) => p.esp === 'hubspot').map((p) => p.at - t0)).toEqual([0, 60_000, 120_000, 180_000]);
    await scheduler.stop();
  });

  it('never overlaps a pull with itself: a slow pull delays the next one instead of stacking runs', async () => {
    const { clock, services, scheduler, t0 } = setup();
    let release!: () => void;
    services.pullGate = new Promise<void>((r) => (release = r));
    scheduler.start();
    await settle();
    await clock.advance(200_000);
    expect(services.pulls).toHaveLength(1);
    services.pullGate = undefined;
    release();
    await settle();
    // Overdue: the next pull starts right after the slow one ends, once (no burst of missed runs).
    expect(services.pulls.map((p) => p.at - t0)).toEqual([0, 200_000]);
    expect(services.maxInFlightPulls).toBe(1);
    await clock.advance(60_000);
    expect(services.pulls.map((p) => p.at - t0)).toEqual([0, 200_000, 260_000]);
    await scheduler.stop();
  });

  it('logs a repeated failure once (emails hashed), keeps pulling, and logs the recovery', async () => {
    const { clock, services, scheduler, logs } = setup();
    services.pullError = new Error('hubspot is down (last contact: Bob@Example.com)');
    scheduler.start();
    await settle();
    await clock.advance(180_000);
    expect(services.pulls).toHaveLength(4);
    expect(logs().match(/"msg":"job failed"/g)).toHaveLength(1);
    expect(logs()).toContain(`hubspot is down (last contact: ${hashEmail('bob@example.com')})`);
    expect(logs()).not.toMatch(/bob@example\.com/i);
    services.pullError = undefined;
    await clock.advance(60_000);
    expect(logs()).toMatch(/"job":"pull:hubspot","failures":4,"msg":"job recovered"/);
    await scheduler.stop();
  });

  it('backs the outbox worker off while there is nothing to push, and wakes it at once after intake', async () => {
    const { clock, services, scheduler, t0 } = setup();
    scheduler.start();
    await settle();
    await clock.advance(10_000);
    // The first drain waits for the start's pull to end (then 25 ms, the least gap between two drain
    // starts); idle drains follow at +250, +500, +1000, +2000, +4000 (capped), …: far fewer than one per tick.
    expect(services.drains.map((d) => d.at - t0)).toEqual([25, 275, 775, 1_775, 3_775, 7_775]);
    services.pending.set('hubspot', 3);
    scheduler.notifyChange();
    await settle();
    const woken = services.drains.slice(6).map((d) => d.at - t0);
    // Woken without the clock moving, then drains again at once (it did work), then idles from 250 ms.
    expect(woken).toEqual([10_000, 10_000]);
    await clock.advance(250);
    expect(services.drains.at(-1)!.at - t0).toBe(10_250);
    await scheduler.stop();
  });

  it('wakes the outbox worker at once when a re-evaluation queued pushes, though nothing flipped', async () => {
    const { clock, services, scheduler, t0 } = setup();
    scheduler.start();
    await settle();
    await clock.advance(4_999);
    expect(services.drains.map((d) => d.at - t0)).toEqual([25, 275, 775, 1_775, 3_775]);
    services.queuedNext = 4;
    await clock.advance(1);
    // The re-evaluation at 5 s queued another process's changes: a drain follows at once, not at 7.775 s.
    expect(services.drains.map((d) => d.at - t0)).toEqual([25, 275, 775, 1_775, 3_775, 5_000]);
    await scheduler.stop();
  });

  it('backs off, rather than spinning, while every push is rate-limited', async () => {
    const { clock, services, scheduler, t0 } = setup();
    services.pending.set('hubspot', 5);
    services.rateLimited = true;
    scheduler.start();
    await settle();
    await clock.advance(10_000);
    expect(services.drains.map((d) => d.at - t0)).toEqual([25, 275, 775, 1_775, 3_775, 7_775]);
    await scheduler.stop();
  });

  it('coalesces a burst of intake into one drain', async () => {
    const { clock, services, scheduler, t0 } = setup();
    scheduler.start();
    await settle();
    await clock.advance(1_000);
    services.pending.set('hubspot', 1);
    const before = services.drains.length;
    for (let i = 0; i < 5; i++) {
      scheduler.notifyChange();
      await settle();
      await clock.advance(5);
    }
    await clock.advance(100);
    // The first wake-up drains at once (and again, because it found work); the four that follow
    // within 25 ms become one drain, 25 ms after the last start.
    expect(services.drains.slice(before).map((d) => d.at - t0)).toEqual([1_000, 1_000, 1_025]);
    await scheduler.stop();
  });

  it('re-evaluates every few seconds, and exactly at an announced wake-up time', async () => {
    const { clock, services, scheduler, t0 } = setup();
    scheduler.start();
    await settle();
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0]);
    scheduler.wakeAt(t0 + 1_234);
    await clock.advance(1_233);
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0]);
    await clock.advance(1);
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0, 1_234]);
    // Back to the periodic sweep, counted from the last run.
    await clock.advance(5_000);
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0, 1_234, 6_234]);
    await scheduler.stop();
  });

  it('reads the next wake-up time from the services after intake, so a flag flips on the minute', async () => {
    const { clock, services, scheduler, t0 } = setup();
    scheduler.start();
    await settle();
    services.nextWakeup = Date.UTC(2026, 4, 1, 12, 0, 3);
    scheduler.notifyChange();
    await clock.advance(3_000);
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0, 3_000]);
    await scheduler.stop();
  });

  it('does not spin when the services keep announcing a wake-up time that has passed', async () => {
    const { clock, services, scheduler, t0 } = setup();
    scheduler.start();
    await settle();
    services.nextWakeup = t0 + 1_000;
    scheduler.notifyChange();
    await clock.advance(10_000);
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0, 1_000, 6_000]);
    await scheduler.stop();
  });

  it('runs again 150 ms later while a backlog waits (another process waiting for the write lock gets in between), then back to its interval', async () => {
    const { clock, services, scheduler, t0 } = setup();
    services.backlog = 4;
    scheduler.start();
    await settle();
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0]);
    await clock.advance(149);
    expect(services.reevaluations).toHaveLength(1);
    await clock.advance(301);
    // Four runs 150 ms apart (a start after downtime, a large import), the last finding no more.
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0, 150, 300, 450]);
    await clock.advance(4_999);
    expect(services.reevaluations).toHaveLength(4);
    await clock.advance(1);
    expect(services.reevaluations.map((t) => t - t0)).toEqual([0, 150, 300, 450, 5_450]);
    await scheduler.stop();
  });

  it('stops promptly, waiting for a run in progress', async () => {
    const { services, scheduler } = setup();
    let release!: () => void;
    services.pullGate = new Promise<void>((r) => (release = r));
    scheduler.start();
    await settle();
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(services.inFlightPulls).toBe(0);
    const pulls = services.pulls.length;
    await settle();
    expect(services.pulls.length).toBe(pulls);
  });
});

describe('Scheduler: reconcile', () => {
  class ReconcilingServices extends TimedServices {
    readonly reconciles: { esp: EspName; at: number }[] = [];
    constructor(
      private readonly timer: ManualClock,
      esps: EspName[],
    ) {
      super(timer, esps);
    }
    async reconcile(esp: EspName): Promise<ReconcileOutcome> {
      this.reconciles.push({ esp, at: this.timer.now() });
      return { esp, drifted: 2, queued: 3 };
    }
  }

  it("pushes nothing until every ESP's first pull has ended (a failed one counts), nor while a pull that reads events is under way", async () => {
    const { clock, services, scheduler, t0, logs } = setup(['hubspot', 'klaviyo']);
    const reading = new Set<EspName>(['klaviyo']);
    services.readsEvents = (esp: EspName): boolean => reading.has(esp);
    services.pending.set('hubspot', 2);
    let release!: () => void;
    services.pullGate = new Promise<void>((r) => (release = r));
    scheduler.start();
    await settle();
    await clock.advance(30_000);
    // Both first pulls hang (an account's backfill): no drain at all, though hubspot has work queued.
    expect(services.drains).toEqual([]);
    expect(logs()).toMatch(/pushes wait for the first pull of each ESP/);
    services.pullGate = undefined;
    services.pullError = new Error('klaviyo is down');
    release();
    await settle();
    await clock.advance(25);
    expect(services.drains.map((d) => [d.esp, d.at - t0])).toEqual([
      ['hubspot', 30_000],
      ['klaviyo', 30_000],
      ['hubspot', 30_000],
    ]);
    expect(logs()).toMatch(/first pull of every ESP ended: pushing/);
    services.pullError = undefined;
    // The next klaviyo pull (it reads events) hangs: drains wait for it, then run when it ends.
    services.pullGate = new Promise<void>((r) => (release = r));
    await clock.advance(60_000);
    const before = services.drains.length;
    services.pending.set('hubspot', 1);
    scheduler.notifyChange();
    await clock.advance(10_000);
    expect(services.drains.length).toBe(before);
    services.pullGate = undefined;
    release();
    await settle();
    await clock.advance(25);
    expect(services.drains.slice(before).map((d) => d.esp)).toEqual(['hubspot', 'klaviyo', 'hubspot']);
    await scheduler.stop();
  });

  it("pushes nothing while another process (a segsync pull beside the daemon) reads an ESP's events, and looks again after the idle wait", async () => {
    const { clock, services, scheduler, t0 } = setup();
    services.readsEvents = () => false;
    let elsewhere = ['klaviyo' as EspName];
    services.eventsPulledElsewhere = () => elsewhere;
    services.pending.set('hubspot', 2);
    scheduler.start();
    await settle();
    await clock.advance(20_000);
    expect(services.drains).toEqual([]);
    elsewhere = [];
    await clock.advance(100);
    // Looked at again every idle wait (4 s here): the first look after the other pull ended drains.
    expect(services.drains.map((d) => d.at - t0)).toEqual([20_025, 20_025]);
    await scheduler.stop();
  });

  it('reads each ESP back every interval (not at start) and counts drift found and repairs queued', async () => {
    const clock = new ManualClock(Date.UTC(2026, 4, 1, 12, 0, 0));
    const services = new ReconcilingServices(clock, ['hubspot', 'klaviyo']);
    const metrics = new DaemonMetrics(services, clock);
    const scheduler = new Scheduler({
      services,
      clock,
      logger: createLogger({ level: 'silent' }),
      metrics,
      pullIntervalMs: 60_000,
      reconcileIntervalMs: 3_600_000,
    });
    const t0 = clock.now();
    scheduler.start();
    await settle();
    await clock.advance(3_599_999);
    expect(services.reconciles).toEqual([]);
    await clock.advance(1);
    await clock.advance(3_600_000);
    expect(services.reconciles.filter((r) => r.esp === 'hubspot').map((r) => r.at - t0)).toEqual([3_600_000, 7_200_000]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('segsync_reconcile_drift_found_total{esp="klaviyo"} 4');
    expect(text).toContain('segsync_reconcile_repairs_queued_total{esp="hubspot"} 6');
    await scheduler.stop();
  });
});
