/**
 * A segment's property push and a segment tag outside the owned prefix taken out of segsync.yaml:
 * the profiles keep the last value and the tag segsync put there, so `segsync status` and every
 * `segsync push` name them and what to do, until `segsync unlink --esp E --field K` (or `--tag T`)
 * forgets them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { runCli } from '../support/cli';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, startSandboxes } from '../support/sandboxes';

function configFor(s: Sandboxes, pushTier: boolean): string {
  return `version: 1
fields:
  plan: { type: string }
connectors:
  klaviyo:
    apiKey: \${KL_KEY}
    baseUrl: ${s.klaviyo.url}
    jobPollIntervalMs: 50
mappings:
  klaviyo: [{ local: plan, remote: plan }]
segments:
  tier:
    type: value
    rule: 'contact.plan == "pro" ? "gold" : "silver"'
${pushTier ? '    push: [{ esp: klaviyo, as: property, name: tier }]\n' : ''}  pro:
    rule: 'contact.plan == "pro"'
${pushTier ? '    push: [{ esp: klaviyo, name: pro_customer }]\n' : ''}`;
}

describe('a field segsync no longer writes, from the command line', () => {
  let s: Sandboxes;
  let dir: string;
  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-unwritten-cli-'));
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names each field and tag left behind in status and push until unlink --field or --tag forgets it; the profiles keep them', async () => {
    const cfg = join(dir, 'segsync.yaml');
    const db = join(dir, 'store.db');
    const run = (...args: string[]): ReturnType<typeof runCli> =>
      runCli(['--config', cfg, '--store', db, ...args], { ...process.env, ...SECRETS, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' });
    writeFileSync(cfg, configFor(s, true));
    const store = new SqliteStore({ path: db });
    store.upsertContacts([{ email: 'ann@x.com', properties: { plan: 'pro' }, source: 'local' }]);
    store.close();
    expect((await run('segments')).code).toBe(0);
    expect((await run('push')).code).toBe(0);
    const tier = (): unknown => s.klaviyo.profileByEmail('ann@x.com')?.properties['tier'];
    expect(tier()).toBe('gold');
    expect((await run('status')).stdout).not.toContain('no longer written');

    writeFileSync(cfg, configFor(s, false));
    const notice =
      /^ {2}klaviyo: field tier is no longer in segsync\.yaml \(last written \d{4}-\d\d-\d\d \d\d:\d\d UTC\): its records keep the last value segsync wrote, which nothing updates now; clear it on klaviyo if anything there reads it, then `segsync unlink --esp klaviyo --field tier` to stop this notice$/m;
    const status = await run('status');
    expect(status.stdout).toContain('fields no longer written (left on the ESP as segsync last wrote them):');
    expect(status.stdout).toMatch(notice);
    const json = JSON.parse((await run('status', '--json')).stdout) as { noLongerWritten: unknown; tagsLeftBehind: unknown };
    expect(json.noLongerWritten).toEqual([{ esp: 'klaviyo', key: 'tier', lastWrittenAt: expect.any(Number) as number }]);
    const push = await run('push');
    expect(push.code).toBe(0);
    expect(`  ${push.stderr}`).toMatch(notice);
    expect(tier()).toBe('gold');

    // Still mapped, or never written: refused with what segsync does write there.
    const mapped = await run('unlink', '--esp', 'klaviyo', '--field', 'plan');
    expect(mapped.code).toBe(2);
    expect(mapped.stderr).toContain('klaviyo field plan is still in segsync.yaml: segsync writes it');
    const never = await run('unlink', '--esp', 'klaviyo', '--field', 'nope');
    expect(never.code).toBe(2);
    expect(never.stderr).toMatch(/segsync never wrote a field nope on klaviyo\n\s+hint: fields segsync wrote on klaviyo and no longer writes: tier/);

    // The segment tag pro_customer (outside the owned prefix) stays on the profile segsync put it on, named too.
    expect(s.klaviyo.profileByEmail('ann@x.com')?.properties['segsync_tags']).toEqual(['pro_customer']);
    expect(status.stdout).toMatch(
      /^tags no longer owned \(left on the contacts segsync put them on\):\n {2}klaviyo: tag pro_customer is no longer pushed by segsync\.yaml \(1 contact holds it because segsync put it there, last added .* UTC\); segsync leaves it, as it is not in the owned prefix: remove it on klaviyo if nothing there should read it, then `segsync unlink --esp klaviyo --tag pro_customer` to stop this notice$/m,
    );
    expect(push.stderr).toContain('klaviyo: tag pro_customer is no longer pushed by segsync.yaml');
    expect(json).toMatchObject({ tagsLeftBehind: [{ esp: 'klaviyo', tag: 'pro_customer', contacts: 1 }] });
    const ownTag = await run('unlink', '--esp', 'klaviyo', '--tag', 'seg:x');
    expect(ownTag.code).toBe(2);
    expect(ownTag.stderr).toContain("klaviyo tag seg:x is still segsync's: segsync.yaml owns or pushes it");
    const tagForgot = await run('unlink', '--esp', 'klaviyo', '--tag', 'pro_customer');
    expect(tagForgot).toMatchObject({
      code: 0,
      stdout: 'klaviyo: forgot that segsync put tag pro_customer on 1 contact; the tag on klaviyo is as it was (segsync never removes it now).\n',
    });

    const forgot = await run('unlink', '--esp', 'klaviyo', '--field', 'tier');
    expect(forgot).toMatchObject({ code: 0, stdout: "klaviyo: forgot field tier (1 contact's sync state); its values on klaviyo are as they were.\n" });
    expect((await run('status')).stdout).not.toContain('no longer written');
    expect((await run('push')).stderr).not.toContain('no longer');
    expect(tier()).toBe('gold');
    expect(s.klaviyo.profileByEmail('ann@x.com')?.properties['segsync_tags']).toEqual(['pro_customer']);
  }, 60_000);
});
