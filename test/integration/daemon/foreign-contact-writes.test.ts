/**
 * A daemon with no segments configured still pushes what another process (`segsync import contacts`)
 * changes while it runs: with no rules engine to read the noted contact changes, the daemon takes
 * them itself, queues what each contact needs and clears them; its own writes are never noted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../../src/config/load';
import { startDaemon } from '../../../src/daemon/daemon';
import type { RunningDaemon } from '../../../src/daemon/daemon';
import { freeLoopbackPort } from '../../../src/daemon/free-port';
import { createServices } from '../../../src/daemon/wire';
import { createLogger } from '../../../src/log/logger';
import { systemClock } from '../../../src/model/clock';
import { openStore } from '../../../src/store/sqlite/sqlite-store';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { Sandboxes } from '../../support/sandboxes';
import { SECRETS, startSandboxes } from '../../support/sandboxes';
import { eventually } from '../../support/wait';

const TOKEN = 'server-key-for-foreign-writes';

describe('daemon without segments: contacts another process changes', () => {
  let s: Sandboxes;
  let dir: string;
  let db: string;
  let store: SqliteStore;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-foreign-writes-'));
    db = join(dir, 'segsync.db');
    const configFile = join(dir, 'segsync.yaml');
    const port = await freeLoopbackPort();
    writeFileSync(
      configFile,
      `version: 1
store: { path: ${db} }
fields:
  first_name: { type: string }
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: "${s.hubspot.url}" }
  mailchimp: { apiKey: "\${MC_KEY}", listId: ${s.mailchimp.listId}, baseUrl: "${s.mailchimp.url}" }
  klaviyo: { apiKey: "\${KL_KEY}", baseUrl: "${s.klaviyo.url}", jobPollIntervalMs: 50 }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
daemon: { port: ${port}, serverKey: "\${SERVER_KEY}", pullIntervalSeconds: 3600 }
`,
    );
    const loaded = loadConfigFile(configFile, { env: { ...process.env, ...SECRETS, SERVER_KEY: TOKEN } });
    const logger = createLogger({ level: 'silent' });
    store = openStore(db);
    const services = await createServices({ config: loaded.config, loaded, store, clock: systemClock, logger });
    daemon = await startDaemon({ services, logger, clock: systemClock, port, trackToken: TOKEN, pullIntervalMs: 3_600_000, reevaluateIntervalMs: 100 });
  }, 30_000);

  afterAll(async () => {
    await daemon?.stop();
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pushes an imported contact and its later opt-out, and leaves no change noted', async () => {
    const email = 'imported@example.com';
    const other = openStore(db);
    try {
      other.upsertContacts([{ email, properties: { first_name: 'Ola' }, consent: 'subscribed', source: 'local', time: Date.now() }]);
      await eventually(() => {
        expect(s.hubspot.contact(email)?.properties.firstname).toBe('Ola');
        expect(s.mailchimp.member(email)?.merge_fields.FNAME).toBe('Ola');
        expect(s.klaviyo.profileByEmail(email)?.first_name).toBe('Ola');
      });
      other.upsertContacts([{ email, properties: {}, consent: 'unsubscribed', source: 'local', time: Date.now() + 1 }]);
      await eventually(() => {
        expect(s.hubspot.contact(email)?.properties.hs_email_optout).toBe('true');
        expect(s.mailchimp.member(email)?.status).toBe('unsubscribed');
        expect(s.klaviyo.profileByEmail(email)?.marketing.consent).toBe('UNSUBSCRIBED');
      });
      await eventually(() => expect(other.contactChanges()).toEqual([]));
    } finally {
      other.close();
    }
  }, 30_000);

  it("notes none of the daemon's own contact writes (tracked identities are queued where they are made)", async () => {
    const res = await fetch(`${daemon.url}/v1/identify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ email: 'tracked@example.com', traits: { first_name: 'Tia' } }),
    });
    expect(res.status).toBeLessThan(300);
    expect(store.contactChanges()).toEqual([]);
    await eventually(() => expect(s.hubspot.contact('tracked@example.com')?.properties.firstname).toBe('Tia'));
  }, 30_000);
});
