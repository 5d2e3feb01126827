/**
 * A webhook secret missing or wrong refuses every delivery, and a line per delivery buried the log
 * (seen by hand: 66 lines in the five seconds after a push, the ESP echoing each write). Each reason
 * is logged once with what to do, then at most once per `everyMs` with how many more it refused.
 */
import type { WebhookError } from '../errors';
import type { Logger } from '../log/logger';
import type { Clock } from '../model/clock';
import type { EspName } from '../model/types';
import { scrubEmails } from './scrub';

/** How often a reason that goes on refusing deliveries is logged again, with its count. */
export const REJECTION_LOG_EVERY_MS = 10 * 60_000;

/** Reasons remembered at most: a reason naming a varying value beyond its digits cannot grow the map without bound. */
const MAX_REASONS = 100;

/** Rejected webhook deliveries for the daemon's log, per ESP and reason. */
export class WebhookRejections {
  private readonly reasons = new Map<string, { loggedAt: number; since: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly everyMs = REJECTION_LOG_EVERY_MS,
  ) {}

  /** One delivery was refused with `err`. */
  rejected(esp: EspName, err: WebhookError): void {
    const reason = scrubEmails(err.message);
    // A timestamp or an age in the message must not make each delivery a reason of its own.
    const key = `${esp}\0${reason.replace(/\d+/g, '#')}`;
    const now = this.clock.now();
    const seen = this.reasons.get(key);
    if (!seen) {
      if (this.reasons.size >= MAX_REASONS) this.reasons.clear();
      this.reasons.set(key, { loggedAt: now, since: 0 });
      this.logger.warn(
        { esp, code: err.code, reason, hint: err.hint },
        `webhook rejected (later deliveries refused for this reason are counted in segsync_webhook_deliveries_total{result="rejected"} and logged again every ${Math.round(this.everyMs / 60_000)} min while they go on)`,
      );
      return;
    }
    seen.since++;
    if (now - seen.loggedAt < this.everyMs) return;
    this.logger.warn(
      { esp, code: err.code, reason, hint: err.hint, rejected: seen.since },
      `webhooks rejected: ${seen.since} more for this reason since it was last logged`,
    );
    seen.loggedAt = now;
    seen.since = 0;
  }
}
