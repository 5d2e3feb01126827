/**
 * The accessibility pass: axe-core inside the same headless Chromium that takes the screenshots, on
 * each scenario's email as the recipient's client would lay it out, once in light mode and once with
 * `prefers-color-scheme: dark` emulated (an email's dark-mode CSS can turn readable text unreadable).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { UsageError } from '../errors';
import type { ScenarioRender } from './render';
import { offline } from './report';

export type ColorScheme = 'light' | 'dark';

/** One axe rule an email breaks, in one colour scheme. */
export interface AccessibilityFinding {
  rule: string;
  impact: string;
  /** axe's one-line description of what to fix. */
  help: string;
  scheme: ColorScheme;
  /** CSS selectors of the offending elements (at most five). */
  targets: string[];
  nodes: number;
}

/**
 * Rules about web pages that an email cannot meet or that do not apply to one (landmarks, skip links,
 * a page-level h1): they would fire on every email and bury the findings that matter.
 */
const PAGE_ONLY_RULES = ['region', 'landmark-one-main', 'landmark-complementary-is-top-level', 'page-has-heading-one', 'bypass', 'frame-tested'];

let axeSource: string | undefined;

/** axe-core's browser bundle, read once. */
function axeScript(): string {
  if (axeSource) return axeSource;
  let file: string;
  try {
    file = createRequire(__filename).resolve('axe-core/axe.min.js');
  } catch {
    throw new UsageError('axe-core is not installed', { hint: 'install it (npm install axe-core) to run the accessibility pass' });
  }
  axeSource = readFileSync(file, 'utf8');
  return axeSource;
}

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
}

/** Runs axe on the page's current document; in dark mode only colour contrast can differ, so only it runs. */
async function axeOn(page: Page, scheme: ColorScheme): Promise<AccessibilityFinding[]> {
  await page.addScriptTag({ content: axeScript() });
  const options =
    scheme === 'dark'
      ? { runOnly: { type: 'rule', values: ['color-contrast'] }, resultTypes: ['violations'] }
      : { rules: Object.fromEntries(PAGE_ONLY_RULES.map((r) => [r, { enabled: false }])), resultTypes: ['violations'] };
  const result = (await page.evaluate(async (opts) => {
    const g = globalThis as unknown as { axe: { run(ctx: unknown, o: object): Promise<unknown> }; document: unknown };
    return g.axe.run(g.document, opts);
  }, options)) as AxeResult;
  return result.violations.map((v) => ({
    rule: v.id,
    impact: v.impact ?? 'minor',
    help: v.help,
    scheme,
    nodes: v.nodes.length,
    targets: v.nodes.slice(0, 5).map((n) => n.target.map(String).join(' ')),
  }));
}

/** axe findings per scenario index, light and dark. */
export async function accessibilityPass(renders: ScenarioRender[], browser: Browser, width = 800): Promise<Map<number, AccessibilityFinding[]>> {
  const out = new Map<number, AccessibilityFinding[]>();
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  try {
    const page = await context.newPage();
    await page.route('**/*', (route) => (route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    for (const [i, r] of renders.entries()) {
      const findings: AccessibilityFinding[] = [];
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.setContent(offline(r.html), { waitUntil: 'load' });
        findings.push(...(await axeOn(page, scheme)));
      }
      out.set(i, findings);
    }
  } finally {
    await context.close();
  }
  return out;
}
