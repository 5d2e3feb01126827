import type { Command } from 'commander';
import { describeError } from '../errors';
import type { EspName } from '../model/types';
import type { PullReport } from '../sync/engine';
import { EXIT } from './exit-codes';
import { jsonError, printJson } from './json-output';
import type { JsonError } from './json-output';
import { formatDuration } from '../model/units';

type PullOutcome = { esp: EspName; ok: true; elapsedMs: number } & Omit<PullReport, 'esp' | 'newestModifiedAt'> | { esp: EspName; ok: false; elapsedMs: number; error: JsonError };

/** `segsync pull`: the inbound side, once. One ESP that fails does not stop the others. */
export function register(program: Command): void {
  program
    .command('pull')
    .description('pull contact changes (and engagement events, where offered) from the ESPs into the store')
    .option('--esp <list>', 'only these ESPs (comma-separated)')
    .option('--json', 'print one JSON document with each ESP\'s outcome instead of lines of text')
    .action(async (opts: { esp?: string; json?: boolean }, cmd: Command) => {
      const { openSyncContext } = await import('./sync-context.js');
      const ctx = openSyncContext(cmd, opts.esp);
      const outcomes: PullOutcome[] = [];
      try {
        for (const esp of ctx.esps) {
          const started = Date.now();
          try {
            const { esp: _esp, newestModifiedAt: _newest, ...r } = await ctx.engine.pull(esp);
            const elapsedMs = Date.now() - started;
            outcomes.push({ esp, ok: true, elapsedMs, ...r });
            if (!opts.json) process.stdout.write(`${esp}: ${r.contacts} contacts in ${r.pages} pages, ${r.changed} changed locally, ${r.events} events, ${r.queued} operations queued for the other ESPs (${formatDuration(elapsedMs)})\n`);
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
