/**
 * The report in real headless Chromium (Debian's chromium through playwright-core): one browser for
 * every test here. Screenshots go to test-output/ (git-ignored).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { runPreview, writeReport } from '../../src/preview/preview';
import { buildProgram } from '../../src/cli/main';
import { inspectInBrowser } from '../../src/preview/browser';
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
      expect(await page.locator('.shots img').count()).toBe(result.renders.length * 4);
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

  it('finds what a sender must fix in a flawed template: missing alt, missing UTM, low contrast in light and in dark mode', async () => {
    const result = runPreview(join(ROOT, 'test', 'e2e', 'preview-fixtures', 'flawed.liquid'), { utm: ['utm_source', 'utm_campaign'], includeEmpty: false });
    const outDir = join(OUT, 'flawed');
    const found = await inspectInBrowser(result.renders, outDir, { browser, widths: [600] });
    result.warnings.push(...found.warnings);
    const { index } = writeReport(result, outDir, { screenshots: found.screenshots, accessibility: found.accessibility });

    expect(result.warnings.filter((w) => w.kind === 'missing-alt').map((w) => w.message)).toEqual([
      expect.stringContaining('https://cdn.example.com/hero.png'),
    ]);
    expect(result.warnings.filter((w) => w.kind === 'missing-utm').map((w) => w.message)).toEqual([
      expect.stringMatching(/lacks utm_campaign .*shop\.example\.com\/sale/),
    ]);

    const findings = found.accessibility.get(0)!;
    const targets = (rule: string, scheme: string): string[] => findings.filter((f) => f.rule === rule && f.scheme === scheme).flatMap((f) => f.targets);
    expect(targets('image-alt', 'light')).toEqual(['img']);
    expect(targets('color-contrast', 'light')).toEqual(['#fine-print']);
    // The dark-mode CSS darkens the background but not the text hard-coded as #222222.
    expect(targets('color-contrast', 'dark')).toEqual(expect.arrayContaining(['#dark-trap', 'h1']));
    expect(targets('color-contrast', 'dark')).not.toContain('#fine-print');
    expect(result.warnings.filter((w) => w.kind === 'accessibility').map((w) => w.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^image-alt \(critical\)/),
        expect.stringMatching(/^color-contrast \(serious\): .*#fine-print/),
        expect.stringMatching(/^color-contrast \(serious, dark mode\): .*#dark-trap/),
      ]),
    );

    const shots = found.screenshots.get(0)!;
    expect(shots.map((s) => `${s.width}-${s.scheme}`)).toEqual(['600-light', '600-dark']);
    const [light, dark] = shots.map((s) => readFileSync(join(outDir, s.file)));
    expect(existsSync(join(outDir, shots[1]!.file))).toBe(true);
    expect(light!.equals(dark!)).toBe(false);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await page.goto(pathToFileURL(index).href);
      expect(await page.locator('.shots figcaption').allTextContents()).toEqual(['600 px · light', '600 px · dark']);
      expect(await page.locator('.a11y li').count()).toBe(findings.length);
      const inbox = await page.locator('#inbox li').first().textContent();
      expect(inbox).toMatch(/Trail Outfitters\s*Ada, the spring sale starts now — Up to 40% off trail shoes Hi Ada,/);
      expect(inbox).toContain('preheader 25 characters, short: the client fills the rest with body text');
      await page.screenshot({ path: join(OUT, 'flawed.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('segsync preview --screenshots --check: UTM parameters from the config, dark shots and axe findings in report.json, exit 1', async () => {
    const outDir = join(OUT, 'flawed-cli');
    const config = join(OUT, 'segsync.yaml');
    writeFileSync(config, 'version: 1\npreview:\n  utm: [utm_source, utm_campaign]\n');
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const previous = process.exitCode;
    process.exitCode = undefined;
    let code: number;
    try {
      await buildProgram().parseAsync([
        'node',
        'segsync',
        '--config',
        config,
        'preview',
        join(ROOT, 'test', 'e2e', 'preview-fixtures', 'flawed.liquid'),
        '--screenshots',
        '--check',
        '--no-empty',
        '--out',
        outDir,
      ]);
      code = Number(process.exitCode ?? 0);
    } finally {
      write.mockRestore();
      process.exitCode = previous;
    }
    expect(code).toBe(1);
    const json = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as {
      scenarios: { screenshots: { scheme: string }[]; accessibility: { rule: string; scheme: string }[]; inbox: { from: string } }[];
      warnings: { kind: string }[];
    };
    const [ada] = json.scenarios;
    expect(ada!.screenshots.map((s) => s.scheme)).toEqual(['light', 'dark', 'light', 'dark']);
    expect(ada!.accessibility).toEqual(expect.arrayContaining([expect.objectContaining({ rule: 'color-contrast', scheme: 'dark' })]));
    expect(ada!.inbox.from).toBe('Trail Outfitters');
    expect(new Set(json.warnings.map((w) => w.kind))).toEqual(new Set(['missing-alt', 'missing-utm', 'accessibility']));
  });
});
