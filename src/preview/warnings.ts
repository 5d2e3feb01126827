/** The warnings a report shows and `--check` fails on. */
import { closest } from '../config/closest';
import type { MatrixRow } from './coverage';
import type { Branch } from './dialects/dialect';
import type { ScenarioRender } from './render';
import type { AccessibilityFinding } from './accessibility';
import { imagesWithoutAlt, linksMissingParams } from './presend';
import type { TemplateFile } from './template-file';

/** Gmail clips messages whose HTML is larger than about 102 KB. */
export const GMAIL_CLIP_BYTES = 102 * 1024;

export type WarningKind =
  | 'unreached-branch'
  | 'constant-condition'
  | 'undefined-variable'
  | 'no-fallback'
  | 'leftover-tag'
  | 'object-object'
  | 'bad-value'
  | 'greeting-gap'
  | 'gmail-clip'
  | 'no-unsubscribe'
  | 'render-error'
  | 'thin-loop'
  | 'bad-link'
  | 'missing-alt'
  | 'missing-utm'
  | 'accessibility';

export interface Warning {
  kind: WarningKind;
  message: string;
  line?: number;
  scenario?: string;
}

const PERSONAL = /(^|[._\s])(first_?name|last_?name|full_?name|fname|lname|firstname|lastname|nickname|given_?name)$/i;
const GREETING = /\b(Hi|Hello|Hey|Dear|Hallo|Hola|Bonjour|Ciao)(\s+[,!.:;]|[,!]\s*$)/im;
const LEFTOVER_ALL = /\*\|[^|*\n]{1,60}\|\*|\{\{|\}\}|\{%|%\}/g;

function branchName(b: Branch | undefined): string {
  return b ? `"${b.label}" (line ${b.line})` : '?';
}

/** hrefs that cannot work: empty, a bare scheme, or containing spaces (a URL assembled from empty parts). */
export function badLinks(html: string): string[] {
  const out: string[] = [];
  for (const m of html.matchAll(/<a\b[^>]*?\shref\s*=\s*("([^"]*)"|'([^']*)')/gi)) {
    const href = (m[2] ?? m[3] ?? '').trim();
    if (href === '' || /^(https?:)?\/\/?$/i.test(href) || /^https?:\/\/[^/]*\s/i.test(href) || /^https?:\/\/\/|^https?:\/\/\?/i.test(href)) out.push(href);
  }
  return [...new Set(out)];
}

/** What the checks need beyond the template: the campaign's required link parameters (`preview.utm`). */
export interface WarningOptions {
  utm?: readonly string[];
}

/** Every warning for a set of renders of one template. */
export function collectWarnings(template: TemplateFile, renders: ScenarioRender[], matrix: MatrixRow[], options: WarningOptions = {}): Warning[] {
  const out: Warning[] = [];
  const seenImages = new Set<string>();
  const seenLinks = new Set<string>();
  const realRenders = renders.filter((r) => !r.errors.some((e) => e.startsWith('render failed')));
  for (const row of matrix) {
    const evaluated = row.cells.filter((c) => c.branches.length > 0);
    if (realRenders.length === 0) break;
    row.block.branches.forEach((b, i) => {
      if (!b.implicit && !row.reached.has(i))
        out.push({
          kind: 'unreached-branch',
          line: b.line,
          message: `no scenario reaches ${branchName(b)} of the ${row.block.kind} block at line ${row.block.line}`,
        });
    });
    if (row.block.kind === 'for') {
      const counts = row.cells.map((c) => c.iterations ?? 0);
      if (evaluated.length >= 1 && Math.max(...counts) <= 1)
        out.push({
          kind: 'thin-loop',
          line: row.block.line,
          message: `the loop at line ${row.block.line} is never seen with more than one item: add a scenario with several`,
        });
    }
    const loopWithoutElse = row.block.kind === 'for' && row.block.branches[1]?.implicit;
    if (evaluated.length >= 2 && !loopWithoutElse) {
      const first = JSON.stringify(evaluated[0]!.branches);
      if (evaluated.every((c) => JSON.stringify(c.branches) === first) && evaluated[0]!.branches.length === 1) {
        const b = row.block.branches[evaluated[0]!.branches[0]!];
        out.push({
          kind: 'constant-condition',
          line: row.block.line,
          message: `the ${row.block.kind} block at line ${row.block.line} always takes ${branchName(b)} in all ${evaluated.length} scenarios that evaluate it`,
        });
      }
    }
  }
  const guarded = new Set(template.analysis.conditions.map((c) => c.path));
  const seenFallback = new Set<string>();
  for (const o of template.analysis.outputs) {
    if (o.hasFallback || !PERSONAL.test(o.path) || guarded.has(o.path)) continue;
    const key = `${o.path}@${o.line}`;
    if (seenFallback.has(key)) continue;
    seenFallback.add(key);
    out.push({
      kind: 'no-fallback',
      line: o.line,
      message: `personal field "${o.path}" is printed without a fallback (line ${o.line}); recipients without it get a gap`,
    });
  }
  for (const r of renders) {
    const scenario = r.scenario.name;
    for (const e of r.errors) out.push({ kind: 'render-error', scenario, message: e });
    if (r.errors.some((e) => e.startsWith('render failed'))) continue;
    if (r.scenario.origin === 'file' || r.scenario.origin === 'store') {
      for (const u of r.undefinedVariables) {
        const guess = closest(
          u.path,
          r.knownPaths.filter((p) => p !== u.path),
        );
        out.push({
          kind: 'undefined-variable',
          scenario,
          line: u.line,
          message: `"${u.path}" is undefined where it is printed${u.line ? ` (line ${u.line})` : ''}${guess ? `; did you mean "${guess}"?` : ''}`,
        });
      }
    }
    const all = [r.subject ?? '', r.preheader ?? '', r.html];
    // Every distinct piece, so one run names all a template leaves unrendered.
    const leftover = [...new Set(all.flatMap((s) => [...s.replace(/<style[\s\S]*?<\/style>/gi, '').matchAll(LEFTOVER_ALL)].map((m) => m[0])))];
    if (leftover.length)
      out.push({ kind: 'leftover-tag', scenario, message: `template syntax left in the output: ${leftover.map((l) => `"${l}"`).join(', ')}` });
    if (all.some((s) => s.includes('[object Object]')) || r.text.includes('[object Object]'))
      out.push({ kind: 'object-object', scenario, message: 'an object was printed as "[object Object]"' });
    const bad = /\b(undefined|NaN)\b/.exec(`${r.subject ?? ''} ${r.preheader ?? ''} ${r.text}`);
    if (bad) out.push({ kind: 'bad-value', scenario, message: `the output contains "${bad[1]}"` });
    const gap =
      GREETING.exec(`${r.subject ?? ''}\n${r.preheader ?? ''}\n${r.text}`) ??
      [r.subject, r.preheader].map((l) => /\b(Hi|Hello|Hey|Dear)\s*$/.exec(l ?? '')).find((m) => m);
    if (gap) out.push({ kind: 'greeting-gap', scenario, message: `a greeting with no name: "${gap[0]}"` });
    if (r.bytes > GMAIL_CLIP_BYTES)
      out.push({ kind: 'gmail-clip', scenario, message: `the HTML is ${(r.bytes / 1024).toFixed(1)} KB: Gmail clips messages over ~102 KB` });
    for (const href of badLinks(r.html))
      out.push({ kind: 'bad-link', scenario, message: `a link goes nowhere: href="${href}" (a personalized URL that rendered empty?)` });
    if (!/unsubscribe/i.test(r.html)) out.push({ kind: 'no-unsubscribe', scenario, message: 'no unsubscribe link in the rendered email' });
    // Images and links mostly repeat across scenarios: each is reported once, for the first scenario showing it.
    for (const src of imagesWithoutAlt(r.html)) {
      if (seenImages.has(src)) continue;
      seenImages.add(src);
      out.push({
        kind: 'missing-alt',
        scenario,
        message: `an image has no alt text: src="${src}" (screen readers and image-blocking clients show nothing; use alt="" for decoration)`,
      });
    }
    for (const { href, missing } of linksMissingParams(r.html, options.utm ?? [])) {
      if (seenLinks.has(href)) continue;
      seenLinks.add(href);
      out.push({ kind: 'missing-utm', scenario, message: `a link lacks ${missing.join(', ')} (required by preview.utm): ${href}` });
    }
  }
  return out;
}

/** The accessibility pass as warnings: one per rule, colour scheme and elements, for the first scenario showing it. */
export function accessibilityWarnings(renders: ScenarioRender[], findings: Map<number, AccessibilityFinding[]>): Warning[] {
  const out: Warning[] = [];
  const seen = new Set<string>();
  for (const [i, list] of findings) {
    for (const f of list) {
      const key = `${f.rule}|${f.scheme}|${f.targets.join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const where = f.targets.length ? `: ${f.targets.join(', ')}${f.nodes > f.targets.length ? ` and ${f.nodes - f.targets.length} more` : ''}` : '';
      out.push({
        kind: 'accessibility',
        scenario: renders[i]?.scenario.name,
        message: `${f.rule} (${f.impact}${f.scheme === 'dark' ? ', dark mode' : ''}): ${f.help}${where}`,
      });
    }
  }
  return out;
}
