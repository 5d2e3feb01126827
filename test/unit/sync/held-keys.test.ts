/**
 * What a pull leaves to the pushes answered while it read (held-keys.ts), on an in-memory ESP whose
 * read waits for the test: the push's record of a key stands over a page that may predate it, but an
 * opt-out the page shows is always taken (segsync never resubscribes anyone, so an opt-out read is no
 * older than a push's answer of `subscribed`; holding it could lose it for good).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeResult, ContactChange, PullRequest, RemotePage } from '../../../connectors/connector';
import { ManualClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { SyncEngine } from '../../../src/sync/engine';
import { MemoryEsp, firstNameEngine } from '../../support/memory-esp';

/** An ESP whose pulls read only when the test opens the gate, and whose answers carry the member's consent. */
class SlowReadEsp extends MemoryEsp {
  gate: Promise<void> = Promise.resolve();
  override async *pull(request: PullRequest): AsyncIterable<RemotePage> {
    await this.gate;
    yield* super.pull(request);
  }
  override async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    const results = await super.push(batch);
    return results.map((r) => (r.status === 'ok' ? { ...r, consent: this.byEmail(r.ref.email)!.consent } : r));
  }
}

describe('a pull under way beside a push to the same contact', () => {
  let dir: string;
  let store: SqliteStore;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  let esp: SlowReadEsp;
  let engine: SyncEngine;
  let id: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-held-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
    esp = new SlowReadEsp('hubspot', clock);
    engine = firstNameEngine(store, clock, esp, 'latest');
    id = store.upsertContacts([{ email: 'ann@x.com', properties: { first_name: 'Ann' }, consent: 'subscribed', source: 'local', time: clock.now() }])[0]!
      .contactId;
    engine.enqueue([id]);
    await engine.drainAll('hubspot');
    await clock.advance(1000);
    await engine.pull('hubspot');
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Starts a pull that reads once `read` is called; a push made before then is answered after the read
   * began. `startedAt` is the pull's start: a record stamped then is inside the pull's window.
   */
  function slowPull(): { startedAt: number; read: () => Promise<unknown> } {
    let open!: () => void;
    esp.gate = new Promise((resolve) => (open = resolve));
    const startedAt = clock.now();
    const pull = engine.pull('hubspot');
    return {
      startedAt,
      read: async () => {
        open();
        return pull;
      },
    };
  }

  async function rename(name: string): Promise<void> {
    await clock.advance(1000);
    store.setProperty(id, 'first_name', { value: name, updatedAt: clock.now(), source: 'local' });
    engine.enqueue([id]);
    await engine.drainAll('hubspot');
  }

  it('leaves a field a push answered for after the read began as the push recorded it', async () => {
    const pull = slowPull();
    await rename('Anna');
    // The page shows the record as it was before the push, as a page read before it would.
    const record = esp.byEmail('ann@x.com')!;
    record.fields.firstname = 'Ann';
    record.modifiedAt = pull.startedAt;
    await pull.read();
    expect(store.getContact(id)!.properties.first_name!.value).toBe('Anna');
    expect(store.getSyncState(id, 'hubspot').find((s) => s.key === 'firstname')!.remoteValue).toBe('Anna');
  });

  it('takes an opt-out the page shows even when a push answered `subscribed` after the read began', async () => {
    const pull = slowPull();
    await rename('Anna');
    await clock.advance(1000);
    // The person unsubscribes on the ESP after the push's answer, and the page shows it. The vendor's
    // clock runs behind: the change is stamped inside this pull's window, so no later pull reads it.
    const record = esp.byEmail('ann@x.com')!;
    record.consent = 'unsubscribed';
    record.modifiedAt = pull.startedAt;
    await pull.read();
    expect(store.getContact(id)!.consent?.status).toBe('unsubscribed');
    expect(store.getSyncState(id, 'hubspot').find((s) => s.key === '@consent')!.remoteValue).toBe('unsubscribed');
  });
});
