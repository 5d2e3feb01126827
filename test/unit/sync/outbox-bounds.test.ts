import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeResult, ContactChange } from '../../../connectors/connector';
import { parseConfig } from '../../../src/config/load';
import { EspRateLimitError } from '../../../src/errors';
import { createLogger } from '../../../src/log/logger';
import type { Clock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { SyncEngine } from '../../../src/sync/engine';
import { DEFAULT_RETRY } from '../../../src/sync/retry';
import { MemoryEsp } from '../../support/memory-esp';

/** A clock whose sleeps pass at once; it refuses to sleep forever, so a loop fails the test instead of hanging it. */
class JumpingClock implements Clock {
  sleeps = 0;
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    if (++this.sleeps > 500) throw new Error('drainAll is still waiting after 500 sleeps: it loops');
    this.t += Math.max(0, ms);
  }
}

/** A deliberately broken connector: it applies the batch but answers one result too few. */
class TooFewResults extends MemoryEsp {
  override async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    return (await super.push(batch)).slice(0, -1);
  }
}

/** An ESP that rate-limits every call, forever. */
class AlwaysRateLimited extends MemoryEsp {
  override async push(): Promise<ChangeResult[]> {
    this.calls++;
    throw new EspRateLimitError('slow down', { esp: this.esp, retryAfterMs: 3_600_000 });
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

describe('the outbox cannot loop forever', () => {
  let dir: string;
  let store: SqliteStore;
  let clock: JumpingClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-outbox-'));
    clock = new JumpingClock(Date.UTC(2026, 5, 1));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function engineWith(esp: MemoryEsp): SyncEngine {
    const { config } = parseConfig(CONFIG, 'segsync.yaml', { env: { T: 'secret' } });
    return new SyncEngine({ config, store, connectors: new Map([['hubspot', esp]]), clock, logger: createLogger({ level: 'silent' }) });
  }

  function addContacts(n: number): void {
    store.upsertContacts(
      Array.from({ length: n }, (_, i) => ({
        email: `c${i}@x.com`,
        properties: { first_name: `C${i}` },
        tags: [],
        consent: 'subscribed' as const,
        source: 'local',
        time: clock.now(),
      })),
    );
  }

  it('dead-letters the contact a connector returns no result for, after the usual attempts, and drainAll ends', async () => {
    const esp = new TooFewResults('hubspot', clock);
    const engine = engineWith(esp);
    addContacts(3);
    engine.enqueueAll();
    const report = await engine.drainAll('hubspot', { waitUntil: clock.now() + 365 * 86_400_000 });
    const outbox = store.counts().outbox.find((o) => o.esp === 'hubspot');
    expect(outbox).toMatchObject({ pending: 0, dead: 1 });
    const [dead] = store.deadOutbox('hubspot', 10);
    expect(dead).toMatchObject({ attempts: DEFAULT_RETRY.maxAttempts });
    expect(dead!.lastError).toMatch(/returned no result for this contact/);
    // The two contacts it did answer for are done; the third was tried exactly maxAttempts times.
    expect(report.ok).toBe(2);
    expect(esp.calls).toBe(DEFAULT_RETRY.maxAttempts);
  });

  it('dead-letters operations an ESP keeps rate-limiting past maxRateLimitedMs, and drainAll ends', async () => {
    const esp = new AlwaysRateLimited('hubspot', clock);
    const engine = engineWith(esp);
    addContacts(2);
    engine.enqueueAll();
    const queuedAt = clock.now();
    await engine.drainAll('hubspot', { waitUntil: clock.now() + 365 * 86_400_000 });
    expect(store.counts().outbox.find((o) => o.esp === 'hubspot')).toMatchObject({ pending: 0, dead: 2 });
    const dead = store.deadOutbox('hubspot', 10);
    expect(dead).toHaveLength(2);
    // Rate-limit waits are not failed attempts, and they lasted about the bound, not forever.
    expect(dead.map((d) => d.attempts)).toEqual([0, 0]);
    expect(clock.now() - queuedAt).toBeGreaterThanOrEqual(DEFAULT_RETRY.maxRateLimitedMs);
    expect(clock.now() - queuedAt).toBeLessThan(DEFAULT_RETRY.maxRateLimitedMs + DEFAULT_RETRY.capMs + 3_600_000);
  });
});
