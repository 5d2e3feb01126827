import type { Command } from 'commander';
import { UsageError, describeError } from '../errors';
import type { EspName } from '../model/types';
import type { PullReport } from '../sync/engine';
import { EXIT } from './exit-codes';
import { jsonError, printJson } from './json-output';
import type { JsonError } from './json-output';
import { formatDuration } from '../model/units';

type PullOutcome =
  | ({ esp: EspName; ok: true; elapsedMs: number } & Omit<PullReport, 'esp' | 'newestModifiedAt'>)
  | { esp: EspName; ok: false; elapsedMs: number; error: JsonError };

/** `segsync pull`: the inbound side, once. One ESP that fails does not stop the others. */
export function register(program: Command): void {
  program
    .command('pull')
    .description('pull contact changes (and engagement events, where offered) from the ESPs into the store')
    .option('--esp <list>', 'only these ESPs (comma-separated)')
    .option('--json', "print one JSON document with each ESP's outcome instead of lines of text")
    .option(
      '--reset <list>',
      "forget these ESPs' pull cursors first (comma-separated), so this pull reads them whole (a cursor segsync cannot read, or changes it missed)",
    )
    .action(async (opts: { esp?: string; json?: boolean; reset?: string }, cmd: Command) => {
      const { openSyncContext } = await import('./sync-context.js');
      const ctx = openSyncContext(cmd, opts.esp);
      const outcomes: PullOutcome[] = [];
      try {
        for (const esp of resetList(opts.reset, ctx.esps)) {
          const forgot = ctx.engine.resetPull(esp);
          if (!opts.json) process.stdout.write(`${esp}: forgot ${forgot} pull cursors; this pull reads it whole\n`);
        }
        for (const esp of ctx.esps) {
          const started = Date.now();
          try {
            const { esp: _esp, newestModifiedAt: _newest, ...r } = await ctx.engine.pull(esp);
            const elapsedMs = Date.now() - started;
            outcomes.push({ esp, ok: true, elapsedMs, ...r });
            if (!opts.json)
              process.stdout.write(
                `${esp}: ${r.contacts} contacts in ${r.pages} pages, ${r.changed} changed locally, ${r.events} events, ${r.queued} operations queued for the other ESPs (${formatDuration(elapsedMs)})\n`,
              );
          } catch (err) {
            outcomes.push({ esp, ok: false, elapsedMs: Date.now() - started, error: jsonError(err) });
            if (!opts.json) process.stderr.write(`segsync: ${describeError(err)}\n`);
          }
        }
      } finally {
        ctx.close();
      }
      if (opts.json) printJson({ ok: outcomes.every((o) => o.ok), esps: outcomes });
      if (outcomes.some((o) => !o.ok)) process.exitCode = EXIT.failed;
    });
}

/** The ESPs `--reset` names, each one being pulled now. */
function resetList(value: string | undefined, pulled: readonly EspName[]): EspName[] {
  if (value === undefined) return [];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!pulled.includes(name as EspName)) {
      throw new UsageError(`--reset ${name}: not an ESP this pull reads`, {
        hint: `ESPs this pull reads: ${pulled.join(', ') || 'none'} (--reset names ESPs that are configured, enabled and in --esp)`,
      });
    }
  }
  return names as EspName[];
}
