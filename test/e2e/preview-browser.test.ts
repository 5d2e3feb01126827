/**
 * The report in real headless Chromium (Debian's chromium through playwright-core): one browser for
 * every test here. Screenshots go to test-output/ (git-ignored).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { runPreview, writeReport } from '../../src/preview/preview';
import { launchChromium, takeScreenshots } from '../../src/preview/screenshots';

const ROOT = join(__dirname, '..', '..');
const OUT = join(ROOT, 'test-output', 'preview-browser');

describe('the HTML report in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('loads with no console errors and no network requests, and shows every scenario and the matrix', async () => {
    const result = runPreview(join(ROOT, 'templates', 'cart-abandonment', 'cart-abandonment.liquid'));
    const outDir = join(OUT, 'cart-abandonment');
    const shots = await takeScreenshots(result.renders, outDir, { browser });
    const { index } = writeReport(result, outDir, { screenshots: shots });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (!/^(file|data|about):/.test(r.url())) problems.push(`network: ${r.url()}`);
    });
    try {
      await page.goto(pathToFileURL(index).href, { waitUntil: 'load' });
      expect(await page.locator('#matrix table tbody tr').count()).toBe(result.matrix.length);
      expect(await page.locator('#matrix thead th a').allTextContents()).toEqual(result.renders.map((r) => r.scenario.name));
      expect(await page.locator('section.scenario h2').allTextContents()).toEqual(result.renders.map((r) => r.scenario.name));
      expect(await page.locator('iframe[sandbox]').count()).toBe(result.renders.length);
      const firstFrame = page.frameLocator('iframe').first();
      await expect(firstFrame.locator('body').textContent()).resolves.toContain('Hi Ada,');
      expect(await page.locator('pre.text').first().textContent()).toContain('Trail Shoe');
      expect(await page.locator('#summary').textContent()).toMatch(/8\/8\s*branches reached/);
      expect(await page.locator('.shots img').count()).toBe(result.renders.length * 2);
      expect(await page.locator('details.diff').count()).toBe(result.renders.length - 1);
      await page.screenshot({ path: join(OUT, 'report.png'), fullPage: false });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows warnings and unreached branches for a template with gaps', async () => {
    const result = runPreview(join(ROOT, 'test', 'e2e', 'preview-fixtures', 'gaps.klaviyo.html'), { cover: false });
    const outDir = join(OUT, 'gaps');
    const { index } = writeReport(result, outDir);
    // A viewport as tall as the page: Chromium's full-page capture leaves out-of-view iframes blank.
    const context = await browser.newContext({ viewport: { width: 1280, height: 2300 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    try {
      await page.goto(pathToFileURL(index).href);
      const kinds = await page.locator('#warnings td.warn-kind').allTextContents();
      expect(kinds).toEqual(expect.arrayContaining(['unreached-branch', 'no-fallback', 'greeting-gap']));
      expect(await page.locator('#matrix li.unreached').count()).toBeGreaterThan(0);
      await page.screenshot({ path: join(OUT, 'gaps.png') });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
