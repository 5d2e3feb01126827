/**
 * A drain takes several batches' operations at once, and a batch can wait for a free connection while
 * the rules change their minds. What it sends is taken from the outbox when it goes, not when the
 * drain read it: an operation dropped or replaced meanwhile is not sent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeResult, ContactChange } from '../../../connectors/connector';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import type { Clock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { SyncEngine } from '../../../src/sync/engine';
import { MemoryEsp } from '../../support/memory-esp';

/** An ESP whose first push waits for the test to let it answer; every batch it is handed is kept. */
class GatedEsp extends MemoryEsp {
  readonly batches: string[][] = [];
  private release: (() => void) | undefined;
  readonly held = new Promise<void>((resolve) => (this.release = resolve));
  private first = true;
  /** Resolves once the first push is waiting. */
  waiting!: Promise<void>;
  private started!: () => void;
  constructor(clock: Clock) {
    super('hubspot', clock, 1);
    this.waiting = new Promise((resolve) => (this.started = resolve));
  }
  open(): void {
    this.release!();
  }
  override async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    this.batches.push(batch.map((c) => `${c.ref.email} ${JSON.stringify(c.set)}`));
    if (this.first) {
      this.first = false;
      this.started();
      await this.held;
    }
    return super.push(batch);
  }
}

const CONFIG = `version: 1
fields:
  first_name: { type: string }
connectors:
  hubspot: { accessToken: "\${T}" }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
`;

describe('the outbox sends what is queued when a batch goes', () => {
  let dir: string;
  let store: SqliteStore;
  const clock: Clock = { now: () => Date.UTC(2026, 5, 1), sleep: async () => undefined };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-claim-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not send a change the rules dropped while its batch waited for a connection', async () => {
    const esp = new GatedEsp(clock);
    const { config } = parseConfig(CONFIG, 'segsync.yaml', { env: { T: 'secret' } });
    const engine = new SyncEngine({ config, store, connectors: new Map([['hubspot', esp]]), clock, logger: createLogger({ level: 'silent' }) });
    const emails = ['a@x.com', 'b@x.com', 'c@x.com'];
    const ids = store
      .upsertContacts(emails.map((email) => ({ email, properties: { first_name: 'Old' }, consent: 'subscribed' as const, source: 'local', time: clock.now() })))
      .map((c) => c.contactId);
    engine.enqueue(ids);
    esp.open();
    await engine.drainAll('hubspot');
    expect(emails.map((e) => esp.byEmail(e)?.fields.firstname)).toEqual(['Old', 'Old', 'Old']);

    // Three renames; one connection each for two batches of one contact, the third waits.
    const gated = new GatedEsp(clock);
    for (const [id, r] of esp.records) gated.records.set(id, r);
    const engine2 = new SyncEngine({ config, store, connectors: new Map([['hubspot', gated]]), clock, logger: createLogger({ level: 'silent' }) });
    const rename = (id: number, name: string): void => store.setProperty(id, 'first_name', { value: name, updatedAt: clock.now(), source: 'local' });
    for (const id of ids) rename(id, 'New');
    engine2.enqueue(ids);
    const drain = engine2.drain('hubspot');
    await gated.waiting;
    // While c's batch waits, c's name goes back to what HubSpot holds: its queued write is dropped.
    rename(ids[2]!, 'Old');
    engine2.enqueue([ids[2]!]);
    expect(store.pendingOutbox('hubspot', ids[2]!)).toEqual([]);
    gated.open();
    await drain;
    await engine2.drainAll('hubspot');
    expect(emails.map((e) => gated.byEmail(e)?.fields.firstname)).toEqual(['New', 'New', 'Old']);
    expect(gated.batches.flat().some((b) => b.startsWith('c@x.com'))).toBe(false);
  });
});
