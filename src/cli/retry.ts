import type { Command } from 'commander';
import { EXIT } from './exit-codes';

/** `segsync retry [--dry-run]`: dead-lettered operations back into the queue, and sent. */
export function register(program: Command): void {
  program
    .command('retry')
    .description('retry dead-lettered (failed) operations; --dry-run lists them')
    .option('--dry-run', 'list what would be retried; change nothing')
    .option('--esp <list>', 'only these ESPs (comma-separated)')
    .action(async (opts: { dryRun?: boolean; esp?: string }, cmd: Command) => {
      const [{ openSyncContext }, { describeHolder }, { describeError }, { completeSchema }] = await Promise.all([
        import('./sync-context.js'),
        import('../sync/push-lease.js'),
        import('../errors.js'),
        import('./schema-step.js'),
      ]);
      const ctx = openSyncContext(cmd, opts.esp);
      try {
        for (const esp of ctx.esps) {
          const dead = ctx.store.deadOutbox(esp, 1_000_000);
          if (opts.dryRun) {
            process.stdout.write(`${esp}: ${dead.length} failed operations\n`);
            for (const d of dead.slice(0, 50)) process.stdout.write(`  contact ${d.contactId} ${d.key} (${d.attempts} attempts): ${d.lastError ?? '?'}\n`);
            continue;
          }
          if (!dead.length) {
            process.stdout.write(`${esp}: no failed operations\n`);
            continue;
          }
          // Many failures are fixed in segsync.yaml (an option added, a property renamed): the schema is
          // completed first, as a push does, or they would fail again.
          try {
            await completeSchema(ctx, esp, (text) => process.stdout.write(text));
          } catch (err) {
            process.stderr.write(`${esp}: not retried: ${describeError(err)}\n`);
            process.exitCode = EXIT.failed;
            continue;
          }
          const { revived, dropped } = ctx.engine.reviveDead(esp);
          const stale = dropped ? ` (${dropped} no longer needed, dropped: their fields are no longer mapped or already hold what segsync wants)` : '';
          const r = await ctx.engine.drainAll(esp);
          process.stdout.write(
            r.heldBy && r.items === 0
              ? `${esp}: ${revived} operations back in the queue${stale}, sent by ${describeHolder(r.heldBy)}\n`
              : `${esp}: ${revived} operations retried${stale}: ${r.ok} contacts updated, ${r.failed} failed again\n`,
          );
          if (r.failed) process.exitCode = EXIT.failed;
        }
      } finally {
        ctx.close();
      }
    });
}
