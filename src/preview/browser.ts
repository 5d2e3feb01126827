/**
 * What segsync checks in headless Chromium, with one browser: light and dark screenshots of every
 * scenario and the accessibility pass. The findings come back as report data and as warnings.
 */
import type { Browser } from 'playwright-core';
import { accessibilityPass } from './accessibility';
import type { AccessibilityFinding } from './accessibility';
import type { ScenarioRender } from './render';
import { launchChromium, takeScreenshots } from './screenshots';
import type { Screenshot } from './screenshots';
import { accessibilityWarnings } from './warnings';
import type { Warning } from './warnings';

export interface BrowserFindings {
  screenshots: Map<number, Screenshot[]>;
  accessibility: Map<number, AccessibilityFinding[]>;
  /** The accessibility findings as warnings (for the report, `--check` and JUnit). */
  warnings: Warning[];
}

/** Screenshots (light and dark) and the axe pass for every render; uses `browser` if given, else launches one. */
export async function inspectInBrowser(
  renders: ScenarioRender[],
  outDir: string,
  opts: { browser?: Browser; widths?: number[] } = {},
): Promise<BrowserFindings> {
  const browser = opts.browser ?? (await launchChromium());
  try {
    const screenshots = await takeScreenshots(renders, outDir, { browser, widths: opts.widths });
    const accessibility = await accessibilityPass(renders, browser);
    return { screenshots, accessibility, warnings: accessibilityWarnings(renders, accessibility) };
  } finally {
    if (!opts.browser) await browser.close();
  }
}
