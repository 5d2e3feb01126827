/**
 * `segsync retry` after the cause is fixed in segsync.yaml: a value HubSpot refused because its
 * property lacked the option goes once the option is added, since retry completes the ESP's schema
 * first as a push does.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { runCli } from '../support/cli';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, startSandboxes } from '../support/sandboxes';

function configFor(s: Sandboxes, options: string[], mapped = true): string {
  return `version: 1
fields:
  plan: { type: enum, options: [${options.join(', ')}] }
  first_name: { type: string }
connectors:
  hubspot:
    accessToken: \${HS_TOKEN}
    baseUrl: ${s.hubspot.url}
    requestsPer10s: 10000
mappings:
  hubspot: [{ local: first_name, remote: firstname }${mapped ? ', { local: plan, remote: segsync_plan }' : ''}]
`;
}

describe('segsync retry', () => {
  let s: Sandboxes;
  let dir: string;
  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-retry-'));
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a refused value again once segsync.yaml names its option, completing the property first; says when nothing failed', async () => {
    const cfg = join(dir, 'segsync.yaml');
    const db = join(dir, 'store.db');
    rmSync(db, { force: true });
    const run = (...args: string[]): ReturnType<typeof runCli> =>
      runCli(['--config', cfg, '--store', db, ...args], { ...process.env, ...SECRETS, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' });
    writeFileSync(cfg, configFor(s, ['free', 'pro']));
    const store = new SqliteStore({ path: db });
    // As a pull from another ESP would store it: pulled values are taken as that ESP holds them.
    store.upsertContacts([
      { email: 'ann@x.com', properties: { plan: 'enterprise' }, source: 'local' },
      { email: 'bo@x.com', properties: { plan: 'pro' }, source: 'local' },
    ]);
    store.close();
    const push = await run('push');
    expect(push.code).toBe(1);
    expect(s.hubspot.contact('bo@x.com')?.properties.segsync_plan).toBe('pro');
    expect(s.hubspot.contact('ann@x.com')?.properties.segsync_plan ?? null).toBeNull();
    const dry = await run('retry', '--dry-run');
    expect(dry.stdout).toMatch(/^hubspot: 1 failed operations\n {2}contact 1 segsync_plan \(1 attempts\): .*enterprise/);

    writeFileSync(cfg, configFor(s, ['free', 'pro', 'enterprise']));
    const retry = await run('retry');
    expect(retry).toMatchObject({
      code: 0,
      stdout: 'hubspot: created nothing; updated segsync_plan\nhubspot: 1 operations retried: 1 contacts updated, 0 failed again\n',
    });
    expect(s.hubspot.contact('ann@x.com')?.properties.segsync_plan).toBe('enterprise');

    const again = await run('retry');
    expect(again).toMatchObject({ code: 0, stdout: 'hubspot: no failed operations\n' });
  }, 60_000);

  it('never writes a failed value of a field segsync.yaml no longer maps: it is dropped, the rest is sent', async () => {
    const cfg = join(dir, 'unmapped.yaml');
    const db = join(dir, 'unmapped.db');
    const run = (...args: string[]): ReturnType<typeof runCli> =>
      runCli(['--config', cfg, '--store', db, ...args], { ...process.env, ...SECRETS, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' });
    writeFileSync(cfg, configFor(s, ['free', 'pro']));
    const store = new SqliteStore({ path: db });
    store.upsertContacts([{ email: 'cy@x.com', properties: { plan: 'platinum', first_name: 'Cy' }, source: 'local' }]);
    store.close();
    expect((await run('push')).code).toBe(1);
    expect(s.hubspot.contact('cy@x.com')?.properties).toMatchObject({ firstname: 'Cy' });

    expect((await run('retry', '--dry-run')).stdout).toMatch(/^hubspot: 1 failed operations\n {2}contact 1 segsync_plan/);
    // plan leaves segsync.yaml, and its property gets the option in HubSpot (someone else uses it now):
    // the old value would land if it were sent.
    writeFileSync(cfg, configFor(s, ['free', 'pro'], false));
    const url = `${s.hubspot.url}/crm/v3/properties/contacts/segsync_plan`;
    const headers = { authorization: `Bearer ${SECRETS.HS_TOKEN}`, 'content-type': 'application/json' };
    const property = (await (await fetch(url, { headers })).json()) as { options: unknown[] };
    const patched = await fetch(url, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({ options: [...property.options, { label: 'platinum', value: 'platinum', hidden: false, displayOrder: 9 }] }),
    });
    expect(patched.status).toBe(200);
    const retry = await run('retry');
    expect(retry).toMatchObject({
      code: 0,
      stdout:
        'hubspot: 1 operations retried (1 no longer needed, dropped: their fields are no longer mapped or already hold what segsync wants): 0 contacts updated, 0 failed again\n',
    });
    expect(s.hubspot.contact('cy@x.com')?.properties.segsync_plan ?? null).toBeNull();
    expect((await run('status', '--json')).stdout).toContain('"outbox": []');
  }, 60_000);
});
