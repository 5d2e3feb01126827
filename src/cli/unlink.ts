import type { Command } from 'commander';
import { UsageError } from '../errors';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';
import type { Store } from '../store/store';
import type { SyncMapping } from '../sync/mapping';

/** `segsync unlink --esp E`: forgets one ESP's ids and sync state, so the next pull re-adopts its records. */
export function register(program: Command): void {
  program
    .command('unlink')
    .description("forget one ESP's record ids, sync state and pull cursors (its account was replaced or reset); the next pull re-adopts its records by email")
    .requiredOption('--esp <esp>', ESP_NAMES.join(' | '))
    .option('--field <name>', "forget only this field's sync state: a field segsync wrote there and segsync.yaml no longer maps")
    .option('--tag <name>', 'forget only that segsync put this tag on contacts there: a tag segsync.yaml no longer pushes (`status` names them)')
    .option('--json', 'print what was forgotten as JSON')
    .action(async (opts: { esp: string; field?: string; tag?: string; json?: boolean }, cmd: Command) => {
      const esp = opts.esp.trim().toLowerCase();
      if (!(ESP_NAMES as readonly string[]).includes(esp)) throw new UsageError(`unknown ESP "${opts.esp}"`, { hint: `use one of ${ESP_NAMES.join(', ')}` });
      const [{ openContext }, { liveSender, describeHolder }, { runningDaemon }] = await Promise.all([
        import('./context.js'),
        import('../sync/push-lease.js'),
        import('../store/process-alive.js'),
      ]);
      if (opts.field !== undefined && opts.tag !== undefined) throw new UsageError('give --field or --tag, not both', { hint: 'forget one at a time' });
      if (opts.field !== undefined) return forgetField(cmd, esp as EspName, opts.field, opts.json === true);
      if (opts.tag !== undefined) return forgetTag(cmd, esp as EspName, opts.tag, opts.json === true);
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

/**
 * Runs `forget` on the store and the resolved mapping of an ESP segsync.yaml enables: the shared
 * prelude of `--field` and `--tag`, which forget one thing segsync left on an ESP.
 */
async function withEnabledEsp(cmd: Command, esp: EspName, forget: (store: Store, mapping: SyncMapping) => void): Promise<void> {
  const [{ openContext }, { resolveMapping }] = await Promise.all([import('./context.js'), import('../sync/mapping.js')]);
  const ctx = openContext(cmd, { requireConfig: true, storeMustExist: true });
  try {
    const mapping = resolveMapping(ctx.loaded!.config);
    if (!mapping.esps.includes(esp))
      throw new UsageError(`${esp} is not enabled in segsync.yaml: segsync writes nothing there`, {
        hint: `\`segsync unlink --esp ${esp}\` forgets all segsync knows of ${esp}, its fields and tags included`,
      });
    forget(ctx.store, mapping);
  } finally {
    ctx.close();
  }
}

/** `segsync unlink --esp E --field K`: forgets a field segsync no longer writes, once it is dealt with on the ESP. */
async function forgetField(cmd: Command, esp: EspName, field: string, json: boolean): Promise<void> {
  const { fieldsNoLongerWritten } = await import('../sync/unwritten-fields.js');
  await withEnabledEsp(cmd, esp, (store, mapping) => {
    const stale = fieldsNoLongerWritten(store, mapping).filter((f) => f.esp === esp);
    if (!stale.some((f) => f.key === field)) {
      const mapped = store.writtenFields(esp).some((w) => w.key === field);
      throw new UsageError(mapped ? `${esp} field ${field} is still in segsync.yaml: segsync writes it` : `segsync never wrote a field ${field} on ${esp}`, {
        hint: stale.length
          ? `fields segsync wrote on ${esp} and no longer writes: ${stale.map((f) => f.key).join(', ')}`
          : `segsync writes every field it wrote on ${esp}; \`segsync status\` names any it no longer writes`,
      });
    }
    const states = store.forgetWrittenField(esp, field);
    if (json) process.stdout.write(`${JSON.stringify({ esp, field, syncStates: states })}\n`);
    else
      process.stdout.write(
        `${esp}: forgot field ${field} (${states === 1 ? "1 contact's" : `${states} contacts'`} sync state); its values on ${esp} are as they were.\n`,
      );
  });
}

/** `segsync unlink --esp E --tag T`: forgets a tag segsync put on contacts and no longer owns, once it is dealt with on the ESP. */
async function forgetTag(cmd: Command, esp: EspName, tag: string, json: boolean): Promise<void> {
  const { tagsNoLongerOwned } = await import('../sync/unwritten-fields.js');
  await withEnabledEsp(cmd, esp, (store, mapping) => {
    const left = tagsNoLongerOwned(store, mapping).filter((t) => t.esp === esp);
    if (!left.some((t) => t.tag === tag)) {
      const owned = mapping.tagOwnership(esp, tag) !== 'user';
      throw new UsageError(
        owned ? `${esp} tag ${tag} is still segsync's: segsync.yaml owns or pushes it` : `no contact holds a tag ${tag} that segsync put there on ${esp}`,
        {
          hint: left.length
            ? `tags segsync put on ${esp} and no longer owns: ${left.map((t) => t.tag).join(', ')}`
            : `\`segsync status\` names any tag segsync put on ${esp} and no longer owns`,
        },
      );
    }
    const contacts = store.forgetAddedTag(esp, tag);
    if (json) process.stdout.write(`${JSON.stringify({ esp, tag, contacts })}\n`);
    else
      process.stdout.write(
        `${esp}: forgot that segsync put tag ${tag} on ${contacts === 1 ? '1 contact' : `${contacts} contacts`}; the tag on ${esp} is as it was (segsync never removes it now).\n`,
      );
  });
}
