/**
 * Batch jobs segsync stopped waiting for (batch-patch.ts gives up after `batchTimeoutMs`) that may
 * still run at Mailchimp, and the members each one writes. Mailchimp can run a queued job long after
 * it was sent; had a newer value for one of its members gone out meanwhile (a single PATCH, which is
 * not queued), the job's older value would land last, while segsync believes the newer one is there.
 * So a later write to such a member waits until its job has finished. Kept in memory: a restart
 * forgets them (a job outliving both its timeout and a restart is left to reconcile).
 */
import type { Clock } from '../../src/model/clock';
import { EspBusyError, EspPermanentError } from '../../src/errors';
import type { MailchimpClient } from './client';

/** How long a job is waited for at most; past it, Mailchimp has most likely dropped it. */
export const FORGET_AFTER_MS = 24 * 3_600_000;

/** The jobs segsync stopped waiting for, and the members each one writes. */
export class UnfinishedJobs {
  private readonly jobs = new Map<string, { hashes: Set<string>; since: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly forgetAfterMs = FORGET_AFTER_MS,
  ) {}

  /** Notes a job segsync stopped waiting for, with the members (subscriber hashes) it writes. */
  add(jobId: string, hashes: Iterable<string>): void {
    this.jobs.set(jobId, { hashes: new Set(hashes), since: this.clock.now() });
  }

  get size(): number {
    return this.jobs.size;
  }

  /**
   * Of `hashes`, the members a job that has not finished still writes, each with the error that holds
   * it back. Asks Mailchimp once about each job that writes one of them; a finished job, one Mailchimp
   * no longer knows, or one older than `forgetAfterMs` is forgotten.
   */
  async holding(client: Pick<MailchimpClient, 'batchStatus'>, hashes: string[], retryAfterMs: number): Promise<Map<string, EspBusyError>> {
    const held = new Map<string, EspBusyError>();
    if (!this.jobs.size) return held;
    const wanted = new Set(hashes);
    for (const [id, job] of this.jobs) {
      const mine = [...job.hashes].filter((h) => wanted.has(h));
      if (!mine.length) continue;
      if (this.clock.now() - job.since >= this.forgetAfterMs || (await this.finished(client, id))) {
        this.jobs.delete(id);
        continue;
      }
      const error = new EspBusyError(`mailchimp: batch job ${id}, which writes this member, has not finished; segsync writes the newer values after it`, {
        esp: 'mailchimp',
        retryAfterMs,
        hint: 'Mailchimp queues batch jobs when it is busy; nothing to do',
      });
      for (const h of mine) held.set(h, error);
    }
    return held;
  }

  private async finished(client: Pick<MailchimpClient, 'batchStatus'>, id: string): Promise<boolean> {
    try {
      return (await client.batchStatus(id)).status === 'finished';
    } catch (err) {
      // A job Mailchimp no longer knows cannot write anything; any other failure keeps the member waiting.
      if (err instanceof EspPermanentError && err.status === 404) return true;
      return false;
    }
  }
}
