/**
 * Segment answers are pushed from a complete picture. An ESP's pull stores what it reads page by page,
 * and an ESP's engagement events kind by kind (one metric at a time): an answer computed between two
 * pages is transient (the views stored, the cart adds that followed them not yet), and a push of it
 * writes a wrong tag or value that the next pages take back. Seen by hand on a daemon's first start:
 * 27 contacts tagged browse abandoners on another ESP for a few seconds, whose removal then tripped
 * the safety valve and left the wrong tags there. So drains wait until every ESP's first pull of the
 * run has ended (a failed one counts: an ESP that is down must not hold the others back), and while a
 * pull that reads events is under way (short once the account is read: a page or two a minute).
 */
import type { EspName } from '../model/types';

/** Whether the daemon's outboxes may be sent now, from the pulls under way. */
export class PictureGate {
  private readonly firstPulls: Set<EspName>;
  private eventPulls = 0;

  constructor(esps: readonly EspName[]) {
    this.firstPulls = new Set(esps);
  }

  /** A pull of `esp` begins; `readsEvents` when it also reads engagement events. */
  pullStarted(readsEvents: boolean): void {
    if (readsEvents) this.eventPulls++;
  }

  /** A pull of `esp` ended (or failed); true when that opened the gate (drains should run now). */
  pullEnded(esp: EspName, readsEvents: boolean): boolean {
    const wasOpen = this.open;
    if (readsEvents) this.eventPulls--;
    this.firstPulls.delete(esp);
    return !wasOpen && this.open;
  }

  /** Drains may run. */
  get open(): boolean {
    return this.firstPulls.size === 0 && this.eventPulls === 0;
  }

  /** The ESPs whose first pull of this run has not ended yet. */
  get awaitingFirstPull(): EspName[] {
    return [...this.firstPulls];
  }
}
