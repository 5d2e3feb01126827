/**
 * A webhook naming a record segsync has not linked yet, by id alone (HubSpot's creation and property
 * events; the records a push has just created, before its answer links them): skipped without a
 * warning, since the next pull reads the record whole. A pulled record without a usable email still warns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/load';
import { ManualClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { InboundContext } from '../../../src/sync/inbound';
import { applyRemoteChanges, applyRemoteContacts } from '../../../src/sync/inbound';
import { resolveMapping } from '../../../src/sync/mapping';
import { capturedLogger } from '../../support/captured-log';

const T0 = Date.UTC(2026, 5, 1);

describe('a record known to the ESP by id alone', () => {
  let dir: string;
  let store: SqliteStore;
  let log: ReturnType<typeof capturedLogger>;
  let ctx: InboundContext;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-unlinked-'));
    store = new SqliteStore({ path: join(dir, 'segsync.db') });
    const config = parseConfig(
      `version: 1
fields: { first_name: { type: string } }
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}" }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
`,
      'segsync.yaml',
      { env: { HS_TOKEN: 't' } },
    ).config;
    log = capturedLogger('warn');
    ctx = { store, mapping: resolveMapping(config), clock: new ManualClock(T0), logger: log.logger };
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('skips a webhook of an unlinked record without its email quietly, and warns for a pulled one', () => {
    const events = Array.from({ length: 100 }, (_, i) => ({
      eventId: `e${i}`,
      ref: { externalId: String(1081 + i) },
      kind: (i % 2 ? 'created' : 'updated') as 'created' | 'updated',
      fields: { firstname: 'Ann' },
      occurredAt: T0,
    }));
    expect(applyRemoteChanges(ctx, 'hubspot', events).ignored).toBe(100);
    expect(store.counts().contacts).toBe(0);
    expect(log.text()).toBe('');

    const pulled = applyRemoteContacts({ ...ctx, readSince: T0 }, 'hubspot', [{ externalId: '2001', fields: { firstname: 'Bo' }, modifiedAt: T0 }]);
    expect(pulled.ignored).toBe(1);
    expect(log.text()).toMatch(/ESP record without a usable email and no known id: skipped/);
  });
});
