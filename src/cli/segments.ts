/**
 * `segsync segments`: recompute every contact's segments (progress bar on a terminal, then a table
 * of segment sizes and what changed since the last run), some contacts' (`--contact`,
 * `--contacts-file`), or only the contacts whose answers flip by the clock now (`--due`, for cron
 * without the daemon). `--as-of` evaluates at another instant and stores nothing.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError, UsageError, formatLocation } from '../errors';
import type { ContactEvaluation, ProgressFn, RecomputeSummary, SegmentEngine } from '../rules/engine';
import type { describeNextChange } from '../rules/explain';
import type { NextChange } from '../rules/next-change';
import type { CommandContext } from './context';
import { parseEvaluationTime } from './eval-time';
import { EXIT } from './exit-codes';
import type { Progress, startProgress } from './progress';

type DescribeNextChange = typeof describeNextChange;

interface SegmentsOptions {
  contact?: string[];
  contactsFile?: string;
  due?: boolean;
  asOf?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('segments')
    .description('compute segment membership for every contact, store it, and show sizes and changes since the last run')
    .option('--contact <email...>', 'evaluate these contacts and show each answer and when it next changes')
    .option('--contacts-file <file>', 'the same for every email in a file (one per line, or the first column of a CSV)')
    .option('--as-of <time>', 'evaluate as of this instant (RFC 3339, a date, or epoch ms; the same as explain --at) and store nothing')
    .option('--due', 're-evaluate only the contacts whose answers flip by the clock now')
    .option('--json', 'print JSON')
    .action((opts: SegmentsOptions, cmd: Command) => runSegments(opts, cmd));
}

/** One contact's answers as `segments --contact` shows them. */
export interface ContactReport extends ContactEvaluation {
  email: string;
  at: string;
  /** Whether the answers were stored (not with --as-of). */
  saved: boolean;
  /** Per segment: its answer and when it next changes by the clock alone. */
  segments: { segment: string; value: ContactEvaluation['states'][number]['value']; nextChangeAt: string | undefined; nextChangeKind: NextChange['kind'] }[];
}

// The rules engine, store and progress bar load when the command runs, not for every `segsync` call.
async function runSegments(opts: SegmentsOptions, cmd: Command): Promise<void> {
  if (opts.due && opts.asOf !== undefined) {
    throw new UsageError('--due and --as-of do not go together', {
      hint: '--due stores the flips due by the clock now; --as-of evaluates another instant and stores nothing',
    });
  }
  const at = opts.asOf === undefined ? undefined : parseEvaluationTime(opts.asOf, '--as-of');
  const emails = [...(opts.contact ?? []), ...(opts.contactsFile === undefined ? [] : emailsInFile(opts.contactsFile))];
  const [{ openContext }, explainModule] = await Promise.all([import('./context.js'), import('../rules/explain.js')]);
  const ctx = openContext(cmd, { requireConfig: true });
  try {
    const engine = await engineFor(ctx);
    for (const w of engine.warnings) process.stderr.write(`warning: ${formatLocation(w.location)}: ${w.message}${w.hint ? ` (${w.hint})` : ''}\n`);
    if (opts.contact !== undefined || opts.contactsFile !== undefined) {
      runContacts(ctx, engine, emails, at, opts, explainModule.describeNextChange);
      return;
    }
    if (at !== undefined) {
      const bar = progressBar((await import('./progress.js')).startProgress);
      let summary: RecomputeSummary;
      try {
        summary = engine.evaluateAllAt(at, bar.update);
      } finally {
        bar.stop();
      }
      process.stdout.write(opts.json ? `${JSON.stringify({ at: new Date(at).toISOString(), ...summary }, null, 2)}\n` : renderSummary(summary, at));
      return;
    }
    if (opts.due) {
      const results = engine.reevaluateDue();
      const changed = results.flatMap((r) => r.changed);
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ evaluated: results.length, changed }, null, 2)}\n`
          : `re-evaluated ${results.length} due contacts, ${changed.length} answers changed\n`,
      );
      return;
    }
    const bar = progressBar((await import('./progress.js')).startProgress);
    let summary: RecomputeSummary;
    try {
      summary = engine.recomputeAll(bar.update);
      // The next run (or the daemon's start) then reads its state at once.
      engine.saveState();
    } finally {
      bar.stop();
    }
    // The answers are right either way (one thread took over); the slower run still deserves a word.
    if (engine.poolError) process.stderr.write(`warning: ${engine.poolError.message} (${engine.poolError.hint})\n`);
    process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : renderSummary(summary));
  } finally {
    ctx.close();
  }
}

/** Evaluates each listed contact (stored unless `at` is given); a missing email is reported, not fatal for the others. */
function runContacts(
  ctx: CommandContext,
  engine: SegmentEngine,
  emails: string[],
  at: number | undefined,
  opts: SegmentsOptions,
  describeNext: DescribeNextChange,
): void {
  const reports: ContactReport[] = [];
  const missing: string[] = [];
  // A handful of contacts read straight from the store; many share one load of the caches.
  if (emails.length > 50) engine.load();
  for (const email of emails) {
    const contact = ctx.store.findContactByEmail(email);
    if (!contact) {
      missing.push(email);
      continue;
    }
    const now = at ?? ctx.clock.now();
    const r = engine.evaluateContact(contact.id, { now, save: at === undefined })!;
    reports.push(contactReport(contact.email, now, at === undefined, r, engine.nextChanges(contact.id, now)!));
  }
  if (missing.length === 1 && emails.length === 1) {
    throw new UsageError(`no contact with email ${missing[0]}`, { hint: 'emails are matched trimmed and lower-cased; import the contact first' });
  }
  for (const m of missing) process.stderr.write(`no contact with email ${m}\n`);
  if (missing.length) process.exitCode = EXIT.failed;
  if (opts.json) {
    const single = emails.length === 1 && opts.contactsFile === undefined;
    process.stdout.write(`${JSON.stringify(single ? reports[0] : { contacts: reports, missing }, null, 2)}\n`);
  } else {
    process.stdout.write(reports.map((r) => renderContact(r, describeNext)).join('\n'));
  }
}

/** The emails in a file: one per line, or the first column of a CSV (a header row named email is skipped). */
export function emailsInFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${file}`, { hint: 'give a file with one email per line' });
  }
  return text
    .split(/\r?\n/)
    .map((line) =>
      line
        .split(',')[0]!
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    )
    .filter((e) => e !== '' && !e.startsWith('#') && e.toLowerCase() !== 'email');
}

function contactReport(email: string, now: number, saved: boolean, r: ContactEvaluation, next: NextChange[]): ContactReport {
  const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
  // The contact's next change is the earliest real flip; a value that moves with the clock
  // (rechecked every minute) is shown on its own segment, not as everyone's next change.
  const flips = next.filter((n) => n.kind !== 'continuous' && n.at !== undefined).map((n) => n.at!);
  return {
    email,
    at: new Date(now).toISOString(),
    saved,
    ...r,
    nextChangeAt: flips.length ? Math.min(...flips) : undefined,
    segments: r.states.map((s, i) => ({ segment: s.segment, value: s.value, nextChangeAt: iso(next[i]!.at), nextChangeKind: next[i]!.kind })),
  };
}

/** Compiles the config's rules; a rule that does not compile is an invalid config (exit code 2). */
export async function engineFor(ctx: CommandContext): Promise<SegmentEngine> {
  const [{ SegmentEngine }, { RuleSetError }] = await Promise.all([import('../rules/engine.js'), import('../rules/check.js')]);
  try {
    return SegmentEngine.fromConfig(ctx.loaded!, ctx.store, ctx.clock);
  } catch (err) {
    if (err instanceof RuleSetError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
}

/** One progress bar per phase (loading events, evaluating), on a terminal only. */
function progressBar(start: typeof startProgress): { update: ProgressFn; stop(): void } {
  let phase: string | undefined;
  let bar: Progress | undefined;
  return {
    update: (p, done, total) => {
      if (phase !== p) {
        bar?.stop();
        bar = start(p === 'load' ? 'loading events' : 'evaluating    ', total);
        phase = p;
      }
      bar?.update(done);
    },
    stop: () => bar?.stop(),
  };
}

/** The summary table of a full recompute. */
export function renderSummary(s: RecomputeSummary, asOf?: number): string {
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
      seg.topValues
        .slice(0, 3)
        .map(([v, n]) => `${v}: ${n}`)
        .join(', '),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const numeric = new Set([2, 3, 4, 5, 6]);
  const lines = rows.map((r) =>
    r
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const t = s.timings;
  lines.push('');
  if (asOf === undefined) lines.push(`${s.contacts} contacts, ${s.events} events; ${s.contactsChanged} contacts changed since the last run`);
  else
    lines.push(
      `as of ${new Date(asOf).toISOString()} (nothing stored): ${s.contacts} contacts, ${s.events} events; ${s.contactsChanged} contacts answer differently from what is stored`,
    );
  lines.push(`load ${(t.loadMs / 1000).toFixed(1)} s, evaluate ${(t.evaluateMs / 1000).toFixed(1)} s, save ${(t.saveMs / 1000).toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}

function renderContact(r: ContactReport, describeNext: DescribeNextChange): string {
  const changed = new Map(r.changed.map((c) => [c.segment, c]));
  const errors = new Map(r.errors.map((e) => [e.segment, e.message]));
  const width = Math.max(...r.states.map((s) => s.segment.length));
  const values = r.segments.map((s) => JSON.stringify(s.value));
  const valueWidth = Math.max(...values.map((v) => v.length));
  const lines = [`${r.email} (#${r.contactId}) ${r.saved ? 'at' : 'as of'} ${r.at}${r.saved ? '' : ' (nothing stored)'}`];
  r.segments.forEach((s, i) => {
    const c = changed.get(s.segment);
    // As of another instant nothing is stored: the difference is from what is stored now.
    const note = c ? `   (${r.saved ? 'was' : 'stored now:'} ${JSON.stringify(c.from)})` : '';
    const err = errors.get(s.segment);
    const next = s.nextChangeAt === undefined ? '' : `   next change: ${describeNext(s.nextChangeAt, s.nextChangeKind)}`;
    lines.push(`  ${s.segment.padEnd(width)}  ${values[i]!.padEnd(valueWidth)}${note}${err ? `   (rule failed: ${err})` : ''}${next}`.trimEnd());
  });
  const first = r.segments
    .filter((s) => s.nextChangeKind !== 'continuous' && s.nextChangeAt !== undefined && Date.parse(s.nextChangeAt) === r.nextChangeAt)
    .map((s) => s.segment);
  lines.push(
    `next change by the clock alone: ${r.nextChangeAt === undefined ? 'never (only new data can change an answer)' : `${new Date(r.nextChangeAt).toISOString()} (${first.join(', ')})`}`,
  );
  return `${lines.join('\n')}\n`;
}
