import type { Command } from 'commander';
import { openSyncContext } from './sync-context';

/** `segsync pull`: the inbound side, once. */
export function register(program: Command): void {
  program
    .command('pull')
    .description('pull contact changes (and engagement events, where offered) from the ESPs into the store')
    .option('--esp <list>', 'only these ESPs (comma-separated)')
    .action(async (opts: { esp?: string }, cmd: Command) => {
      const ctx = openSyncContext(cmd, opts.esp);
      try {
        for (const esp of ctx.esps) {
          const r = await ctx.engine.pull(esp);
          process.stdout.write(`${esp}: ${r.contacts} contacts in ${r.pages} pages, ${r.changed} changed locally, ${r.events} events, ${r.queued} operations queued for the other ESPs\n`);
        }
      } finally {
        ctx.close();
      }
    });
}
