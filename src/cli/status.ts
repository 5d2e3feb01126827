import type { Command } from 'commander';
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
        const quarantine = ctx.store.quarantined(10);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...counts, quarantined: quarantine }, null, 2)}\n`);
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
        if (quarantine.total) {
          lines.push('', `quarantined ${quarantine.total} unreadable stored row(s), set aside so the store still opens and evaluates (newest first):`);
          for (const q of quarantine.rows) lines.push(`  #${q.id} ${q.kind} ${JSON.stringify(q.ref)}${q.contactId !== undefined ? ` contact ${q.contactId}` : ''}: ${q.reason}`);
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        ctx.close();
      }
    });
}
