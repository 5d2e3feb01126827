/** HubSpot's contact.merge webhook, as the inbound side applies it: the merged-away record's contact is unlinked, naming the survivor. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { ManualClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { InboundContext } from '../../../src/sync/inbound';
import { applyRemoteChanges } from '../../../src/sync/inbound';
import { resolveMapping } from '../../../src/sync/mapping';

const T0 = Date.UTC(2026, 5, 1);

describe('a HubSpot merge webhook', () => {
  let dir: string;
  let store: SqliteStore;
  let ctx: InboundContext;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-merge-'));
    store = new SqliteStore({ path: join(dir, 'segsync.db') });
    const config = parseConfig(
      `version: 1
fields: { first_name: { type: string } }
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", onDelete: erase }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
`,
      'segsync.yaml',
      { env: { HS_TOKEN: 't' } },
    ).config;
    ctx = { store, mapping: resolveMapping(config), clock: new ManualClock(T0), logger: createLogger({ level: 'silent' }) };
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('unlinks the contact of the merged-away id with a decision naming the survivor, and never erases it (even with onDelete: erase)', () => {
    const [ann, work] = store
      .upsertContacts([
        { email: 'ann@x.com', properties: {}, source: 'hubspot', time: T0 },
        { email: 'ann.work@x.com', properties: {}, source: 'hubspot', time: T0 },
      ])
      .map((o) => o.contactId);
    store.setExternalId(ann!, 'hubspot', '1001');
    store.setExternalId(work!, 'hubspot', '1002');
    const result = applyRemoteChanges(ctx, 'hubspot', [
      { eventId: 'e1', kind: 'merged', ref: { externalId: '1001' }, fields: {}, previous: { externalIds: ['1001', '1002'] }, occurredAt: T0 + 1000 },
    ]);
    expect(result.erased).toEqual([]);
    expect(store.getContact(work!)).toMatchObject({ email: 'ann.work@x.com', externalIds: {} });
    expect(store.getContact(ann!)!.externalIds.hubspot).toBe('1001');
    expect(store.decisionsFor(work!, '@link')).toEqual([
      expect.objectContaining({
        winner: 'hubspot',
        reason: expect.stringMatching(/^hubspot record merged into record 1001 \(contact \d+, ann@x\.com\): unlinked/),
      }),
    ]);
    expect(store.decisionsFor(ann!, '@link')).toEqual([]);
  });
});
