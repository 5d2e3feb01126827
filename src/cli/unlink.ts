import type { Command } from 'commander';
import { UsageError } from '../errors';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';

/** `segsync unlink --esp E`: forgets one ESP's ids and sync state, so the next pull re-adopts its records. */
export function register(program: Command): void {
  program
    .command('unlink')
    .description("forget one ESP's record ids, sync state and pull cursors (its account was replaced or reset); the next pull re-adopts its records by email")
    .requiredOption('--esp <esp>', ESP_NAMES.join(' | '))
    .option('--json', 'print what was forgotten as JSON')
    .action(async (opts: { esp: string; json?: boolean }, cmd: Command) => {
      const esp = opts.esp.trim().toLowerCase();
      if (!(ESP_NAMES as readonly string[]).includes(esp)) throw new UsageError(`unknown ESP "${opts.esp}"`, { hint: `use one of ${ESP_NAMES.join(', ')}` });
      const [{ openContext }, { liveSender, describeHolder }, { runningDaemon }] = await Promise.all([
        import('./context.js'),
        import('../sync/push-lease.js'),
        import('../store/process-alive.js'),
      ]);
      const ctx = openContext(cmd);
      try {
        // A daemon (or a push) still talking to the old account would record its ids again at its next answer or pull.
        const daemon = runningDaemon(ctx.store);
        const sender = liveSender(ctx.store, esp as EspName, ctx.clock.now());
        const running = sender ? describeHolder(sender) : daemon !== undefined ? `the daemon (pid ${daemon})` : undefined;
        if (running)
          throw new UsageError(`${running} still syncs with ${esp} on this store`, {
            hint: `stop it first, then unlink, then start it again with the new account's settings`,
          });
        const forgot = ctx.store.unlinkEsp(esp as EspName);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ esp, ...forgot })}\n`);
          return;
        }
        process.stdout.write(
          `${esp}: forgot ${forgot.ids} record ids, ${forgot.syncStates} sync states, ${forgot.cursors} pull cursors and ${forgot.webhookEvents} seen webhook ids; ` +
            `contacts, events, segments and the outbox are kept.\nnext: \`segsync pull --esp ${esp}\` adopts its records by email.\n`,
        );
      } finally {
        ctx.close();
      }
    });
}
