/**
 * A gate in front of the shared limiter for HubSpot's rolling ten-second window. The shared limiter
 * counts a call from the moment it starts; HubSpot counts it when it arrives, a varying latency later,
 * so a call sent the instant the oldest one leaves segsync's window can still land inside HubSpot's
 * and get a 429. This gate counts each call from its start until `windowMs` after its answer came
 * back, which is never earlier than HubSpot's count: rolling-window 429s cannot come from our own calls.
 */
import type { Clock } from '../../src/model/clock';
import type { RateWindow } from '../connector';

export class ArrivalWindow {
  /** Completion times inside the window, oldest first. */
  private readonly done: number[] = [];
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  /** Calls allowed per window: the declared limit, lowered when HubSpot reports a smaller one. */
  private limit: number;
  private windowMs: number;

  constructor(
    spec: RateWindow,
    private readonly clock: Clock,
  ) {
    this.limit = spec.limit;
    this.windowMs = spec.windowMs;
  }

  /**
   * Adopts the account's real window when HubSpot reports a slower rate than the declared one
   * (`max` calls per `intervalMs`, the interval defaulting to the current one); true if adopted.
   */
  lowerTo(max: number, intervalMs = this.windowMs): boolean {
    if (!(max > 0) || !(intervalMs > 0) || max / intervalMs >= this.limit / this.windowMs) return false;
    this.limit = max;
    this.windowMs = intervalMs;
    return true;
  }

  /** Waits until one more call fits, then counts it as in flight. */
  async enter(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      if (this.count() < this.limit) {
        this.inFlight++;
        return;
      }
      if (this.done.length > 0) await this.clock.sleep(this.done[0]! + this.windowMs - now);
      else await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /**
   * Calls of ours HubSpot may still count: answered within the window, or in flight. Never fewer than
   * HubSpot's count of our calls, since an answer comes after its arrival.
   */
  count(): number {
    const now = this.clock.now();
    while (this.done.length > 0 && this.done[0]! <= now - this.windowMs) this.done.shift();
    return this.done.length + this.inFlight;
  }

  /** Counts the call as answered now. */
  leave(): void {
    this.inFlight--;
    this.done.push(this.clock.now());
    this.waiters.shift()?.();
  }
}
