/**
 * Renders one scenario through the whole pipeline: context shaping, subject/preheader/body, MJML (if
 * the body is MJML), CSS inlining with juice, plain text with html-to-text, size.
 */
import { createRequire } from 'node:module';
import { convert } from 'html-to-text';
import juice from 'juice';
import { describeError } from '../errors';
import type { UndefinedRead } from './dialects/dialect';
import { DIALECTS } from './dialects/index';
import type { Scenario } from './scenarios';
import type { TemplateFile } from './template-file';

export interface ScenarioRender {
  scenario: Scenario;
  subject: string | undefined;
  preheader: string | undefined;
  html: string;
  text: string;
  /** UTF-8 bytes of the final HTML (what Gmail's ~102 KB clip counts). */
  bytes: number;
  branches: Map<string, number[]>;
  iterations: Map<string, number>;
  undefinedVariables: UndefinedRead[];
  /** Problems the pipeline reported (render error, MJML validation). */
  errors: string[];
  /** Dotted paths the scenario's context defines (for "did you mean" on undefined variables). */
  knownPaths: string[];
}

/** Leaf and object paths of a context, three levels deep (list items are not expanded). */
function pathsOf(value: unknown, prefix = '', depth = 0, out: string[] = []): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || depth > 3) return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.startsWith('__')) continue;
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p);
    pathsOf(v, p, depth + 1, out);
  }
  return out;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", apos: "'", '#x3D': '=', '#x60': '`' };

/** Subjects and preheaders are plain text: undo the dialect's HTML escaping and squeeze whitespace. */
function plainLine(s: string): string {
  return s
    .replace(/&(amp|lt|gt|quot|#39|#x27|apos|#x3D|#x60);/g, (_m, e: string) => ENTITIES[e] ?? _m)
    .replace(/\s+/g, ' ')
    .trim();
}

let mjml2html: ((src: string, opts: object) => { html: string; errors: { formattedMessage?: string; message: string }[] }) | undefined;

/** Turns rendered MJML into HTML (mjml takes about a second to load, so only templates that use it pay). */
function mjmlToHtml(src: string): { html: string; errors: string[] } {
  mjml2html ??= createRequire(__filename)('mjml') as typeof mjml2html;
  const r = mjml2html!(src, { validationLevel: 'soft', keepComments: false });
  return { html: r.html, errors: r.errors.map((e) => `mjml: ${e.formattedMessage ?? e.message}`) };
}

/**
 * The plain-text version a recipient would get from an ESP's automatic text part: tables as aligned
 * rows (product lists stay readable), images dropped, links as `text [url]`.
 */
export function toText(html: string): string {
  return convert(html, {
    wordwrap: 100,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'table', format: 'dataTable', options: { maxColumnWidth: 60, uppercaseHeaderCells: false } },
    ],
  });
}

/** `blockId#branch` keys a scenario reaches: the template renders only (no MJML, CSS or text), for `--cover`. */
export function reachedBranches(template: TemplateFile, scenario: Scenario): Set<string> {
  const context = DIALECTS[template.dialect].shapeContext(scenario);
  const keys = new Set<string>();
  for (const part of [template.subject, template.preheader, template.body]) {
    if (!part) continue;
    try {
      for (const [id, bs] of part.render(context).branches) for (const b of bs) keys.add(`${id}#${b}`);
    } catch {
      // A scenario the template cannot render reaches nothing new; the report shows the error when it is kept.
      continue;
    }
  }
  return keys;
}

/** Renders `scenario` with `template`; a failing render is reported in `errors`, never thrown. */
export function renderScenario(template: TemplateFile, scenario: Scenario): ScenarioRender {
  const context = DIALECTS[template.dialect].shapeContext(scenario);
  const out: ScenarioRender = {
    scenario,
    subject: undefined,
    preheader: undefined,
    html: '',
    text: '',
    bytes: 0,
    branches: new Map(),
    iterations: new Map(),
    undefinedVariables: [],
    errors: [],
    knownPaths: pathsOf(context),
  };
  const merge = (r: { branches: Map<string, number[]>; iterations: Map<string, number>; undefinedVariables: UndefinedRead[] }): void => {
    for (const [k, v] of r.branches) out.branches.set(k, [...(out.branches.get(k) ?? []), ...v]);
    for (const [k, v] of r.iterations) out.iterations.set(k, (out.iterations.get(k) ?? 0) + v);
    out.undefinedVariables.push(...r.undefinedVariables);
  };
  try {
    if (template.subject) {
      const r = template.subject.render(context);
      merge(r);
      out.subject = plainLine(r.html);
      // A dialect's body may print the campaign's subject (a subject merge tag in a <title>).
      context.__subject = out.subject;
    }
    if (template.preheader) {
      const r = template.preheader.render(context);
      merge(r);
      out.preheader = plainLine(r.html);
    }
    const body = template.body.render(context);
    merge(body);
    let html = body.html;
    if (template.mjml) {
      const m = mjmlToHtml(html);
      html = m.html;
      out.errors.push(...m.errors);
    }
    out.html = juice(html, { preserveMediaQueries: true, removeStyleTags: false });
  } catch (err) {
    out.errors.push(`render failed: ${describeError(err)}`);
  }
  out.text = toText(out.html);
  out.bytes = Buffer.byteLength(out.html, 'utf8');
  return out;
}
