/**
 * Thumbnails for the demo's preview index: one email per template, as Chromium draws it, so the index
 * shows what each example looks like. The demo shopper's email when there is one, else the first.
 */
import { writeFileSync } from 'node:fs';
import type { BatchEntry } from '../preview/batch';
import { offline, renderIndex } from '../preview/report';
import { launchChromium } from '../preview/screenshots';

/** Adds a thumbnail (a small JPEG as a data: URL) to each rendered entry and rewrites the index. */
export async function addThumbnails(templatesDir: string, entries: BatchEntry[], index: string): Promise<void> {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 600, height: 640 }, deviceScaleFactor: 0.5 });
    const page = await context.newPage();
    // The emails are shown offline, as in the report: nothing may be fetched.
    await page.route('**/*', (route) => (route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    for (const e of entries) {
      const renders = e.result?.renders ?? [];
      const shown = renders.find((r) => r.scenario.name.startsWith('demo shopper')) ?? renders[0];
      if (!shown) continue;
      await page.setContent(offline(shown.html), { waitUntil: 'load' });
      const jpeg = await page.screenshot({ type: 'jpeg', quality: 70, clip: { x: 0, y: 0, width: 600, height: 640 } });
      e.thumbnail = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
    }
    await context.close();
  } finally {
    await browser.close();
  }
  writeFileSync(index, renderIndex(templatesDir, entries, new Date()));
}
