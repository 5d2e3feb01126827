/**
 * `segsync push` tells cron and CI the truth: it exits non-zero whenever anything is left undelivered,
 * whichever ESP is down, and its summary counts the rate limits it met.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EspName } from '../../src/model/types';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { deadUrl, runCli } from '../support/cli';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, startSandboxes } from '../support/sandboxes';

function configFor(s: Sandboxes, urls: Record<EspName, string>): string {
  return `version: 1
fields:
  plan: { type: string }
connectors:
  hubspot:
    accessToken: \${HS_TOKEN}
    baseUrl: ${urls.hubspot}
    requestsPer10s: 10000
  mailchimp:
    apiKey: \${MC_KEY}
    listId: ${s.mailchimp.listId}
    baseUrl: ${urls.mailchimp}
  klaviyo:
    apiKey: \${KL_KEY}
    baseUrl: ${urls.klaviyo}
    jobPollIntervalMs: 50
mappings:
  hubspot: [{ local: plan, remote: segsync_plan }]
  mailchimp: [{ local: plan, remote: PLAN }]
  klaviyo: [{ local: plan, remote: plan }]
`;
}

const run = (args: string[]): ReturnType<typeof runCli> => runCli(args, { ...process.env, ...SECRETS, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' });

describe('segsync push exit codes', () => {
  let s: Sandboxes;
  let dir: string;
  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-push-exit-'));
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function setUp(name: string, down: EspName | undefined, dead: string): { cfg: string; db: string } {
    const urls = { hubspot: s.hubspot.url, mailchimp: s.mailchimp.url, klaviyo: s.klaviyo.url };
    if (down) urls[down] = dead;
    const cfg = join(dir, `${name}.yaml`);
    const db = join(dir, `${name}.db`);
    writeFileSync(cfg, configFor(s, urls));
    const store = new SqliteStore({ path: db });
    store.upsertContacts(
      Array.from({ length: 5 }, (_, i) => ({
        email: `${name}${i}@x.com`,
        properties: { plan: 'free' },
        source: 'local' as const,
        consent: 'subscribed' as const,
      })),
    );
    store.close();
    return { cfg, db };
  }

  it.each<EspName>(['hubspot', 'mailchimp', 'klaviyo'])(
    'exits 1 and names what is left when %s is down, and still pushes the others',
    async (down) => {
      const { cfg, db } = setUp(`down-${down}`, down, await deadUrl());
      const r = await run(['--config', cfg, '--store', db, 'push', '--max-wait', '1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^${down}: `, 'm'));
      expect(r.stderr).toMatch(/stays queued/);
      // The sandboxes are shared by these cases: a fresh store adopts (pulls) what earlier cases left, so
      // the counts vary; what matters is that the ESPs that are up got everything.
      for (const up of (['hubspot', 'mailchimp', 'klaviyo'] as const).filter((e) => e !== down)) {
        expect(r.stdout).toMatch(new RegExp(`^${up}: \\d+ contacts updated in \\d+ calls, 0 failed`, 'm'));
      }
      const held = {
        hubspot: (e: string) => s.hubspot.contact(e),
        mailchimp: (e: string) => s.mailchimp.member(e),
        klaviyo: (e: string) => s.klaviyo.profileByEmail(e),
      };
      for (const up of (['hubspot', 'mailchimp', 'klaviyo'] as const).filter((e) => e !== down)) {
        expect(Array.from({ length: 5 }, (_, i) => held[up](`down-${down}${i}@x.com`)).every(Boolean)).toBe(true);
      }
      const store = new SqliteStore({ path: db });
      const left = store.counts().outbox.find((o) => o.esp === down);
      store.close();
      expect((left?.pending ?? 0) + (left?.dead ?? 0)).toBeGreaterThan(0);
    },
    60_000,
  );

  it('exits 0 when everything arrived, and counts a 429 the client waited out', async () => {
    const { cfg, db } = setUp('limited', undefined, '');
    s.mailchimp.inject({ method: 'POST', path: '/lists/', status: 429, times: 1 });
    const r = await run(['--config', cfg, '--store', db, 'push']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^mailchimp: \d+ contacts updated in \d+ calls, 0 failed, 1 retried \(1 rate-limited/m);
    expect(r.stdout).toMatch(/^hubspot: \d+ contacts updated in \d+ calls, 0 failed, 0 retried \(0 rate-limited/m);
  }, 60_000);
});
