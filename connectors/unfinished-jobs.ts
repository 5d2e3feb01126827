/**
 * Vendor jobs segsync stopped waiting for (a Mailchimp batch job past `batchTimeoutMs`, a Klaviyo bulk
 * import past `jobTimeoutMs`) that may still run, and the contacts each one writes. A vendor can run
 * a queued job long after it was sent; had a newer value for one of its contacts gone out meanwhile (a
 * single write, which is not queued), the job's older value would land last while segsync believes
 * the newer one is there. So a later write to such a contact waits until its job has finished. Kept
 * in memory: a restart forgets them (what a job outliving its timeout and a restart could still
 * overwrite is left to the daemon's reconcile).
 */
import type { Clock } from '../src/model/clock';
import { EspBusyError, EspPermanentError } from '../src/errors';

/** How long a job is waited for at most; past it, the vendor has most likely dropped it. */
export const FORGET_AFTER_MS = 24 * 3_600_000;

/** How soon a contact held for a job is tried again at least: each try asks the vendor about the job once. */
export const RECHECK_MS = 30_000;

/** Where a job stands, as the vendor says: still to run or running, or finished (or cancelled). */
export type JobState = 'running' | 'finished';

/** The jobs segsync stopped waiting for, and the contacts (by the connector's own key) each one writes. */
export class UnfinishedJobs {
  private readonly jobs = new Map<string, { keys: Set<string>; since: number }>();

  constructor(
    private readonly esp: string,
    private readonly clock: Clock,
    private readonly forgetAfterMs = FORGET_AFTER_MS,
  ) {}

  /** Notes a job segsync stopped waiting for, with the contacts it writes. */
  add(jobId: string, keys: Iterable<string>): void {
    this.jobs.set(jobId, { keys: new Set(keys), since: this.clock.now() });
  }

  get size(): number {
    return this.jobs.size;
  }

  /**
   * Of `keys`, the contacts a job that has not finished still writes, each with the error that holds
   * it back. Asks `stateOf` once about each job that writes one of them; a finished job, one the vendor
   * no longer knows (404), or one older than `forgetAfterMs` is forgotten. Any other failure to answer
   * counts as running.
   */
  async holding(keys: string[], stateOf: (jobId: string) => Promise<JobState>, retryAfterMs: number): Promise<Map<string, EspBusyError>> {
    const held = new Map<string, EspBusyError>();
    if (!this.jobs.size) return held;
    const wanted = new Set(keys);
    for (const [id, job] of this.jobs) {
      const mine = [...job.keys].filter((k) => wanted.has(k));
      if (!mine.length) continue;
      if (this.clock.now() - job.since >= this.forgetAfterMs || (await stateOf(id).catch(stateOfFailure)) === 'finished') {
        this.jobs.delete(id);
        continue;
      }
      const error = new EspBusyError(`${this.esp}: job ${id}, which writes this contact, has not finished; segsync writes the newer values after it`, {
        esp: this.esp,
        retryAfterMs,
        hint: 'the vendor queues jobs when it is busy; nothing to do',
      });
      for (const k of mine) held.set(k, error);
    }
    return held;
  }
}

/** A job the vendor answers 404 for can write nothing more; any other failure leaves it running. */
function stateOfFailure(err: unknown): JobState {
  return err instanceof EspPermanentError && err.status === 404 ? 'finished' : 'running';
}
