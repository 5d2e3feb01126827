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
      const { openSyncContext } = await import('./sync-context.js');
      const ctx = openSyncContext(cmd);
      try {
        const contact = ctx.store.findContactByEmail(email);
        if (!contact) throw new UsageError(`no contact ${email} in the store`);
        ctx.engine.erase(contact.id);
        for (const esp of ctx.esps) {
          const r = await ctx.engine.drainAll(esp);
          process.stdout.write(`${esp}: ${r.failed ? 'erasure failed (see `segsync status`)' : 'erased'}\n`);
          if (r.failed) process.exitCode = EXIT.failed;
        }
      } finally {
        ctx.close();
      }
    });
}
