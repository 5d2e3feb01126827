import type { Command } from 'commander';
import { SafetyValveError } from '../errors';
import { EXIT } from './exit-codes';

interface ReconcileOptions {
  esp?: string;
  dryRun?: boolean;
  force?: boolean;
}

/** `segsync reconcile [--esp E] [--dry-run]`: read back what the ESPs hold for segsync's own fields and tags, and repair drift. */
export function register(program: Command): void {
  program
    .command('reconcile')
    .description("read back what the ESPs hold for segsync's own fields and tags (their bulk listings) and repair drift through the outbox")
    .option('--esp <list>', 'only these ESPs (comma-separated)')
    .option('--dry-run', 'report drift only; change nothing locally or on the ESPs')
    .option('--force', 'send repairs even when the safety valve would stop them')
    .action(async (opts: ReconcileOptions, cmd: Command) => {
      const [{ openSyncContext }, { describeHolder }] = await Promise.all([import('./sync-context.js'), import('../sync/push-lease.js')]);
      const ctx = openSyncContext(cmd, opts.esp);
      try {
        let left = 0;
        for (const esp of ctx.esps) {
          const r = await ctx.engine.reconcile(esp, { dryRun: opts.dryRun === true });
          const where = Object.entries(r.drift)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ');
          process.stdout.write(
            `${esp}: read ${r.contacts} records, ${r.drifted} drifted${where ? ` (${where})` : ''}${opts.dryRun ? '' : `, ${r.queued} repairs queued`}\n`,
          );
          if (opts.dryRun || r.queued === 0) continue;
          try {
            const d = await ctx.engine.drainAll(esp, opts.force ? { force: true } : {});
            process.stdout.write(
              d.heldBy && d.items === 0
                ? `${esp}: the repairs are sent by ${describeHolder(d.heldBy)}\n`
                : `${esp}: ${d.ok} contacts repaired in ${d.calls} calls, ${d.failed} failed, ${d.retried} retried\n`,
            );
          } catch (err) {
            if (!(err instanceof SafetyValveError)) throw err;
            process.stderr.write(`${err.describe()}\n`);
          }
          left += ctx.store.counts().outbox.find((o) => o.esp === esp)?.pending ?? 0;
        }
        if (left) {
          process.stderr.write(`${left} repairs not delivered yet: \`segsync status\` lists them\n`);
          process.exitCode = EXIT.failed;
        }
      } finally {
        ctx.close();
      }
    });
}
