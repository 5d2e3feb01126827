/** Runs the public conformance corpora through segsync's dialects (used by the corpus tests). */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Dialect } from '../../src/preview/dialects/dialect';

/** The conformance corpora: SEGSYNC_CORPORA_DIR, or the copy the repository carries in test/fixtures/corpora. */
export const CORPORA = process.env.SEGSYNC_CORPORA_DIR || join(__dirname, '..', 'fixtures', 'corpora');

export interface CorpusOutcome {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
}

/** A golden-liquid case (also the format of segsync's own golden corpus in test/golden/). */
export interface GoldenCase {
  name: string;
  template: string;
  data?: Record<string, unknown>;
  result?: string;
  results?: string[];
  invalid?: boolean;
  templates?: Record<string, string>;
  tags?: string[];
}

/** Renders one golden case with `dialect` and compares. */
export function runGoldenCase(dialect: Dialect, c: GoldenCase): { ok: boolean; got: string } {
  try {
    const html = dialect.compile(c.template, c.name).render(structuredClone(c.data ?? {})).html;
    if (c.invalid) return { ok: false, got: `rendered ${JSON.stringify(html)} where an error was expected` };
    const expected = c.results ?? [c.result ?? ''];
    return { ok: expected.includes(html), got: html };
  } catch (err) {
    return { ok: !!c.invalid, got: `error: ${(err as Error).message}` };
  }
}

/** Out-of-scope golden-liquid cases: why each group is skipped. */
export function goldenLiquidSkip(c: GoldenCase): string | undefined {
  if (c.templates) return 'partials (include/render/layout) need a template file system; an email template is one file';
  return undefined;
}

export function loadGoldenLiquid(): GoldenCase[] {
  return (JSON.parse(readFileSync(join(CORPORA, 'golden-liquid', 'golden_liquid.json'), 'utf8')) as { tests: GoldenCase[] }).tests;
}

export interface MustacheCase {
  name: string;
  template: string;
  data: unknown;
  expected: string;
  partials?: Record<string, string>;
  file: string;
}

export function loadMustacheSpec(): MustacheCase[] {
  const dir = join(CORPORA, 'mustache-spec');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { tests: Omit<MustacheCase, 'file'>[] }).tests.map((t) => ({ ...t, file: f })));
}

/** Mustache features Handlebars does not have (so no SendGrid/Mandrill template can use them). */
export function mustacheSkip(c: MustacheCase): string | undefined {
  if (c.file === 'delimiters.json') return 'set-delimiter tags ({{=<% %>=}}) do not exist in Handlebars';
  if (c.file === 'partials.json' || c.partials) return 'partials are not available in SendGrid or Mandrill templates';
  return undefined;
}
