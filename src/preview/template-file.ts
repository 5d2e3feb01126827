/**
 * A template file: optional front matter (dialect, subject, preheader, from, mjml), then the body. Subject
 * and preheader are templates in the same dialect. Line numbers everywhere are the file's own.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { TemplateError, UsageError } from '../errors';
import type { CompiledTemplate, ConditionalBlock, DialectName, RenderResult, TemplateAnalysis } from './dialects/dialect';
import { DIALECTS, EXTENSIONS, dialectForFile, isDialectName } from './dialects/index';

/** A loaded, compiled template file. */
export interface TemplateFile {
  file: string;
  dialect: DialectName;
  body: CompiledTemplate;
  subject: CompiledTemplate | undefined;
  preheader: CompiledTemplate | undefined;
  /** The sender name as the inbox lists it (front matter `from`), if given. */
  from: string | undefined;
  /** The body is MJML: rendered output goes through mjml2html. */
  mjml: boolean;
  /** Blocks of subject, preheader and body, for the matrix. */
  blocks: ConditionalBlock[];
  analysis: TemplateAnalysis;
}

interface FrontMatter {
  data: Record<string, unknown>;
  /** Line (1-based) of each front-matter key. */
  keyLines: Record<string, number>;
  /** Lines taken by the front matter, including both `---` lines. */
  lines: number;
  body: string;
}

/** Splits `---`-delimited YAML front matter from the body. */
export function splitFrontMatter(source: string, file: string): FrontMatter {
  const m = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(source);
  if (!m) return { data: {}, keyLines: {}, lines: 0, body: source };
  let data: unknown;
  try {
    data = parseYaml(m[1]!);
  } catch (err) {
    throw new TemplateError(`front matter is not valid YAML: ${(err as Error).message.split('\n')[0]}`, {
      location: { file, line: 2 },
      hint: 'write key: value lines between the two --- lines',
    });
  }
  if (data !== null && (typeof data !== 'object' || Array.isArray(data)))
    throw new TemplateError('front matter must be a mapping (key: value lines)', { location: { file, line: 2 } });
  const keyLines: Record<string, number> = {};
  m[1]!.split(/\r?\n/).forEach((l, i) => {
    const k = /^([A-Za-z_][\w-]*)\s*:/.exec(l);
    if (k) keyLines[k[1]!] = i + 2;
  });
  const lines = m[0].split('\n').length - (m[0].endsWith('\n') ? 1 : 0);
  return { data: (data ?? {}) as Record<string, unknown>, keyLines, lines, body: source.slice(m[0].length) };
}

/** Shifts every line number a compiled template reports by `offset` (front matter above the body). */
function shifted(t: CompiledTemplate, offset: number, idPrefix = ''): CompiledTemplate {
  if (offset === 0 && !idPrefix) return t;
  const sl = (l: number): number => l + offset;
  const analysis: TemplateAnalysis = {
    blocks: t.analysis.blocks.map((b) => ({ ...b, id: idPrefix + b.id, line: sl(b.line), branches: b.branches.map((x) => ({ ...x, line: sl(x.line) })) })),
    conditions: t.analysis.conditions.map((c) => ({ ...c, line: sl(c.line) })),
    outputs: t.analysis.outputs.map((o) => ({ ...o, line: sl(o.line) })),
  };
  return {
    dialect: t.dialect,
    analysis,
    render(context): RenderResult {
      let r: RenderResult;
      try {
        r = t.render(context);
      } catch (err) {
        throw shiftError(err, offset);
      }
      const branches = new Map<string, number[]>();
      for (const [k, v] of r.branches) branches.set(idPrefix + k, v);
      const iterations = new Map<string, number>();
      for (const [k, v] of r.iterations) iterations.set(idPrefix + k, v);
      return {
        html: r.html,
        branches,
        iterations,
        undefinedVariables: r.undefinedVariables.map((u) => ({ ...u, line: u.line === undefined ? undefined : sl(u.line) })),
      };
    },
  };
}

function shiftError(err: unknown, offset: number): unknown {
  if (err instanceof TemplateError && err.location?.line !== undefined) {
    return new TemplateError(err.message, { location: { ...err.location, line: err.location.line + offset }, hint: err.hint, cause: err.cause });
  }
  return err;
}

function compileAt(dialect: DialectName, source: string, file: string, offset: number, prefix = ''): CompiledTemplate {
  try {
    return shifted(DIALECTS[dialect].compile(source, file), offset, prefix);
  } catch (err) {
    throw shiftError(err, offset);
  }
}

/** Compiles template text (front matter included) as it would be read from `file`. */
export function compileTemplateSource(source: string, file: string, forced?: DialectName): TemplateFile {
  const fm = splitFrontMatter(source, file);
  const declared = fm.data.dialect;
  if (declared !== undefined && (typeof declared !== 'string' || !isDialectName(declared))) {
    throw new TemplateError(`unknown dialect "${String(declared)}" in front matter`, {
      location: { file, line: fm.keyLines.dialect },
      hint: `use one of: ${Object.keys(DIALECTS).join(', ')}`,
    });
  }
  const dialect = forced ?? (declared as DialectName | undefined) ?? dialectForFile(file);
  if (!dialect) {
    throw new UsageError(`cannot tell the template language of ${file}`, {
      hint: `name it with one of ${EXTENSIONS.map(([e]) => e).join(' ')} or add front matter "dialect: liquid|klaviyo|handlebars|mailchimp|hubl"`,
    });
  }
  const body = compileAt(dialect, fm.body, file, fm.lines);
  const text = (k: string): string | undefined => (fm.data[k] === undefined || fm.data[k] === null ? undefined : String(fm.data[k]));
  const subjectSrc = text('subject');
  const preheaderSrc = text('preheader');
  const subject = subjectSrc === undefined ? undefined : compileAt(dialect, subjectSrc, file, (fm.keyLines.subject ?? 1) - 1, 'subject:');
  const preheader = preheaderSrc === undefined ? undefined : compileAt(dialect, preheaderSrc, file, (fm.keyLines.preheader ?? 1) - 1, 'preheader:');
  const parts = [subject, preheader, body].filter((t): t is CompiledTemplate => t !== undefined);
  const analysis: TemplateAnalysis = {
    blocks: parts.flatMap((p) => p.analysis.blocks),
    conditions: parts.flatMap((p) => p.analysis.conditions),
    outputs: parts.flatMap((p) => p.analysis.outputs),
  };
  const mjml = fm.data.mjml === true || /\.mjml$/i.test(file) || /^\s*<mjml[\s>]/i.test(fm.body);
  return { file, dialect, body, subject, preheader, from: text('from'), mjml, blocks: analysis.blocks, analysis };
}

/** Reads and compiles a template file. */
export function loadTemplateFile(file: string, forced?: DialectName): TemplateFile {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read template ${file}`, { hint: 'check the path' });
  }
  return compileTemplateSource(source, file, forced);
}
