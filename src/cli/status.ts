import type { Command } from 'commander';
import { ESP_NAMES } from '../model/types';
import { safetyStop } from '../sync/safety';
import { openContext } from './context';

/** `segsync status`: what the store holds and what waits to be pushed. */
export function register(program: Command): void {
  program
    .command('status')
    .description('counts of contacts, events and segment members, and outbox pending/dead-lettered per ESP')
    .option('--json', 'print JSON instead of a table')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const ctx = openContext(cmd);
      try {
        const counts = ctx.store.counts();
        const stopped = ESP_NAMES.flatMap((esp) => {
          const reason = safetyStop(ctx.store, esp);
          return reason ? [{ esp, reason }] : [];
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...counts, stopped }, null, 2)}\n`);
          return;
        }
        const lines = [`contacts  ${counts.contacts}`, `events    ${counts.events}`];
        lines.push('segments' + (counts.segments.length ? '' : '  (none computed yet: run `segsync segments`)'));
        for (const s of counts.segments) lines.push(`  ${s.segment.padEnd(28)} ${s.members}`);
        lines.push('outbox' + (counts.outbox.length ? '' : '    (empty)'));
        for (const o of counts.outbox) lines.push(`  ${o.esp.padEnd(10)} pending ${o.pending}  failed ${o.dead}`);
        const dead = counts.outbox.reduce((n, o) => n + o.dead, 0);
        if (dead) {
          lines.push('', 'failed (dead-lettered) operations, newest reasons:');
          for (const d of ctx.store.deadOutbox(undefined, 10)) lines.push(`  ${d.esp} contact ${d.contactId} ${d.key}: ${d.lastError ?? '?'}`);
        }
        for (const s of stopped) lines.push('', `${s.esp}: queue STOPPED by the safety valve: ${s.reason}`, '  review `segsync push --dry-run`, then `segsync push --force` if it is intended');
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        ctx.close();
      }
    });
}
