/**
 * The README's "Running against the sandboxes by hand", run word for word: its first shell block
 * starts the three sandboxes (each line a terminal of its own), its second block is run as written in a
 * fourth. It must end with the segments segsync computed pushed to all three sandboxes, non-empty.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { SANDBOX_CREDENTIALS } from '../../connectors/registry';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { SandboxProcess } from '../support/sandbox-process';
import { startSandboxCommand } from '../support/sandbox-process';

const ROOT = resolve(__dirname, '../..');

/** The shell blocks of the README section that starts with `heading`. */
function shellBlocks(readme: string, heading: string): string[] {
  const start = readme.indexOf(heading);
  if (start < 0) throw new Error(`README.md has no section "${heading}"`);
  const end = readme.indexOf('\n### ', start + heading.length);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

async function get(url: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

describe("README's by-hand flow, run literally", () => {
  // Inside the checkout (in its git-ignored .segsync/), where `npx segsync` finds this package.
  mkdirSync(join(ROOT, '.segsync'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.segsync', 'readme-by-hand-'));
  const sandboxes: SandboxProcess[] = [];
  afterAll(async () => {
    await Promise.all(sandboxes.map((s) => s.stop('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  });

  it('seeds the sandboxes, pulls, computes segments and pushes them, non-empty, to all three', async () => {
    const [start, flow] = shellBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'), '### Running against the sandboxes by hand');
    const lines = start!.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(3);
    for (const port of [4101, 4102, 4103]) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });

    sandboxes.push(...(await Promise.all(lines.map((line) => startSandboxCommand(line, dir)))));
    for (const s of sandboxes) expect(s.output()).toMatch(/seeded 100 shoppers/);

    const run = spawnSync('bash', ['-e', '-c', flow!], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' },
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toMatch(/klaviyo: 100 contacts in \d+ pages, \d+ changed locally, [1-9]\d* events/);
    expect(run.stdout).toMatch(/\(dry run: nothing sent\)/);

    // What segsync computed, from the store the flow wrote…
    const store = new SqliteStore({ path: join(dir, 'shop', '.segsync', 'segsync.db') });
    const members = Object.fromEntries(store.counts().segments.map((s) => [s.segment, s.members]));
    store.close();
    for (const segment of ['cart_abandoner', 'vip', 'browse_abandoner'])
      expect({ segment, members: members[segment] }).toEqual({ segment, members: expect.any(Number) });
    expect(members.cart_abandoner).toBeGreaterThan(0);
    expect(members.vip).toBeGreaterThan(0);

    // …is what each sandbox carries, read through the vendor's own API.
    const hubspot = { authorization: `Bearer ${SANDBOX_CREDENTIALS.hubspot}`, 'content-type': 'application/json' };
    const tagged = async (tag: string): Promise<number> => {
      const res = await fetch('http://127.0.0.1:4101/crm/v3/objects/contacts/search', {
        method: 'POST',
        headers: hubspot,
        body: JSON.stringify({ filterGroups: [{ filters: [{ propertyName: 'segsync_tags', operator: 'CONTAINS_TOKEN', value: tag }] }], limit: 1 }),
      });
      return ((await res.json()) as { total: number }).total;
    };
    expect({ cart_abandoner: await tagged('seg:cart-abandoner'), vip: await tagged('seg:vip') }).toEqual({
      cart_abandoner: members.cart_abandoner,
      vip: members.vip,
    });

    const mailchimp = { authorization: `Basic ${Buffer.from(`any:${SANDBOX_CREDENTIALS.mailchimp}`).toString('base64')}` };
    const tags = (await get('http://127.0.0.1:4102/3.0/lists/sandbox0001/segments?count=1000', mailchimp)) as {
      segments: { name: string; member_count: number }[];
    };
    const size = Object.fromEntries(tags.segments.map((s) => [s.name, s.member_count]));
    expect(size).toMatchObject({ 'seg:cart-abandoner': members.cart_abandoner, 'seg:vip': members.vip, 'seg:browse-abandoner': members.browse_abandoner });

    const klaviyo = { authorization: `Klaviyo-API-Key ${SANDBOX_CREDENTIALS.klaviyo}`, revision: '2026-07-15' };
    let flagged = 0;
    for (let url: string | undefined = 'http://127.0.0.1:4103/api/profiles?page[size]=100'; url;) {
      const page = (await get(url, klaviyo)) as { data: { attributes: { properties: Record<string, unknown> } }[]; links: { next?: string } };
      flagged += page.data.filter((p) => p.attributes.properties.cart_abandoner === true).length;
      url = page.links.next;
    }
    expect(flagged).toBe(members.cart_abandoner);
  }, 300_000);
});
