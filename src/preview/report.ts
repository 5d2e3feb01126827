/**
 * The static HTML report: one self-contained file (inline CSS, no scripts, no network). Each
 * scenario's email is shown in a sandboxed iframe (`srcdoc`) beside its plain text; remote images are
 * replaced by placeholders so opening the report never touches the network.
 */
import type { AccessibilityFinding } from './accessibility';
import { branchCoverage } from './coverage';
import type { MatrixRow } from './coverage';
import { diffLines } from './text-diff';
import type { Warning } from './warnings';
import type { BatchEntry } from './batch';
import { PREHEADER_VISIBLE, inboxLine } from './presend';
import type { ScenarioRender } from './render';
import type { Screenshot } from './screenshots';
import type { TemplateFile } from './template-file';

export interface ReportInput {
  template: TemplateFile;
  renders: ScenarioRender[];
  matrix: MatrixRow[];
  warnings: Warning[];
  generatedAt: Date;
  /** Screenshot files (relative to the report) per scenario index, if taken. */
  screenshots?: Map<number, Screenshot[]>;
  /** axe findings per scenario index, if the accessibility pass ran. */
  accessibility?: Map<number, AccessibilityFinding[]>;
  /** Extra `<script>` for `--serve` (live reload); empty for the static report. */
  liveReloadScript?: string;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const PLACEHOLDER = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="100%" height="100%" fill="#d9dde3"/><text x="50%" y="50%" font-size="11" text-anchor="middle" fill="#5b6470" font-family="sans-serif">image</text></svg>')}`;

/** Replaces remote resources in an email with inline placeholders (the report must work offline). */
export function offline(html: string): string {
  return html
    .replace(/(<img\b[^>]*?\ssrc\s*=\s*)(["'])(?:https?:)?\/\/[^"']*\2/gi, `$1$2${PLACEHOLDER}$2`)
    .replace(/(\sbackground\s*=\s*)(["'])(?:https?:)?\/\/[^"']*\2/gi, '$1$2$2')
    .replace(/url\(\s*(["']?)(?:https?:)?\/\/[^)"']*\1\s*\)/gi, 'none')
    .replace(/<link\b[^>]*>/gi, '')
    .replace(/<script\b[\s\S]*?<\/script>/gi, '');
}

function cellText(row: MatrixRow, i: number): { text: string; cls: string } {
  const cell = row.cells[i]!;
  if (!cell.branches.length) return { text: '·', cls: 'na' };
  const labels = cell.branches.map((b) => {
    const br = row.block.branches[b];
    return br ? `${br.label} · L${br.line}` : `#${b}`;
  });
  const iter = cell.iterations !== undefined ? ` ×${cell.iterations}` : '';
  return { text: labels.join(' / ') + iter, cls: cell.branches.some((b) => row.block.branches[b]?.implicit) ? 'implicit' : 'hit' };
}

const CSS = `
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;background:#f4f6f8}
header{background:#1d2733;color:#fff;padding:16px 24px}header h1{margin:0 0 4px;font-size:20px}header p{margin:0;color:#c6ced8}
main{padding:16px 24px}section{background:#fff;border:1px solid #dde2e8;border-radius:8px;margin:0 0 18px;padding:14px 16px}
h2{font-size:16px;margin:0 0 10px}.summary span{display:inline-block;margin-right:18px}.ok{color:#1b7f3b}.bad{color:#b3261e}
table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border:1px solid #e2e6eb;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f0f3f6;position:sticky;top:0}td.hit{background:#e7f6ec}td.implicit{background:#f4f1e4}td.na{color:#9aa3ad;text-align:center}
.branches li.unreached{color:#b3261e;font-weight:600}.branches{margin:0;padding-left:18px}.matrix{overflow:auto;max-height:70vh}
.warn-kind{font-family:ui-monospace,monospace;font-size:12px;white-space:nowrap}
.scenario .meta{color:#4b5563;margin:0 0 8px}.scenario .meta b{color:#1d232b}.side{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:12px}
iframe{width:100%;height:640px;border:1px solid #cfd6de;border-radius:6px;background:#fff}
pre.text{margin:0;height:640px;overflow:auto;white-space:pre-wrap;background:#fbfcfd;border:1px solid #cfd6de;border-radius:6px;padding:10px;font-size:12px}
details.diff{margin-top:8px}details.diff pre{margin:6px 0 0;max-height:320px;overflow:auto;background:#fbfcfd;border:1px solid #cfd6de;border-radius:6px;padding:8px;font-size:12px}
.diff .add{background:#e7f6ec;display:block}.diff .del{background:#fbe9e7;display:block}.shots img{max-width:100%;border:1px solid #cfd6de;margin:6px 8px 0 0}.errors{color:#b3261e}
.inbox{list-style:none;margin:0;padding:0;border:1px solid #dde2e8;border-radius:6px}.inbox li{padding:8px 12px;border-bottom:1px solid #eef1f4;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.inbox li:last-child{border-bottom:0}.inbox .from{display:inline-block;width:170px;font-weight:600;overflow:hidden;text-overflow:ellipsis;vertical-align:bottom}.inbox .subject{font-weight:600}.inbox .shown{color:#5b6470}
.inbox small{color:#7a8491;margin-left:8px}.shots figure{display:inline-block;margin:6px 8px 0 0}.shots figcaption{font-size:12px;color:#5b6470}
.a11y ul{margin:4px 0 0;padding-left:18px}.a11y .impact{font-family:ui-monospace,monospace;font-size:12px}
@media (max-width:900px){.side{grid-template-columns:1fr}}`;

/** What this scenario's reader sees differently from the first scenario's, as a collapsible line diff. */
function textDiff(base: ScenarioRender, r: ScenarioRender): string {
  const lines = diffLines(base.text, r.text);
  const added = lines.filter((l) => l.op === '+').length;
  const removed = lines.filter((l) => l.op === '-').length;
  if (!added && !removed) return `<p class="meta">Same text as "${esc(base.scenario.name)}".</p>`;
  const body = lines.map((l) => (l.op === ' ' ? `  ${esc(l.text)}\n` : `<span class="${l.op === '+' ? 'add' : 'del'}">${l.op} ${esc(l.text)}</span>`)).join('');
  return `<details class="diff"><summary>Text compared with "${esc(base.scenario.name)}": +${added} / −${removed} lines</summary><pre>${body}</pre></details>`;
}

/** The message list of a mail client: one row per scenario (from, subject, preheader and the body text that follows it). */
function inboxSection(template: TemplateFile, renders: ScenarioRender[]): string {
  const rows = renders
    .map((r, i) => {
      const line = inboxLine(template.from, r.subject, r.preheader, r.html);
      const note = line.fromBody
        ? "no preheader: the client shows the body's first text"
        : `preheader ${line.preheaderChars} characters${line.preheaderChars < 40 ? ', short: the client fills the rest with body text' : line.preheaderChars > PREHEADER_VISIBLE ? `, over ${PREHEADER_VISIBLE}: the end is cut off` : ''}`;
      return `<li><a href="#s${i}"><span class="from">${esc(line.from ?? '(from name not set)')}</span></a> <span class="subject">${esc(line.subject ?? '(no subject)')}</span> <span class="shown">— ${esc(line.shown)}</span><small>${esc(r.scenario.name)} · ${esc(note)}</small></li>`;
    })
    .join('');
  return `<section id="inbox"><h2>Inbox: how a mail client lists each version</h2><ul class="inbox">${rows}</ul></section>`;
}

/** A scenario's screenshots, light and dark side by side. */
function shotsHtml(r: ScenarioRender, shots: Screenshot[]): string {
  if (!shots.length) return '';
  const figure = (s: Screenshot): string =>
    `<figure><a href="${esc(s.file)}"><img src="${esc(s.file)}" alt="${esc(r.scenario.name)} at ${s.width}px, ${s.scheme} mode" width="${Math.min(s.width, 300)}"></a><figcaption>${s.width} px · ${s.scheme}</figcaption></figure>`;
  return `<div class="shots">${shots.map(figure).join('')}</div>`;
}

/** A scenario's accessibility findings (undefined: the pass did not run). */
function a11yHtml(findings: AccessibilityFinding[] | undefined): string {
  if (!findings) return '';
  if (!findings.length) return '<div class="a11y"><p class="ok">Accessibility (axe-core, light and dark): no problems found.</p></div>';
  const items = findings
    .map(
      (f) =>
        `<li><span class="impact">${esc(f.impact)}</span> <b>${esc(f.rule)}</b>${f.scheme === 'dark' ? ' (dark mode)' : ''}: ${esc(f.help)} <small>${esc(f.targets.join(', '))}</small></li>`,
    )
    .join('');
  return `<div class="a11y"><p class="bad">Accessibility (axe-core): ${findings.length} problem${findings.length === 1 ? '' : 's'}</p><ul>${items}</ul></div>`;
}

/** The report as one HTML document. */
export function renderReport(input: ReportInput): string {
  const { template, renders, matrix, warnings } = input;
  const { reached: reachedBranches, total: totalBranches } = branchCoverage(matrix);
  const csp = input.liveReloadScript
    ? "default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self'; frame-src 'self' about:; script-src 'unsafe-inline'; connect-src 'self'"
    : "default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self'; frame-src 'self' about:";
  const head = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Preview: ${esc(template.file)}</title><style>${CSS}</style></head>`;
  const summary = `<section class="summary" id="summary"><h2>Summary</h2>
<span><b>${renders.length}</b> scenario${renders.length === 1 ? '' : 's'}</span>
<span><b>${matrix.length}</b> conditional block${matrix.length === 1 ? '' : 's'}</span>
<span class="${reachedBranches === totalBranches ? 'ok' : 'bad'}"><b>${reachedBranches}/${totalBranches}</b> branches reached</span>
<span class="${warnings.length ? 'bad' : 'ok'}"><b>${warnings.length}</b> warning${warnings.length === 1 ? '' : 's'}</span></section>`;
  const warnRows = warnings
    .map((w) => `<tr><td class="warn-kind">${esc(w.kind)}</td><td>${w.line ?? ''}</td><td>${esc(w.scenario ?? '')}</td><td>${esc(w.message)}</td></tr>`)
    .join('');
  const warnSection = `<section id="warnings"><h2>Warnings</h2>${warnings.length ? `<table><thead><tr><th>kind</th><th>line</th><th>scenario</th><th>message</th></tr></thead><tbody>${warnRows}</tbody></table>` : '<p class="ok">No warnings.</p>'}</section>`;
  const headCells = renders.map((r, i) => `<th><a href="#s${i}">${esc(r.scenario.name)}</a></th>`).join('');
  const rows = matrix
    .map((row) => {
      const list = row.block.branches
        .map((b, i) => `<li class="${!b.implicit && !row.reached.has(i) ? 'unreached' : ''}">${esc(b.label)} <small>L${b.line}</small></li>`)
        .join('');
      const cells = renders.map((_, i) => {
        const c = cellText(row, i);
        return `<td class="${c.cls}">${esc(c.text)}</td>`;
      });
      const part = /^(subject|preheader):/.exec(row.block.id)?.[1];
      return `<tr><td>L${row.block.line}<br><small>${esc(row.block.kind)}${part ? ` · ${part}` : ''}</small></td><td><ol class="branches" start="0">${list}</ol></td>${cells.join('')}</tr>`;
    })
    .join('');
  const matrixSection = `<section id="matrix"><h2>Coverage matrix: conditional blocks × scenarios</h2>${matrix.length ? `<div class="matrix"><table><thead><tr><th>block</th><th>branches</th>${headCells}</tr></thead><tbody>${rows}</tbody></table></div>` : '<p>The template has no conditional blocks.</p>'}</section>`;
  const cards = renders
    .map((r, i) => {
      const shotHtml = shotsHtml(r, input.screenshots?.get(i) ?? []) + a11yHtml(input.accessibility?.get(i));
      const diff = i > 0 ? textDiff(renders[0]!, r) : '';
      const errs = r.errors.length ? `<p class="errors">${r.errors.map(esc).join('<br>')}</p>` : '';
      return `<section class="scenario" id="s${i}"><h2>${esc(r.scenario.name)}</h2>
<p class="meta"><b>Subject:</b> ${esc(r.subject ?? '(none)')} &nbsp; <b>Preheader:</b> ${esc(r.preheader ?? '(none)')} &nbsp; <b>Size:</b> ${(r.bytes / 1024).toFixed(1)} KB &nbsp; <b>Source:</b> ${esc(r.scenario.origin)}${r.scenario.description ? ` &nbsp; ${esc(r.scenario.description)}` : ''}</p>${errs}
<div class="side"><iframe sandbox="" title="${esc(r.scenario.name)} (HTML)" srcdoc="${esc(offline(r.html))}"></iframe><pre class="text" aria-label="${esc(r.scenario.name)} (text)">${esc(r.text)}</pre></div>${diff}${shotHtml}</section>`;
    })
    .join('\n');
  const body = `<body><header><h1>${esc(template.file)}</h1><p>${esc(template.dialect)}${template.mjml ? ' · MJML' : ''} · generated ${esc(input.generatedAt.toISOString())} by segsync preview</p></header><main>${summary}${warnSection}${inboxSection(template, renders)}${matrixSection}${cards}</main>${input.liveReloadScript ?? ''}</body></html>`;
  return head + body;
}

/** The index of a folder preview: one row per template. */
export function renderIndex(dir: string, entries: BatchEntry[], generatedAt: Date): string {
  // A picture column only when some entry has one (the demo's report; `segsync preview DIR` takes none).
  const thumbs = entries.some((e) => e.thumbnail);
  const rows = entries
    .map((e) => {
      if (!e.result) return `<tr>${thumbs ? '<td></td>' : ''}<td>${esc(e.file)}</td><td colspan="4" class="bad">${esc(e.error ?? 'failed')}</td></tr>`;
      const c = branchCoverage(e.result.matrix);
      const w = e.result.warnings.length;
      const thumb = thumbs
        ? `<td class="thumb">${e.thumbnail ? `<a href="${esc(e.report ?? '#')}"><img src="${esc(e.thumbnail)}" alt="${esc(e.file)}" width="120"></a>` : ''}</td>`
        : '';
      return `<tr>${thumb}<td><a href="${esc(e.report ?? '#')}">${esc(e.file)}</a></td><td>${esc(e.result.template.dialect)}</td><td>${e.result.renders.length}</td><td class="${c.reached === c.total ? 'ok' : 'bad'}">${c.reached}/${c.total}</td><td class="${w ? 'bad' : 'ok'}">${w}</td></tr>`;
    })
    .join('');
  const csp = `default-src 'none'; style-src 'unsafe-inline'${thumbs ? '; img-src data:' : ''}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}"><title>Preview: ${esc(dir)}</title><style>${CSS}</style></head><body><header><h1>${esc(dir)}</h1><p>${entries.length} templates · generated ${esc(generatedAt.toISOString())} by segsync preview</p></header><main><section id="templates"><h2>Templates</h2><table><thead><tr>${thumbs ? '<th>email</th>' : ''}<th>template</th><th>dialect</th><th>scenarios</th><th>branches reached</th><th>warnings</th></tr></thead><tbody>${rows}</tbody></table></section></main></body></html>`;
}
