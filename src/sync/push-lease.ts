/**
 * One process at a time sends an ESP's outbox. Two senders (a `segsync push` beside the daemon, two
 * pushes from cron that overlap) each claimed what the other had not answered yet: changes went out
 * twice (against the vendor's daily quota), two rate limiters that knew nothing of each other met
 * 429s, and an older value could land after a newer one, leaving the ESP stale while the store
 * believed it current.
 * The holder of an ESP's lease (a row in the store) sends; it renews the lease while it runs, and a
 * lease is taken over once its holder is gone: at once when it was a process on this host that no
 * longer runs, after STALE_MS without a renewal otherwise (another host, where a pid says nothing).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { StoreFullError, describeError } from '../errors';
import type { Logger } from '../log/logger';
import type { Clock } from '../model/clock';
import type { EspName } from '../model/types';
import { processRuns } from '../store/process-alive';
import type { PushLease, Store } from '../store/store';

/** How often a holder renews its leases. */
const RENEW_MS = 10_000;
/** A lease not renewed for this long is free: far longer than any pause of a holder's event loop. */
export const STALE_MS = 120_000;

/** The holder's side of a lease: who it is, and what it runs. */
export type LeaseHolder = Omit<PushLease, 'esp' | 'renewedAt'>;

/** This process, for every engine it runs (tests run several on one store, one after another). */
const PROCESS_OWNER = `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}`;

/** This process as a holder running `command`. */
export function thisProcess(command: string): LeaseHolder {
  return { owner: PROCESS_OWNER, pid: process.pid, host: hostname(), command };
}

/** Whether `current`'s holder is gone, so that `me` may take its lease at `now`. */
export function holderGone(current: PushLease, me: LeaseHolder, now: number, runs: (pid: number) => boolean = processRuns): boolean {
  if (current.owner === me.owner || now - current.renewedAt > STALE_MS) return true;
  // Our own pid under another owner is an earlier run of it (a restarted container's pid 1).
  return current.host === me.host && (current.pid === me.pid || !runs(current.pid));
}

/** The holder as a person reads it: "the daemon (pid 4242)", "`segsync push` (pid 4243 on host b)". */
export function describeHolder(lease: PushLease): string {
  const who = lease.command === 'daemon' ? 'the daemon' : `\`segsync ${lease.command}\``;
  return `${who} (pid ${lease.pid}${lease.host === hostname() ? '' : ` on host ${lease.host}`})`;
}

/** The process that sends an ESP's queue now, if one holds its lease and is still there. */
export function liveSender(store: Store, esp: EspName, now: number): PushLease | undefined {
  const lease = store.pushLease(esp);
  return lease && !holderGone(lease, thisProcess('status'), now) ? lease : undefined;
}

/** The push leases one engine takes, renewed while held and given up at its close. */
export class PushLeases {
  private readonly held = new Set<EspName>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly me: LeaseHolder,
  ) {}

  /** Takes (or renews) an ESP's lease; returns the holder instead when another process sends for it. */
  take(esp: EspName): PushLease | undefined {
    const now = this.clock.now();
    const other = this.store.takePushLease({ ...this.me, esp, renewedAt: now }, (current) => holderGone(current, this.me, now));
    if (other) {
      this.held.delete(esp);
      return other;
    }
    this.held.add(esp);
    this.timer ??= setInterval(() => this.renew(), RENEW_MS).unref();
    return undefined;
  }

  /** Whether no other process holds the lease: asked in the transaction that claims operations to send. */
  mayClaim(esp: EspName): boolean {
    const current = this.store.pushLease(esp);
    return current === undefined || current.owner === this.me.owner;
  }

  /** Gives up one ESP's lease, or every lease taken. */
  release(esp?: EspName): void {
    for (const held of esp ? [esp] : [...this.held]) {
      if (!this.held.delete(held)) continue;
      try {
        this.store.releasePushLease(held, this.me.owner);
      } catch (err) {
        // A full disk: the row stays; once this process ends, the next one finds its holder gone.
        if (!(err instanceof StoreFullError)) throw err;
      }
    }
    if (this.held.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private renew(): void {
    for (const esp of [...this.held]) {
      let other: PushLease | undefined;
      try {
        other = this.take(esp);
      } catch (err) {
        // A full disk (the daemon says once that it is full), or another process's long write holding the
        // lock past the busy timeout (an import): the next renewal tries again, well within STALE_MS.
        if (err instanceof StoreFullError || ((err as { code?: string }).code?.startsWith('SQLITE_BUSY') ?? false)) continue;
        // The store was closed under the timer (an engine dropped without close): nothing left to renew.
        clearInterval(this.timer);
        this.timer = undefined;
        this.logger.warn({ esp, err: describeError(err) }, `${esp}: the push lease could not be renewed: ${describeError(err)}`);
        return;
      }
      if (other)
        this.logger.warn(
          { esp, holder: other.owner },
          `${esp}: ${describeHolder(other)} took over sending this ESP's queue (this process had not renewed its lease for ${STALE_MS / 1000} s)`,
        );
    }
  }
}
