/**
 * Screenshots of each scenario in headless Chromium (Debian's `chromium` through playwright-core) at
 * mobile and desktop widths. Never downloads a browser: the executable comes from SEGSYNC_CHROMIUM or
 * /usr/bin/chromium.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { join } from 'node:path';
import { UsageError } from '../errors';
import type { ScenarioRender } from './render';
import { offline } from './report';
import { envSetting } from '../config/env';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium binary to drive. */
export function chromiumPath(): string {
  const p = envSetting('SEGSYNC_CHROMIUM') ?? '/usr/bin/chromium';
  if (!existsSync(p))
    throw new UsageError(`no Chromium at ${p}`, { hint: 'install it (Debian: apt-get install chromium) or set SEGSYNC_CHROMIUM to its path' });
  return p;
}

/** Starts headless Chromium with the flags segsync always uses (no network side channels, no sandbox in containers). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}

/** One screenshot of one scenario. */
export interface Screenshot {
  width: number;
  /** `dark` is Chromium's `prefers-color-scheme: dark` emulation: the email's own dark-mode CSS applies. */
  scheme: 'light' | 'dark';
  /** Path relative to the report folder. */
  file: string;
}

/**
 * Saves `screenshots/<n>-<width>.png` and `<n>-<width>-dark.png` per scenario and width (375 px
 * mobile, 800 px desktop by default); returns the files relative to `outDir`. Uses `browser` if given,
 * else launches one.
 */
export async function takeScreenshots(
  renders: ScenarioRender[],
  outDir: string,
  opts: { widths?: number[]; browser?: Browser } = {},
): Promise<Map<number, Screenshot[]>> {
  const widths = opts.widths ?? [375, 800];
  const browser = opts.browser ?? (await launchChromium());
  const out = new Map<number, Screenshot[]>();
  const context = await browser.newContext();
  try {
    mkdirSync(join(outDir, 'screenshots'), { recursive: true });
    const page = await context.newPage();
    await page.route('**/*', (route) => (route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    for (const [i, r] of renders.entries()) {
      const files: Screenshot[] = [];
      for (const width of widths) {
        await page.setViewportSize({ width, height: 900 });
        for (const scheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          await page.setContent(offline(r.html), { waitUntil: 'load' });
          const file = join('screenshots', `${String(i + 1).padStart(2, '0')}-${width}${scheme === 'dark' ? '-dark' : ''}.png`);
          await page.screenshot({ path: join(outDir, file), fullPage: true });
          files.push({ width, scheme, file });
        }
      }
      out.set(i, files);
    }
  } finally {
    await context.close();
    if (!opts.browser) await browser.close();
  }
  return out;
}
