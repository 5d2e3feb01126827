/**
 * Vendor jobs segsync stopped waiting for (a Mailchimp batch job past `batchTimeoutMs`, a Klaviyo bulk
 * import past `jobTimeoutMs`) that may still run, and the contacts each one writes. A vendor can run
 * a queued job long after it was sent; had a newer value for one of its contacts gone out meanwhile (a
 * single write, which is not queued), the job's older value would land last while segsync believes
 * the newer one is there. So a later write to such a contact waits until its job has finished. A job
 * is noted as soon as it is sent and forgotten once its answer is read, so a process killed while it
 * waited leaves the note for the next one. Kept
 * in the connector's notes (the store's, when the sync engine made the connector): a `segsync push`
 * that stopped waiting for a job ends long before the job may, and the next process must know of it.
 */
import type { Clock } from '../src/model/clock';
import { EspBusyError, EspPermanentError } from '../src/errors';
import type { ConnectorNotes } from './connector';
import { memoryNotes, noteKeyOfEmail } from './notes';

/** How long a job is waited for at most; past it, the vendor has most likely dropped it. */
export const FORGET_AFTER_MS = 24 * 3_600_000;

/** How soon a contact held for a job is tried again at least: each try asks the vendor about the job once. */
export const RECHECK_MS = 30_000;

/** Where a job stands, as the vendor says: still to run or running, or finished (or cancelled). */
export type JobState = 'running' | 'finished';

/** The notes' kind: one note per job, its id the key, the hashed contact keys it writes the value. */
const KIND = 'unfinished-job';

/** The jobs segsync stopped waiting for, and the contacts (by the connector's own key) each one writes. */
export class UnfinishedJobs {
  private readonly notes: ConnectorNotes;

  constructor(
    private readonly esp: string,
    private readonly clock: Clock,
    notes?: ConnectorNotes,
    private readonly forgetAfterMs = FORGET_AFTER_MS,
  ) {
    this.notes = notes ?? memoryNotes(clock);
  }

  /** Notes a job segsync stopped waiting for, with the contacts it writes (hashed: an email is one). */
  add(jobId: string, keys: Iterable<string>): void {
    this.notes.put(KIND, [[jobId, JSON.stringify([...new Set([...keys].map(noteKeyOfEmail))])]], this.clock.now() + this.forgetAfterMs);
  }

  /** Forgets a job that has finished (its answer was read): nothing of it can land later. */
  forget(jobId: string): void {
    this.notes.drop(KIND, [jobId]);
  }

  /**
   * Of `keys`, the contacts a job that has not finished still writes, each with the error that holds
   * it back. Asks `stateOf` once about each job that writes one of them; a finished job, or one the vendor
   * no longer knows (404), is forgotten, and one noted over `forgetAfterMs` ago has expired. Any other
   * failure to answer counts as running.
   */
  async holding(keys: string[], stateOf: (jobId: string) => Promise<JobState>, retryAfterMs: number): Promise<Map<string, EspBusyError>> {
    const held = new Map<string, EspBusyError>();
    const jobs = this.notes.get(KIND);
    if (!jobs.size) return held;
    const wanted = new Map(keys.map((k) => [noteKeyOfEmail(k), k]));
    for (const [id, text] of jobs) {
      const mine = writtenBy(text)
        .filter((h) => wanted.has(h))
        .map((h) => wanted.get(h)!);
      if (!mine.length) continue;
      if ((await stateOf(id).catch(stateOfFailure)) === 'finished') {
        this.notes.drop(KIND, [id]);
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

/** The hashed contact keys a job's note names (none for a note that cannot be read: it then holds nothing back). */
function writtenBy(text: string): string[] {
  try {
    const keys: unknown = JSON.parse(text);
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}

/** A job the vendor answers 404 for can write nothing more; any other failure leaves it running. */
function stateOfFailure(err: unknown): JobState {
  return err instanceof EspPermanentError && err.status === 404 ? 'finished' : 'running';
}
