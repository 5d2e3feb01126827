/**
 * `segsync preview DIR`: every template under a folder (for CI: `segsync preview templates/ --check`).
 * Each gets its own report in a sub-folder; an index lists them with coverage and warning counts.
 * A template that does not parse is reported, and the others still render.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describeError } from '../errors';
import { dialectForFile } from './dialects/index';
import { runPreview, writeReport } from './preview';
import type { PreviewOptions, PreviewResult } from './preview';
import { renderIndex } from './report';

export interface BatchEntry {
  /** Path relative to the folder. */
  file: string;
  result: PreviewResult | undefined;
  error: string | undefined;
  /** The entry's report, relative to the batch's output folder. */
  report: string | undefined;
  /** A small picture of one rendered email for the index (a data: URL), when one was taken. */
  thumbnail?: string;
}

/** Template files under `dir` (by file name; hidden folders and node_modules skipped), sorted. */
export function findTemplates(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (dialectForFile(name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Previews every template under `dir` and writes `outDir/index.html` plus one report per template. */
export function previewFolder(dir: string, outDir: string, opts: PreviewOptions): { entries: BatchEntry[]; index: string } {
  const entries: BatchEntry[] = findTemplates(dir).map((path) => {
    const file = relative(dir, path);
    try {
      const result = runPreview(path, opts);
      const sub = file.replace(/[^A-Za-z0-9._-]+/g, '_');
      writeReport(result, join(outDir, sub));
      return { file, result, error: undefined, report: `${sub}/index.html` };
    } catch (err) {
      return { file, result: undefined, error: describeError(err), report: undefined };
    }
  });
  mkdirSync(outDir, { recursive: true });
  const index = join(outDir, 'index.html');
  writeFileSync(index, renderIndex(dir, entries, new Date()));
  return { entries, index };
}
