/**
 * The daemon's timers: incremental pulls per ESP on an interval, time-based re-evaluation (every few
 * seconds, and exactly at announced wake-up times so flags flip on the minute), and one outbox worker
 * per ESP that drains continuously, backs off when idle and wakes at once when intake adds work.
 * Each job is one sequential loop, so a job never overlaps itself; a failed run is logged once and the
 * loop goes on.
 */
import { describeError } from '../errors';
import type { Logger } from '../log/logger';
import type { Clock } from '../model/clock';
import type { DaemonMetrics } from './metrics';
import { scrubEmails } from './scrub';
import type { DaemonServices } from './services';
import { PictureGate } from './picture-gate';

/**
 * Optional on the services: the earliest time a segment answer can flip by the clock alone (the head
 * of the next-change queue). When present the scheduler re-reads it after every intake and
 * re-evaluation and wakes exactly then.
 */
export interface NextWakeupSource {
  nextWakeupAt(): number | undefined;
}

export interface SchedulerOptions {
  services: DaemonServices & Partial<NextWakeupSource>;
  clock: Clock;
  logger: Logger;
  metrics: DaemonMetrics;
  /** Between the starts of two pulls of one ESP. */
  pullIntervalMs: number;
  /** Between two re-evaluation sweeps when no wake-up time is announced sooner (default 5 s). */
  reevaluateIntervalMs?: number;
  /** Outbox idle back-off: from `min` doubling to `max` while drains find nothing (default 250 ms → 5 s). */
  drainIdleMs?: { min: number; max: number };
  /**
   * Least time between the starts of two drains woken by new work (default 25 ms): a burst of intake
   * becomes one drain with a full batch, not one vendor call per event. A drain that found work runs
   * again at once whatever this says.
   */
  drainCoalesceMs?: number;
  /** Back-off after a failed drain: from `min` doubling to `max` (default 1 s → 60 s). */
  drainErrorMs?: { min: number; max: number };
  /** Between two reconciles of one ESP (the first comes one interval after the start); 0 or absent: never. */
  reconcileIntervalMs?: number;
  /** Between two prunings of expired anonymous profiles (default 1 h). */
  pruneIntervalMs?: number;
}

/**
 * The gap between two re-evaluation runs when more is waiting: longer than the 100 ms between two
 * looks of a writer waiting for the lock in another process, so each gap lets one in.
 */
const BETWEEN_RUNS_MS = 150;

/** How long to wait before the next run, given the run's result or its failure count. */
interface Job {
  name: string;
  /** `nudged`: someone asked for this run (new work), rather than its timer. */
  run(nudged: boolean): Promise<number>;
  afterFailure(failures: number): number;
}

/** Runs the daemon's background jobs until stopped. */
export class Scheduler {
  private readonly loops = new Map<string, Loop>();
  private readonly drainLoops: Loop[] = [];
  private readonly reevaluateLoop: Loop;
  private started = false;
  private readonly gate: PictureGate;

  constructor(private readonly options: SchedulerOptions) {
    const { services, metrics, clock } = options;
    const reevaluateEvery = options.reevaluateIntervalMs ?? 5_000;
    const idle = options.drainIdleMs ?? { min: 250, max: 5_000 };
    const errors = options.drainErrorMs ?? { min: 1_000, max: 60_000 };
    const coalesceMs = options.drainCoalesceMs ?? 25;
    const sleep = sleeperFor(clock);
    const gate = (this.gate = new PictureGate(services.esps));
    const startedAt = clock.now();

    for (const esp of services.esps) {
      const readsEvents = services.readsEvents?.(esp) ?? true;
      this.add(
        new Loop(
          {
            name: `pull:${esp}`,
            run: async () => {
              const pullStartedAt = clock.now();
              gate.pullStarted(readsEvents);
              try {
                const outcome = await services.pull(esp);
                metrics.pulled(outcome, pullStartedAt);
                if (outcome.changed) this.notifyChange();
              } catch (err) {
                metrics.pullFailed(esp);
                throw err;
              } finally {
                const first = gate.awaitingFirstPull.includes(esp);
                if (gate.pullEnded(esp, readsEvents)) this.wakeDrains();
                if (first && gate.awaitingFirstPull.length === 0)
                  options.logger.info({ seconds: Math.round((clock.now() - startedAt) / 1000) }, 'first pull of every ESP ended: pushing');
              }
              return pullStartedAt + options.pullIntervalMs - clock.now();
            },
            afterFailure: () => options.pullIntervalMs,
          },
          options,
          sleep,
        ),
      );
    }

    const reconcileEvery = options.reconcileIntervalMs ?? 0;
    if (reconcileEvery > 0 && services.reconcile) {
      const reconcile = services.reconcile.bind(services);
      for (const esp of services.esps) {
        let first = true;
        this.add(
          new Loop(
            {
              name: `reconcile:${esp}`,
              run: async () => {
                // A start is no reason to read every account back: the first read comes one interval later.
                if (first) {
                  first = false;
                  return reconcileEvery;
                }
                const outcome = await reconcile(esp);
                metrics.reconciled(outcome);
                if (outcome.queued) this.wakeDrains();
                return reconcileEvery;
              },
              afterFailure: () => reconcileEvery,
            },
            options,
            sleep,
          ),
        );
      }
    }

    if (services.pruneAnonymous) {
      const prune = services.pruneAnonymous.bind(services);
      const every = options.pruneIntervalMs ?? 3_600_000;
      // At start too: a daemon that was down for a week owes the pruning it missed.
      this.add(
        new Loop(
          {
            name: 'prune-anonymous',
            run: async () => {
              await prune(clock.now());
              return every;
            },
            afterFailure: () => every,
          },
          options,
          sleep,
        ),
      );
    }

    this.reevaluateLoop = this.add(
      new Loop(
        {
          name: 'reevaluate',
          run: async () => {
            const { flips, queued, more } = await services.reevaluateDue(clock.now());
            metrics.clockFlips(flips);
            if (flips || queued) this.wakeDrains();
            this.readNextWakeup();
            // More was waiting than one run takes (a start after downtime, a large import): the next
            // run starts soon, but not at once. Each run is a write transaction of up to a second or
            // two; another process waiting for the write lock (an import) only looks again every
            // 100 ms (SQLite's busy handler), so runs back to back would keep it out until it gives up.
            return more ? BETWEEN_RUNS_MS : reevaluateEvery;
          },
          afterFailure: () => reevaluateEvery,
        },
        options,
        sleep,
      ),
    );

    for (const esp of services.esps) {
      let idleMs = idle.min;
      const loop = this.add(
        new Loop(
          {
            name: `drain:${esp}`,
            run: async (nudged) => {
              if (nudged) idleMs = idle.min;
              // Until the picture is complete: the gate's opening nudges this loop; another process's
              // pull of events is looked at again after the idle wait.
              if (!gate.open || (services.eventsPulledElsewhere?.().length ?? 0) > 0) return idle.max;
              const outcome = await services.drainOutbox(esp);
              metrics.drained(outcome);
              // Something left the queue: there may be more. Only retries (5xx, 429) is no progress: back off.
              if (outcome.ok + outcome.failed > 0) {
                idleMs = idle.min;
                return 0;
              }
              const wait = idleMs;
              idleMs = Math.min(idle.max, idleMs * 2);
              return wait;
            },
            afterFailure: (failures) => Math.min(errors.max, errors.min * 2 ** (failures - 1)),
          },
          options,
          sleep,
          coalesceMs,
        ),
      );
      this.drainLoops.push(loop);
    }
  }

  private add(loop: Loop): Loop {
    this.loops.set(loop.name, loop);
    return loop;
  }

  /** Starts every job; each runs once at once (catching up after downtime), then on its schedule. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (!this.gate.open)
      this.options.logger.info(
        { esps: this.gate.awaitingFirstPull },
        'pushes wait for the first pull of each ESP: segments are pushed from a complete picture',
      );
    for (const loop of this.loops.values()) loop.start();
  }

  /** Asks for time-based re-evaluation at `time` (epoch ms), unless one is already planned sooner. */
  wakeAt(time: number): void {
    this.reevaluateLoop.wakeAt(time);
  }

  /** Local state changed (intake, webhook, pull): drain the outboxes now and re-read the next wake-up time. */
  notifyChange(): void {
    this.wakeDrains();
    this.readNextWakeup();
  }

  private wakeDrains(): void {
    for (const loop of this.drainLoops) loop.nudge();
  }

  private readNextWakeup(): void {
    const next = this.options.services.nextWakeupAt?.();
    if (next !== undefined) this.wakeAt(next);
  }

  /** Stops starting runs and waits for the runs in progress to finish. */
  async stop(): Promise<void> {
    await Promise.all([...this.loops.values()].map((loop) => loop.stop()));
  }
}

/** A sleep that can be cut short; `cancel` releases its timer. */
type Sleep = (ms: number) => { done: Promise<void>; cancel(): void };

/**
 * `Clock.sleep` cannot be cancelled; a pending 60-second pull timer (or a day-long rules wake-up)
 * would hold the process open after stop, so clocks driven by real time get timers that are
 * cleared. Other clocks (ManualClock) are raced: their abandoned sleepers wake later and do nothing.
 */
function sleeperFor(clock: Clock): Sleep {
  const realMs = clock.realMs?.bind(clock);
  if (realMs) {
    return (ms) => {
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve) => (timer = setTimeout(resolve, realMs(ms))));
      return { done, cancel: () => clearTimeout(timer) };
    };
  }
  return (ms) => ({ done: clock.sleep(ms), cancel: () => undefined });
}

/** One job run again and again, never overlapping itself. */
class Loop {
  readonly name: string;
  private stopped = false;
  private nudged = false;
  private wakeTime: number | undefined;
  /** Clock time the latest run started: a wake-up at or before it was served by that run. */
  private lastStart = Number.NEGATIVE_INFINITY;
  private interrupt: (() => void) | undefined;
  private done: Promise<void> = Promise.resolve();
  private failures = 0;
  private lastFailure: string | undefined;

  constructor(
    private readonly job: Job,
    private readonly deps: Pick<SchedulerOptions, 'clock' | 'logger' | 'metrics'>,
    private readonly sleep: Sleep,
    /** Least time between a run's start and the next run a nudge asks for. */
    private readonly nudgeGapMs = 0,
  ) {
    this.name = job.name;
  }

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.lastStart = this.deps.clock.now();
      if (this.wakeTime !== undefined && this.wakeTime <= this.lastStart) this.wakeTime = undefined;
      const nudged = this.nudged;
      this.nudged = false;
      const wait = await this.runOnce(nudged);
      if (this.stopped) break;
      await this.pause(wait);
      // A job whose promises settle without I/O would otherwise run again in the same macrotask and
      // starve the HTTP server; one setImmediate lets pending I/O in first.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async runOnce(nudged: boolean): Promise<number> {
    try {
      const wait = await this.job.run(nudged);
      if (this.failures > 0) this.deps.logger.info({ job: this.name, failures: this.failures }, 'job recovered');
      this.failures = 0;
      this.lastFailure = undefined;
      return wait;
    } catch (err) {
      this.failures++;
      this.deps.metrics.jobFailed(this.name);
      const message = scrubEmails(describeError(err));
      // Once per distinct failure: a vendor outage must not write the same line every few seconds.
      if (message !== this.lastFailure) this.deps.logger.error({ job: this.name, err: { type: (err as Error)?.name, message } }, 'job failed');
      else this.deps.logger.debug({ job: this.name, failures: this.failures }, 'job failed again');
      this.lastFailure = message;
      return this.job.afterFailure(this.failures);
    }
  }

  /** Waits `ms`, or less when nudged, stopped, or asked to wake sooner meanwhile. */
  private async pause(ms: number): Promise<void> {
    const planned = this.deps.clock.now() + Math.max(0, ms);
    while (!this.stopped) {
      let until = Math.min(planned, this.wakeTime ?? Number.POSITIVE_INFINITY);
      if (this.nudged) until = Math.min(until, this.lastStart + this.nudgeGapMs);
      const left = until - this.deps.clock.now();
      if (left <= 0) return;
      const sleeping = this.sleep(left);
      await new Promise<void>((resolve) => {
        this.interrupt = resolve;
        void sleeping.done.then(resolve);
      });
      sleeping.cancel();
      this.interrupt = undefined;
    }
  }

  /** Run again as soon as the current run (if any) ends. */
  nudge(): void {
    this.nudged = true;
    this.interrupt?.();
  }

  /** Run at `time` unless a run is planned sooner or one started since. */
  wakeAt(time: number): void {
    if (time <= this.lastStart) return;
    if (this.wakeTime !== undefined && this.wakeTime <= time) return;
    this.wakeTime = time;
    this.interrupt?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    await this.done;
  }
}
