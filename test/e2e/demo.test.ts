import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../../src/preview/screenshots';

const BIN = resolve(__dirname, '../../bin/segsync.js');

const OUT = resolve(__dirname, '../../test-output/demo');

/** The daemon log's warn and error lines (pino levels 40 and up). */
function daemonWarnings(file: string): string[] {
  if (!existsSync(file)) return [`no ${file}`];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /"level":(4|5|6)\d/.test(l));
}

describe('segsync demo', () => {
  let dir: string;
  let index: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-demo-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the sandboxes, the daemon and the shoppers, ends with every ESP carrying what segsync computed, writes a report, exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--dir', join(dir, 'demo'), '--duration', '4', '--contacts', '80'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    expect(stdout).toContain('80 contacts in the local store');
    expect(stdout).toMatch(/\+ cart_abandoner\s+\S+@example\.com\s+on in HubSpot, Mailchimp, Klaviyo/);
    // The closing table: each pushed segment, segsync's members, then each ESP's count (— where not pushed).
    const table = stdout.slice(stdout.indexOf('Pushed segments'));
    const rows = table
      .split('\n')
      .slice(2)
      .filter((l) => /^ {2}[a-z_]+\s+\d/.test(l))
      .map((l) => l.trim().split(/\s+/));
    expect(rows.map((r) => r[0])).toEqual(expect.arrayContaining(['cart_abandoner', 'browse_abandoner', 'vip', 'lifecycle_stage', 'rfm']));
    const differing = rows.filter(([, local, ...esps]) => esps.some((n) => n !== '—' && n !== local));
    // On a difference, the failure shows the demo's own account of it (which contacts) and the daemon's warnings.
    if (differing.length) expect({ table, warnings: daemonWarnings(join(dir, 'demo', 'daemon.log')) }).toEqual({ table: 'no segment count differs' });
    expect(table).toContain('0 operations still queued, 0 failed.');

    const report = /Preview report of 25 example templates over their scenarios and demo shoppers \(25 with every branch reached\): (\S+)/.exec(stdout)?.[1];
    expect(report && existsSync(report)).toBe(true);
    index = report!;
    expect(readFileSync(index, 'utf8')).toContain('cart-abandonment');
    // Demo shoppers joined the shipped scenarios, carrying the cart lines the email reads.
    const cart = readFileSync(join(dir, 'demo', 'templates', 'cart-abandonment', 'scenarios.yaml'), 'utf8');
    expect(cart).toMatch(/- name: demo shopper \S+@example\.com/);
    expect(cart).toMatch(/items:\n\s+- name: [A-Z]/);
  }, 90_000);

  it('writes a report a browser shows with a thumbnail per template and no red row', async () => {
    expect(index).toBeDefined();
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 2400 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      await page.goto(pathToFileURL(index).href, { waitUntil: 'load' });
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'demo-index.png'), fullPage: true });
      const rows = page.locator('#templates tbody tr');
      expect(await rows.count()).toBe(25);
      // A red cell is a template with an unreached branch, a warning or a failure.
      const red = await page.locator('#templates tbody tr:has(td.bad) td:nth-child(2)').allTextContents();
      expect(red).toEqual([]);
      const drawn = await page
        .locator('#templates td.thumb img')
        .evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));
      expect(drawn).toHaveLength(25);
      expect(drawn.every((w) => w > 0)).toBe(true);
      // One of the reports, opened from the index: the demo shopper's cart email names a product.
      await page.locator('#templates a', { hasText: 'cart-abandonment/cart-abandonment.liquid' }).first().click();
      await page.waitForLoadState('load');
      const shopper = page.locator('section.scenario', { hasText: 'demo shopper' }).first();
      await expect(shopper.locator('pre.text').first().textContent()).resolves.toMatch(
        /You left these in your cart:[\s\S]*(Shoe|Boot|Jacket|Pack|Bag|Weekender|Shirt|Sneaker|Slip-on)/,
      );
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
