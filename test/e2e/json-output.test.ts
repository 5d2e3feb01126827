/**
 * `--json` on pull and push: one JSON document on stdout that a script can read, with each ESP's outcome,
 * errors as data (code, message, hint) and nothing else on stdout, whatever happened.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { deadUrl, runCli } from '../support/cli';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, startSandboxes } from '../support/sandboxes';

const run = (args: string[]): ReturnType<typeof runCli> => runCli(args, { ...process.env, ...SECRETS, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' });

describe('--json on pull and push', () => {
  let s: Sandboxes;
  let dir: string;
  let cfg: string;
  let db: string;

  function writeConfig(klaviyoUrl: string): void {
    writeFileSync(
      cfg,
      `version: 1
fields:
  plan: { type: string }
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: ${s.hubspot.url}, requestsPer10s: 10000 }
  mailchimp: { apiKey: "\${MC_KEY}", listId: ${s.mailchimp.listId}, baseUrl: ${s.mailchimp.url} }
  klaviyo: { apiKey: "\${KL_KEY}", baseUrl: ${klaviyoUrl}, jobPollIntervalMs: 50 }
mappings:
  hubspot: [{ local: plan, remote: segsync_plan }]
  mailchimp: [{ local: plan, remote: PLAN }]
  klaviyo: [{ local: plan, remote: plan }]
`,
    );
  }

  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-json-'));
    cfg = join(dir, 'segsync.yaml');
    db = join(dir, 'store.db');
    writeConfig(s.klaviyo.url);
    s.hubspot.seed([{ email: 'remote@x.com', properties: { firstname: 'Remote' } }]);
    const store = new SqliteStore({ path: db });
    store.upsertContacts(
      Array.from({ length: 3 }, (_, i) => ({ email: `j${i}@x.com`, properties: { plan: 'free' }, source: 'local' as const, consent: 'subscribed' as const })),
    );
    store.close();
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pull --json prints one document with every ESP', async () => {
    const r = await run(['--config', cfg, '--store', db, 'pull', '--json']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const doc = JSON.parse(r.stdout) as { ok: boolean; esps: Array<{ esp: string; ok: boolean; contacts: number }> };
    expect(doc.ok).toBe(true);
    expect(doc.esps.map((e) => e.esp).sort()).toEqual(['hubspot', 'klaviyo', 'mailchimp']);
    expect(doc.esps.find((e) => e.esp === 'hubspot')).toMatchObject({ ok: true, contacts: 1 });
  }, 60_000);

  it('push --dry-run --json prints the plan, then push --json the outcome with real request counts', async () => {
    const plan = await run(['--config', cfg, '--store', db, 'push', '--dry-run', '--json']);
    expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 0, stderr: '' });
    const planned = JSON.parse(plan.stdout) as { dryRun: boolean; esps: Array<{ esp: string }> };
    expect(planned.dryRun).toBe(true);
    expect(planned.esps.map((e) => e.esp).sort()).toEqual(['hubspot', 'klaviyo', 'mailchimp']);

    const r = await run(['--config', cfg, '--store', db, 'push', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { dryRun: boolean; ok: boolean; esps: Array<{ esp: string; ok: boolean; requests: number; undelivered: number }> };
    expect(doc).toMatchObject({ dryRun: false, ok: true });
    for (const e of doc.esps) {
      expect(e).toMatchObject({ ok: true, undelivered: 0 });
      expect(e.requests).toBeGreaterThan(0);
    }
    for (let i = 0; i < 3; i++) expect(s.mailchimp.member(`j${i}@x.com`)).toBeTruthy();
  }, 60_000);

  it('push --json reports an ESP that is down as data, exits 1, and keeps stdout one document', async () => {
    const store = new SqliteStore({ path: db });
    store.upsertContacts([{ email: 'j0@x.com', properties: { plan: 'gold' }, source: 'local' as const }]);
    store.close();
    writeConfig(await deadUrl());
    try {
      const r = await run(['--config', cfg, '--store', db, 'push', '--json', '--max-wait', '1']);
      expect(r.code).toBe(1);
      const doc = JSON.parse(r.stdout) as {
        ok: boolean;
        esps: Array<{ esp: string; ok: boolean; undelivered: number; error?: { code: string; message: string } }>;
      };
      expect(doc.ok).toBe(false);
      const klaviyo = doc.esps.find((e) => e.esp === 'klaviyo');
      expect(klaviyo).toMatchObject({ ok: false });
      expect(klaviyo!.undelivered).toBeGreaterThan(0);
      expect(doc.esps.filter((e) => e.esp !== 'klaviyo').every((e) => e.ok)).toBe(true);
    } finally {
      writeConfig(s.klaviyo.url);
    }
  }, 60_000);
});
