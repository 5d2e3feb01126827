/**
 * `segsync preview TEMPLATE`: render a template for many recipients and write a report with each
 * version, a branch-coverage matrix and warnings.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors';
import { previewFolder } from '../preview/batch';
import { junitXml } from '../preview/junit';
import { defaultScenarioFile, runPreview, writeReport } from '../preview/preview';
import { branchCoverage } from '../preview/coverage';
import type { PreviewOptions, PreviewResult } from '../preview/preview';
import { inspectInBrowser } from '../preview/browser';
import { servePreview } from '../preview/serve';
import { loadConfigFile } from '../config/load';
import type { SegsyncConfig } from '../config/schema';
import { openContext } from './context';
import { globalOptions } from './global-options';
import { EXIT } from './exit-codes';

export interface PreviewCliOptions {
  scenarios?: string;
  cover?: boolean;
  sample?: number;
  segment?: string;
  out: string;
  serve?: boolean;
  port: number;
  check?: boolean;
  screenshots?: boolean;
  empty: boolean;
  now?: string;
  junit?: string;
}

/** The config's `preview` section: the config file is optional for previews, so defaults when absent. */
function previewSettings(cmd: Command): SegsyncConfig['preview'] {
  const file = resolve(globalOptions(cmd).config);
  if (!existsSync(file)) return { utm: [], serveHosts: [] };
  return loadConfigFile(file, { secrets: { connectors: false, daemon: false } }).config.preview;
}

function summary(r: PreviewResult, index: string): string {
  const { reached, total } = branchCoverage(r.matrix);
  const lines = [
    `${r.template.file} (${r.template.dialect}): ${r.renders.length} scenarios from ${r.scenarioSource}`,
    `branches reached: ${reached}/${total}; warnings: ${r.warnings.length}`,
  ];
  for (const w of r.warnings.slice(0, 30)) lines.push(`  ${w.kind}${w.line ? ` line ${w.line}` : ''}${w.scenario ? ` [${w.scenario}]` : ''}: ${w.message}`);
  if (r.warnings.length > 30) lines.push(`  … ${r.warnings.length - 30} more in the report`);
  lines.push(`report: ${index}`);
  return `${lines.join('\n')}\n`;
}

/** `segsync preview TEMPLATE|DIR` with its parsed options (registered in preview-command.ts). */
export async function runPreviewCommand(templateArg: string, opts: PreviewCliOptions, cmd: Command): Promise<void> {
  const template = resolve(templateArg);
  if (!existsSync(template)) throw new UsageError(`no template at ${templateArg}`, { hint: 'check the path' });
  const ctx = opts.sample !== undefined ? openContext(cmd) : undefined;
  const settings = ctx?.loaded?.config.preview ?? previewSettings(cmd);
  const segments = ctx?.loaded?.config.segments;
  if (opts.segment !== undefined && segments && !segments[opts.segment]) {
    ctx?.close();
    throw new UsageError(`unknown segment "${opts.segment}"`, { hint: `segments in the config: ${Object.keys(segments).join(', ') || 'none'}` });
  }
  const previewOpts: PreviewOptions = {
    scenarios: opts.scenarios,
    cover: opts.cover,
    sample: opts.sample,
    segment: opts.segment,
    store: ctx?.store,
    includeEmpty: opts.empty,
    now: opts.now,
    utm: settings.utm,
  };
  if (statSync(template).isDirectory()) {
    try {
      if (opts.serve || opts.screenshots) throw new UsageError('--serve and --screenshots take one template, not a folder');
      const { entries, index } = previewFolder(template, opts.out, previewOpts);
      const bad = entries.filter((e) => e.error || (e.result?.warnings.length ?? 0) > 0);
      for (const e of entries) {
        const c = e.result ? branchCoverage(e.result.matrix) : undefined;
        process.stdout.write(`${e.file}: ${e.error ? `ERROR ${e.error}` : `${c!.reached}/${c!.total} branches, ${e.result!.warnings.length} warnings`}\n`);
      }
      process.stdout.write(`${entries.length} templates, ${bad.length} with problems; report: ${index}\n`);
      if (opts.junit) writeFileSync(opts.junit, junitXml(entries));
      if (entries.some((e) => e.error)) process.exitCode = EXIT.failed;
      if (opts.check && bad.length) process.exitCode = EXIT.failed;
    } finally {
      ctx?.close();
    }
    return;
  }
  const build = async (live?: string): Promise<{ result: PreviewResult; index: string }> => {
    const result = runPreview(template, previewOpts);
    const found = opts.screenshots ? await inspectInBrowser(result.renders, opts.out) : undefined;
    if (found) result.warnings.push(...found.warnings);
    return {
      result,
      index: writeReport(result, opts.out, { screenshots: found?.screenshots, accessibility: found?.accessibility, liveReloadScript: live }).index,
    };
  };
  try {
    if (opts.serve) {
      const watchFiles = [template, ...[opts.scenarios ?? (opts.cover ? undefined : defaultScenarioFile(template))].filter((f): f is string => !!f)];
      const server = await servePreview({
        outDir: opts.out,
        port: opts.port,
        watchFiles,
        allowedHosts: settings.serveHosts,
        build: (live) => {
          const result = runPreview(template, previewOpts);
          process.stderr.write(`rebuilt: ${result.renders.length} scenarios, ${result.warnings.length} warnings\n`);
          return writeReport(result, opts.out, { liveReloadScript: live }).html;
        },
        onRebuild: (err) => {
          if (err) process.stderr.write(`preview: ${(err as Error).message}\n`);
        },
      });
      process.stdout.write(`serving ${server.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      return;
    }
    const { result, index } = await build();
    process.stdout.write(summary(result, index));
    if (opts.junit) writeFileSync(opts.junit, junitXml([{ file: templateArg, result }]));
    if (opts.check && result.warnings.length) process.exitCode = EXIT.failed;
  } finally {
    ctx?.close();
  }
}
