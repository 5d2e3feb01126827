import type { Command } from 'commander';
import { UsageError } from '../errors';
import { EXIT } from './exit-codes';

/** `segsync erase EMAIL`: a GDPR/CCPA erasure, locally and on every ESP. */
export function register(program: Command): void {
  program
    .command('erase')
    .description('erase a contact (GDPR/CCPA): from the store now, and from every ESP through its deletion API')
    .argument('<email>', 'the contact')
    .action(async (email: string, _opts: unknown, cmd: Command) => {
      const [{ openSyncContext }, { describeHolder }] = await Promise.all([import('./sync-context.js'), import('../sync/push-lease.js')]);
      const ctx = openSyncContext(cmd);
      try {
        const contact = ctx.store.findContactByEmail(email);
        if (!contact) throw new UsageError(`no contact ${email} in the store`);
        ctx.engine.erase(contact.id);
        for (const esp of ctx.esps) {
          const r = await ctx.engine.drainAll(esp);
          // Another process sends this ESP's queue (the daemon): it sent the erasure, or will.
          const other = r.heldBy && r.items === 0 ? r.heldBy : undefined;
          const queued = other ? (ctx.store.outboxCounts().find((o) => o.esp === esp)?.pending ?? 0) : 0;
          const by = other ? ` by ${describeHolder(other)}` : '';
          process.stdout.write(
            `${esp}: ${r.failed ? 'erasure failed (see `segsync status`)' : queued ? `erasure queued, to be sent${by} (\`segsync status\` shows the queue)` : `erased${by}`}\n`,
          );
          if (r.failed || queued) process.exitCode = EXIT.failed;
        }
      } finally {
        ctx.close();
      }
    });
}
