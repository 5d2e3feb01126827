/** A HubSpot account replaced under a store (a sandbox restarted without --state): the error names unlink, and unlink lets the store re-adopt it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubspotSandbox } from '../../../connectors/hubspot/sandbox';
import type { HubspotSandbox } from '../../../connectors/hubspot/sandbox';
import { createConnectors } from '../../../connectors/registry';
import { parseConfig } from '../../../src/config/load';
import { StoreError } from '../../../src/errors';
import { createLogger } from '../../../src/log/logger';
import { systemClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { SyncEngine } from '../../../src/sync/engine';

/** A sync engine on the store for a HubSpot at `url`; returns it with a way to close its connectors. */
function engineFor(store: SqliteStore, url: string): { engine: SyncEngine; close: () => Promise<void> } {
  const text = `version: 1
fields: { first_name: { type: string } }
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: "${url}" }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
`;
  const config = parseConfig(text, 'segsync.yaml', { env: { HS_TOKEN: 'hs-token' } }).config;
  const logger = createLogger({ level: 'silent' });
  const connectors = createConnectors(config, { clock: systemClock, logger });
  const engine = new SyncEngine({ config, store, connectors, clock: systemClock, logger });
  return { engine, close: async () => void (await Promise.all([...connectors.values()].map((c) => c.close()))) };
}

describe('re-adopting a replaced ESP account', () => {
  let dir: string;
  let store: SqliteStore;
  const sandboxes: HubspotSandbox[] = [];
  const closers: (() => Promise<void>)[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-unlink-'));
    store = new SqliteStore({ path: join(dir, 'segsync.db') });
  });
  afterAll(async () => {
    for (const c of closers) await c();
    for (const s of sandboxes) await s.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const sandbox = async (): Promise<HubspotSandbox> => {
    const s = await startHubspotSandbox({ accessToken: 'hs-token', rateLimits: false });
    sandboxes.push(s);
    return s;
  };
  const engine = (url: string): SyncEngine => {
    const { engine: e, close } = engineFor(store, url);
    closers.push(close);
    return e;
  };
  const addContacts = (...emails: string[]): number[] =>
    store
      .upsertContacts(emails.map((email) => ({ email, properties: { first_name: email.split('@')[0]! }, source: 'local' as const, time: Date.now() })))
      .map((o) => o.contactId);
  const failure = (p: Promise<unknown>): Promise<unknown> =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );
  /** Each local contact's HubSpot id, checked against the record the sandbox holds under it. */
  const linksHold = (s: HubspotSandbox): boolean =>
    s.state.allContacts().every((c) => store.findContactByExternalId('hubspot', c.id)?.email === c.properties.get('email'));

  it('refuses the reused ids with a hint naming unlink; after unlinkEsp a pull and a push re-adopt the account, every id right', async () => {
    const first = await sandbox();
    addContacts('ada@example.com', 'bo@example.com');
    const e1 = engine(first.url);
    await e1.ensureSchema('hubspot');
    e1.enqueueAll();
    await e1.drainAll('hubspot');
    expect(first.contactCount()).toBe(2);
    expect(linksHold(first)).toBe(true);

    // The account comes back empty (a sandbox restarted without --state): the next record created gets id 1001 again.
    const second = await sandbox();
    const [cy] = addContacts('cy@example.com');
    const e2 = engine(second.url);
    await e2.ensureSchema('hubspot');
    e2.enqueue([cy!]);
    const refused = await failure(e2.drainAll('hubspot'));
    expect(refused).toBeInstanceOf(StoreError);
    expect((refused as StoreError).message).toMatch(/^hubspot id 1001 already belongs to contact \d+, not \d+/);
    expect((refused as StoreError).hint).toContain('segsync unlink --esp hubspot');

    expect(store.unlinkEsp('hubspot')).toMatchObject({ ids: 2, syncStates: expect.any(Number) });
    expect(store.findContactByExternalId('hubspot', '1001')).toBeUndefined();
    const e3 = engine(second.url);
    await e3.pull('hubspot');
    e3.enqueueAll();
    await e3.drainAll('hubspot');
    expect(second.contactCount()).toBe(3);
    expect(linksHold(second)).toBe(true);
    expect(second.contact('ada@example.com')?.properties.firstname).toBe('ada');
  });
});
