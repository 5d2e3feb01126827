/**
 * `segsync preview` as a library: pick the scenarios, render every one, build the matrix and the
 * warnings, and write the report (index.html, report.json, and each scenario's HTML and text).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors';
import type { Store } from '../store/store';
import { coverageMatrix } from './coverage';
import type { MatrixRow } from './coverage';
import { collectWarnings } from './warnings';
import type { Warning } from './warnings';
import { reachedBranches, renderScenario } from './render';
import type { ScenarioRender } from './render';
import type { AccessibilityFinding } from './accessibility';
import { inboxLine } from './presend';
import { renderReport } from './report';
import type { Screenshot } from './screenshots';
import { emptyScenario, loadScenarioFile, sampleFromStore } from './scenarios';
import type { Scenario } from './scenarios';
import { synthesizeScenarios } from './synthesize';
import { loadTemplateFile } from './template-file';
import type { TemplateFile } from './template-file';

export interface PreviewOptions {
  /** A scenario file (YAML or JSON). */
  scenarios?: string;
  /** Generate scenarios that cover every branch. */
  cover?: boolean;
  /** Sample this many contacts from `store`. */
  sample?: number;
  /** With `sample`: only members of this segment. */
  segment?: string;
  store?: Store;
  /** Add the automatic empty-profile scenario (default true). */
  includeEmpty?: boolean;
  /** Send time for scenarios that do not set their own `now` (and for generated ones). */
  now?: string | number;
  /** Query parameters every link must carry (`preview.utm` in the config). */
  utm?: readonly string[];
}

export interface PreviewResult {
  template: TemplateFile;
  scenarioSource: string;
  renders: ScenarioRender[];
  matrix: MatrixRow[];
  warnings: Warning[];
}

/** The scenario file found beside a template: `<name>.scenarios.yaml`, or `scenarios.yaml` in its folder. */
export function defaultScenarioFile(templatePath: string): string | undefined {
  const dir = dirname(templatePath);
  const stem = basename(templatePath).split('.')[0]!;
  return [`${stem}.scenarios.yaml`, `${stem}.scenarios.yml`, `${stem}.scenarios.json`, 'scenarios.yaml', 'scenarios.yml', 'scenarios.json']
    .map((f) => join(dir, f))
    .find((f) => existsSync(f));
}

function chooseScenarios(template: TemplateFile, templatePath: string, opts: PreviewOptions): { scenarios: Scenario[]; source: string } {
  const chosen = [opts.scenarios !== undefined, !!opts.cover, opts.sample !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new UsageError('use only one of --scenarios, --cover and --sample');
  if (opts.sample !== undefined) {
    if (!opts.store) throw new UsageError('--sample needs a store');
    if (!Number.isInteger(opts.sample) || opts.sample < 1) throw new UsageError('--sample takes a positive whole number');
    const scenarios = sampleFromStore(opts.store, opts.sample, { segment: opts.segment });
    return {
      scenarios,
      source:
        opts.segment === undefined
          ? `${opts.sample} contacts sampled from the store`
          : `${scenarios.length} members of segment ${opts.segment} sampled from the store`,
    };
  }
  if (opts.segment !== undefined) throw new UsageError('--segment needs --sample N (how many of its members to preview)');
  const file = opts.scenarios ?? (opts.cover ? undefined : defaultScenarioFile(templatePath));
  if (file) return { scenarios: loadScenarioFile(file), source: file };
  const cover = synthesizeScenarios(template.analysis, {
    now: opts.now,
    reach: (s) => reachedBranches(template, s),
  });
  return { scenarios: cover, source: 'generated to cover every branch (--cover)' };
}

/** Loads the template, renders every scenario, and analyses the result. */
export function runPreview(templatePath: string, opts: PreviewOptions = {}): PreviewResult {
  const template = loadTemplateFile(templatePath);
  const { scenarios, source } = chooseScenarios(template, templatePath, opts);
  const dated = scenarios.map((s) => (s.now === undefined && opts.now !== undefined ? { ...s, now: opts.now } : s));
  const all = opts.includeEmpty === false ? dated : [...dated, emptyScenario(opts.now ?? scenarios[0]?.now)];
  const renders = all.map((s) => renderScenario(template, s));
  const matrix = coverageMatrix(template, renders);
  const warnings = collectWarnings(template, renders, matrix, { utm: opts.utm });
  return { template, scenarioSource: source, renders, matrix, warnings };
}

const slug = (s: string, i: number): string =>
  `${String(i + 1).padStart(2, '0')}-${
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 50) || 'scenario'
  }`;

/** What a report shows besides the result: browser findings, live reload, the time it was made. */
export interface ReportExtras {
  screenshots?: Map<number, Screenshot[]>;
  accessibility?: Map<number, AccessibilityFinding[]>;
  liveReloadScript?: string;
  now?: Date;
}

/** A JSON view of a result, for CI and tools. */
export function resultJson(r: PreviewResult, extra: ReportExtras = {}): object {
  return {
    template: r.template.file,
    dialect: r.template.dialect,
    scenarioSource: r.scenarioSource,
    scenarios: r.renders.map((x, i) => ({
      name: x.scenario.name,
      origin: x.scenario.origin,
      subject: x.subject,
      preheader: x.preheader,
      inbox: inboxLine(r.template.from, x.subject, x.preheader, x.html),
      bytes: x.bytes,
      errors: x.errors,
      screenshots: extra.screenshots?.get(i),
      accessibility: extra.accessibility?.get(i),
    })),
    blocks: r.matrix.map((row) => ({
      id: row.block.id,
      kind: row.block.kind,
      line: row.block.line,
      branches: row.block.branches,
      cells: row.cells.map((c) => ({ branches: c.branches, iterations: c.iterations })),
    })),
    warnings: r.warnings,
  };
}

/** Writes index.html, report.json and emails/<n>-<scenario>.{html,txt} into `outDir`. */
export function writeReport(result: PreviewResult, outDir: string, extra: ReportExtras = {}): { index: string; html: string } {
  mkdirSync(join(outDir, 'emails'), { recursive: true });
  const html = renderReport({
    ...result,
    generatedAt: extra.now ?? new Date(),
    screenshots: extra.screenshots,
    accessibility: extra.accessibility,
    liveReloadScript: extra.liveReloadScript,
  });
  const index = join(outDir, 'index.html');
  writeFileSync(index, html);
  writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(resultJson(result, extra), null, 2)}\n`);
  result.renders.forEach((r, i) => {
    writeFileSync(join(outDir, 'emails', `${slug(r.scenario.name, i)}.html`), r.html);
    writeFileSync(join(outDir, 'emails', `${slug(r.scenario.name, i)}.txt`), r.text);
  });
  return { index, html };
}
