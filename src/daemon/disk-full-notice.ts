/**
 * A full disk fails every call that stores something, which would log the same error hundreds of
 * times a second: it is logged once when calls start failing for it, and once when a write goes
 * through again, with how many calls were refused meanwhile.
 */
import type { StoreFullError } from '../errors';
import type { Logger } from '../log/logger';
import type { Clock } from '../model/clock';

/** How long a client is told to wait before sending a refused call again. */
export const FULL_RETRY_AFTER_S = 30;

/** Tracks one episode of a full store disk for the daemon's log. */
export class DiskFullNotice {
  private since: number | undefined;
  private refusedCalls = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** A call was refused because the store's disk is full. */
  refused(err: StoreFullError): void {
    this.refusedCalls++;
    if (this.since !== undefined) return;
    this.since = this.clock.now();
    this.logger.error({ code: err.code, hint: err.hint }, `${err.message}: calls that store anything are answered 503 until there is room`);
  }

  /** A call stored what it carried: the episode, if any, is over. */
  stored(): void {
    if (this.since === undefined) return;
    this.logger.info({ refusedCalls: this.refusedCalls, seconds: Math.round((this.clock.now() - this.since) / 1000) }, 'the store takes writes again');
    this.since = undefined;
    this.refusedCalls = 0;
  }
}
