/**
 * A webhook of the tag property that arrives late or out of order (HubSpot promises neither order
 * nor promptness) carries the whole tag set as it was when the change happened. Diffed against a
 * newer known set it would remove tags added since and bring back tags removed since.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RemoteChange } from '../../../connectors/connector';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { ManualClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { SyncEngine } from '../../../src/sync/engine';
import { MemoryEsp, memoryWebhook } from '../../support/memory-esp';

const CONFIG = `version: 1
fields: {}
connectors:
  hubspot: { accessToken: "\${T}" }
`;

describe('a late webhook of the tag property', () => {
  let dir: string;
  let store: SqliteStore;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  let esp: MemoryEsp;
  let engine: SyncEngine;
  let id: number;
  let hsId: string;
  /** When the push that put `vip` there was answered (the ESP's clock). */
  let pushedAt: number;
  let next = 1;

  const deliver = (tags: string[], occurredAt: number): void => {
    const change: RemoteChange = { eventId: `e${next++}`, kind: 'updated', ref: { externalId: hsId }, fields: {}, tags, occurredAt };
    engine.webhook('hubspot', memoryWebhook([change], clock.now()));
  };
  const localTags = (): string[] => [...store.getContact(id)!.tags].sort();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-late-tags-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
    esp = new MemoryEsp('hubspot', clock);
    const { config } = parseConfig(CONFIG, 'segsync.yaml', { env: { T: 'secret' } });
    engine = new SyncEngine({ config, store, connectors: new Map([['hubspot', esp]]), clock, logger: createLogger({ level: 'silent' }) });
    id = store.upsertContacts([{ email: 'ann@x.com', properties: {}, tags: ['vip'], consent: 'subscribed', source: 'local', time: clock.now() }])[0]!.contactId;
    engine.enqueue([id]);
    await engine.drainAll('hubspot');
    hsId = store.getContact(id)!.externalIds.hubspot!;
    pushedAt = clock.now();
    expect([...esp.byEmail('ann@x.com')!.tags]).toEqual(['vip']);
    await clock.advance(10_000);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('older than the push that wrote the tags: removes nothing, and brings back the tags of the user the push dropped', async () => {
    // A user added `x` there just before segsync's push, which wrote the whole set from the value it knew.
    deliver(['x'], pushedAt - 500);
    expect(localTags()).toEqual(['vip', 'x']);
    await engine.drainAll('hubspot');
    expect([...esp.byEmail('ann@x.com')!.tags].sort()).toEqual(['vip', 'x']);
  });

  it("older than a push, showing a user's tag removed locally: segsync never took it off there, so nothing changes", async () => {
    store.updateTags(id, ['promo'], [], 'local', clock.now());
    engine.enqueue([id]);
    await engine.drainAll('hubspot');
    await clock.advance(10_000);
    store.updateTags(id, [], ['promo'], 'local', clock.now());
    engine.enqueue([id]);
    await engine.drainAll('hubspot');
    expect([...esp.byEmail('ann@x.com')!.tags].sort()).toEqual(['promo', 'vip']);
    deliver(['promo', 'vip'], clock.now() - 500);
    expect(localTags()).toEqual(['vip']);
  });

  it('older than a change already taken from the ESP: old news, so a tag removed there stays removed', async () => {
    deliver([], clock.now() - 1000);
    expect(localTags()).toEqual([]);
    // The change before it (the user added `y`, then cleared every tag) arrives last.
    deliver(['vip', 'y'], clock.now() - 2000);
    expect(localTags()).toEqual([]);
  });

  it('newer than what segsync knows: taken whole, removals too', () => {
    deliver(['x'], clock.now() - 1000);
    expect(localTags()).toEqual(['x']);
  });
});
