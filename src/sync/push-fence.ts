/**
 * Which keys of which contacts a push wrote while a read of the same ESP was under way. A pull or a
 * reconcile reads an ESP over seconds (pages, a tag's member list), and the outbox pushes meanwhile:
 * a value read before a push reached the vendor, applied after the push's answer was recorded, would
 * put back what the ESP no longer holds. For a segment tag nothing ever corrects that belief: the
 * contact's next flip is diffed against it, so a tag segsync believes is there is never sent.
 *
 * A read opens a `Reading` before its first request. A key is held for it while a push that writes
 * it is in flight, or once such a push was answered after the reading opened: the read may predate
 * the push, so the push's own record of the key stands. A key no push touched is read as usual.
 * In-process only: the daemon is where pulls and pushes overlap.
 */
import type { EspName } from '../model/types';

/** What one read of an ESP must leave to the pushes: the keys a push wrote, per contact. */
export interface Reading {
  /** The keys of this contact the read must not take over the pushes' record of them. */
  held(contactId: number): ReadonlySet<string> | undefined;
  /** Ends the read: nothing more is kept for it. */
  close(): void;
}

interface OpenReading {
  esp: EspName;
  answered: Map<number, Set<string>>;
}

/** Tracks the pushes in flight and answered per ESP, for the reads open on it. */
export class PushFence {
  /** Keys of pushes in flight, per ESP and contact, with how many pushes write each. */
  private readonly inFlight = new Map<EspName, Map<number, Map<string, number>>>();
  private readonly readings = new Set<OpenReading>();

  /** A push to `esp` writing these keys of the contact was sent. */
  sent(esp: EspName, contactId: number, keys: Iterable<string>): void {
    let perContact = this.inFlight.get(esp);
    if (!perContact) this.inFlight.set(esp, (perContact = new Map()));
    let counts = perContact.get(contactId);
    if (!counts) perContact.set(contactId, (counts = new Map()));
    for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  /**
   * The push `sent` announced was answered: it is no longer in flight, and the keys its answer wrote to
   * the sync state stay held for every read open now (none when it failed: it stays queued).
   */
  answered(esp: EspName, contactId: number, sentKeys: Iterable<string>, writtenKeys: Iterable<string>): void {
    const counts = this.inFlight.get(esp)?.get(contactId);
    if (counts) {
      for (const key of sentKeys) {
        const n = (counts.get(key) ?? 0) - 1;
        if (n > 0) counts.set(key, n);
        else counts.delete(key);
      }
      if (counts.size === 0) this.inFlight.get(esp)!.delete(contactId);
    }
    const written = [...writtenKeys];
    if (written.length === 0) return;
    for (const r of this.readings) {
      if (r.esp !== esp) continue;
      let held = r.answered.get(contactId);
      if (!held) r.answered.set(contactId, (held = new Set()));
      for (const key of written) held.add(key);
    }
  }

  /** Opens a read of `esp`: call before its first request, close when its last page is applied. */
  open(esp: EspName): Reading {
    const reading: OpenReading = { esp, answered: new Map() };
    this.readings.add(reading);
    return {
      held: (contactId) => {
        const flying = this.inFlight.get(esp)?.get(contactId);
        const done = reading.answered.get(contactId);
        if (!flying) return done;
        if (!done) return new Set(flying.keys());
        return new Set([...done, ...flying.keys()]);
      },
      close: () => {
        this.readings.delete(reading);
      },
    };
  }
}
