/**
 * `segsync segments`: recompute every contact's segments (progress bar on a terminal, then a table
 * of segment sizes and what changed since the last run), one contact's (`--contact`), or only the
 * contacts whose answers flip by the clock now (`--due`, for cron without the daemon).
 */
import type { Command } from 'commander';
import { ConfigError, UsageError, formatLocation } from '../errors';
import { RuleSetError } from '../rules/check';
import { SegmentEngine } from '../rules/engine';
import type { ContactEvaluation, ProgressFn, RecomputeSummary } from '../rules/engine';
import { openContext } from './context';
import type { CommandContext } from './context';
import { startProgress } from './progress';
import type { Progress } from './progress';

interface SegmentsOptions {
  contact?: string;
  due?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('segments')
    .description('compute segment membership for every contact, store it, and show sizes and changes since the last run')
    .option('--contact <email>', 'evaluate one contact and show each answer and when it next changes')
    .option('--due', 're-evaluate only the contacts whose answers flip by the clock now')
    .option('--json', 'print JSON')
    .action((opts: SegmentsOptions, cmd: Command) => runSegments(opts, cmd));
}

function runSegments(opts: SegmentsOptions, cmd: Command): void {
  const ctx = openContext(cmd, { requireConfig: true });
  try {
    const engine = engineFor(ctx);
    for (const w of engine.warnings) process.stderr.write(`warning: ${formatLocation(w.location)}: ${w.message}${w.hint ? ` (${w.hint})` : ''}\n`);
    if (opts.contact !== undefined) {
      const contact = ctx.store.findContactByEmail(opts.contact);
      if (!contact) throw new UsageError(`no contact with email ${opts.contact}`, { hint: 'emails are matched trimmed and lower-cased; import the contact first' });
      const r = engine.evaluateContact(contact.id)!;
      process.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : renderContact(contact.email, r));
      return;
    }
    if (opts.due) {
      const results = engine.reevaluateDue();
      const changed = results.flatMap((r) => r.changed);
      process.stdout.write(opts.json ? `${JSON.stringify({ evaluated: results.length, changed }, null, 2)}\n` : `re-evaluated ${results.length} due contacts, ${changed.length} answers changed\n`);
      return;
    }
    const bar = progressBar();
    let summary: RecomputeSummary;
    try {
      summary = engine.recomputeAll(bar.update);
    } finally {
      bar.stop();
    }
    process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : renderSummary(summary));
  } finally {
    ctx.close();
  }
}

/** Compiles the config's rules; a rule that does not compile is an invalid config (exit code 2). */
export function engineFor(ctx: CommandContext): SegmentEngine {
  try {
    return SegmentEngine.fromConfig(ctx.loaded!, ctx.store, ctx.clock);
  } catch (err) {
    if (err instanceof RuleSetError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
}

/** One progress bar per phase (loading events, evaluating), on a terminal only. */
function progressBar(): { update: ProgressFn; stop(): void } {
  let phase: string | undefined;
  let bar: Progress | undefined;
  return {
    update: (p, done, total) => {
      if (phase !== p) {
        bar?.stop();
        bar = startProgress(p === 'load' ? 'loading events' : 'evaluating    ', total);
        phase = p;
      }
      bar?.update(done);
    },
    stop: () => bar?.stop(),
  };
}

/** The summary table of a full recompute. */
export function renderSummary(s: RecomputeSummary): string {
  const rows = [['segment', 'kind', 'members', 'entered', 'left', 'changed', 'errors', 'top values']];
  for (const seg of s.segments) {
    rows.push([
      seg.segment,
      seg.kind,
      String(seg.members),
      `+${seg.entered}`,
      `-${seg.left}`,
      seg.kind === 'value' ? `~${seg.changed}` : '',
      seg.errors ? String(seg.errors) : '',
      seg.topValues.slice(0, 3).map(([v, n]) => `${v}: ${n}`).join(', '),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const numeric = new Set([2, 3, 4, 5, 6]);
  const lines = rows.map((r) => r.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const t = s.timings;
  lines.push('');
  lines.push(`${s.contacts} contacts, ${s.events} events; ${s.contactsChanged} contacts changed since the last run`);
  lines.push(`load ${(t.loadMs / 1000).toFixed(1)} s, evaluate ${(t.evaluateMs / 1000).toFixed(1)} s, save ${(t.saveMs / 1000).toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}

function renderContact(email: string, r: ContactEvaluation): string {
  const changed = new Map(r.changed.map((c) => [c.segment, c]));
  const errors = new Map(r.errors.map((e) => [e.segment, e.message]));
  const width = Math.max(...r.states.map((s) => s.segment.length));
  const lines = [`${email} (#${r.contactId})`];
  for (const s of r.states) {
    const c = changed.get(s.segment);
    const note = c ? `   (was ${JSON.stringify(c.from)})` : '';
    const err = errors.get(s.segment);
    lines.push(`  ${s.segment.padEnd(width)}  ${JSON.stringify(s.value)}${note}${err ? `   (rule failed: ${err})` : ''}`);
  }
  lines.push(`next change by the clock alone: ${r.nextChangeAt === undefined ? 'never (only new data can change it)' : new Date(r.nextChangeAt).toISOString()}`);
  return `${lines.join('\n')}\n`;
}
