import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, startSandboxes } from '../support/sandboxes';

const BIN = resolve(__dirname, '../../bin/segsync.js');
const run = promisify(execFile);

/** Every request each sandbox has served so far. */
function requests(s: Sandboxes): Record<string, number> {
  const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
  return {
    hubspot: sum(s.hubspot.stats().requests),
    mailchimp: sum(s.mailchimp.stats().calls),
    klaviyo: [...s.klaviyo.calls.values()].reduce((a, b) => a + b, 0),
  };
}

describe('segsync push reads each schema once a run, and not at all with nothing to send', () => {
  let s: Sandboxes;
  let dir: string;
  const segsync = (...args: string[]) =>
    run(process.execPath, [BIN, '--config', join(dir, 'segsync.yaml'), '--store', join(dir, 'store.db'), ...args], {
      cwd: dir,
      env: { ...process.env, ...SECRETS, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' },
      timeout: 60_000,
    });

  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-push-reads-'));
    writeFileSync(
      join(dir, 'segsync.yaml'),
      `version: 1
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: "${s.hubspot.url}", requestsPer10s: 10000 }
  mailchimp: { apiKey: "\${MC_KEY}", listId: ${s.mailchimp.listId}, baseUrl: "${s.mailchimp.url}" }
  klaviyo: { apiKey: "\${KL_KEY}", baseUrl: "${s.klaviyo.url}" }
fields:
  first_name: { type: string, conflict: latest }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
`,
    );
    const store = new SqliteStore({ path: join(dir, 'store.db') });
    store.upsertContacts([{ email: 'ann@x.com', properties: { first_name: 'Ann' }, consent: 'subscribed', source: 'local' }]);
    store.close();
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes no call at all to any ESP when a second push has nothing to send', async () => {
    const first = await segsync('push');
    expect(first.stdout).toMatch(/hubspot: 1 contacts updated/);
    expect(s.hubspot.contact('ann@x.com')?.properties.firstname).toBe('Ann');
    const before = requests(s);
    const dry = await segsync('push', '--dry-run');
    expect(dry.stdout.match(/nothing to push/g)).toHaveLength(3);
    const second = await segsync('push');
    expect(second.stdout).toMatch(/hubspot: 0 contacts updated in 0 calls/);
    expect(requests(s)).toEqual(before);
  }, 90_000);
});
