import type { Command } from 'commander';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';
import type { LastSync, SyncOutcome } from '../sync/last-sync';
import type { PushLease } from '../store/store';
import { formatAgo } from '../model/units';

function describeOutcome(kind: 'pull' | 'push', o: SyncOutcome | undefined, now: number): string {
  if (!o) return `last ${kind} never`;
  const when = `${new Date(o.at).toISOString().slice(0, 19).replace('T', ' ')} UTC (${formatAgo(now - o.at)})`;
  if (!o.ok) return `last ${kind} ${when} FAILED: ${o.error ?? `${o.failed ?? 0} operations failed`}`;
  const what = kind === 'pull' ? `${o.contacts} contacts read` : `${o.contacts} contacts updated in ${o.calls ?? 0} requests`;
  return `last ${kind} ${when}, ${what}`;
}

/** `segsync status`: what the store holds, what waits to be pushed, and when each ESP was last synced. */
export function register(program: Command): void {
  program
    .command('status')
    .description('counts of contacts, events and segment members; per ESP: outbox pending/dead-lettered, last pull/push and contacts unlinked there')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const [
        { openContext },
        { lastSync },
        { safetyStop },
        { liveSender, describeHolder },
        { resolveMapping },
        { fieldsNoLongerWritten, describeUnwritten, tagsNoLongerOwned, describeTagLeftBehind },
      ] = await Promise.all([
        import('./context.js'),
        import('../sync/last-sync.js'),
        import('../sync/safety.js'),
        import('../sync/push-lease.js'),
        import('../sync/mapping.js'),
        import('../sync/unwritten-fields.js'),
      ]);
      const ctx = openContext(cmd, { storeMustExist: true });
      try {
        const counts = ctx.store.counts();
        const configured = ESP_NAMES.filter((e) => ctx.loaded?.config.connectors[e]);
        const sync = Object.fromEntries(
          ESP_NAMES.map((e) => [e, lastSync(ctx.store, e)] as const).filter(([e, s]) => configured.includes(e) || s.pull || s.push),
        ) as Partial<Record<EspName, LastSync>>;
        const quarantine = ctx.store.quarantined(10);
        const anonymous = ctx.store.identities.profileCounts();
        const stopped = ESP_NAMES.flatMap((esp) => {
          const reason = safetyStop(ctx.store, esp);
          return reason ? [{ esp, reason }] : [];
        });
        // Which process sends each ESP's queue now (the daemon, a push under way), if one does.
        const senders: Partial<Record<EspName, PushLease>> = {};
        for (const esp of ESP_NAMES) {
          const sender = liveSender(ctx.store, esp, ctx.clock.now());
          if (sender) senders[esp] = sender;
        }
        // Contacts whose record an ESP archived or deleted (or a write found gone): no longer written there.
        const unlinked: Partial<Record<EspName, Record<string, number>>> = {};
        for (const esp of ESP_NAMES) {
          const byReason = ctx.store.unlinkedCounts(esp);
          if (Object.keys(byReason).length) unlinked[esp] = byReason;
        }
        // Fields segsync wrote and segsync.yaml no longer maps: their last values stay on the ESP.
        const mapping = ctx.loaded ? resolveMapping(ctx.loaded.config) : undefined;
        const noLongerWritten = mapping ? fieldsNoLongerWritten(ctx.store, mapping) : [];
        const tagsLeftBehind = mapping ? tagsNoLongerOwned(ctx.store, mapping) : [];
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify({ ...counts, anonymous, sync, unlinked, noLongerWritten, tagsLeftBehind, stopped, senders, quarantined: quarantine }, null, 2)}\n`,
          );
          return;
        }
        const now = ctx.clock.now();
        const lines = [`contacts  ${counts.contacts}`, `events    ${counts.events}`];
        // Visitors who have not identified yet: kept here only, never pushed (docs/intake.md).
        if (anonymous.profiles) lines.push(`anonymous ${anonymous.profiles} visitors, ${anonymous.events} events (not pushed until they identify)`);
        lines.push('segments' + (counts.segments.length ? '' : '  (none computed yet: run `segsync segments`)'));
        for (const s of counts.segments) lines.push(`  ${s.segment.padEnd(28)} ${s.members}`);
        lines.push('outbox' + (counts.outbox.length ? '' : '    (empty)'));
        for (const o of counts.outbox) {
          const sender = senders[o.esp];
          lines.push(`  ${o.esp.padEnd(10)} pending ${o.pending}  failed ${o.dead}${sender ? `  (sent by ${describeHolder(sender)})` : ''}`);
        }
        if (Object.keys(sync).length) lines.push('sync');
        for (const [esp, s] of Object.entries(sync)) {
          lines.push(`  ${esp.padEnd(10)} ${describeOutcome('pull', s.pull, now)}`);
          lines.push(`  ${''.padEnd(10)} ${describeOutcome('push', s.push, now)}`);
        }
        if (Object.keys(unlinked).length) lines.push('unlinked  (records archived or deleted there: not written; `segsync explain EMAIL FIELD` shows why)');
        for (const [esp, byReason] of Object.entries(unlinked)) {
          const total = Object.values(byReason).reduce((n, c) => n + c, 0);
          lines.push(
            `  ${esp.padEnd(10)} ${total} (${Object.entries(byReason)
              .map(([reason, n]) => `${n} ${reason}`)
              .join(', ')})`,
          );
        }
        if (noLongerWritten.length) lines.push('', 'fields no longer written (left on the ESP as segsync last wrote them):');
        for (const f of noLongerWritten) lines.push(`  ${describeUnwritten(f)}`);
        if (tagsLeftBehind.length) lines.push('', 'tags no longer owned (left on the contacts segsync put them on):');
        for (const t of tagsLeftBehind) lines.push(`  ${describeTagLeftBehind(t)}`);
        const dead = counts.outbox.reduce((n, o) => n + o.dead, 0);
        if (dead) {
          lines.push('', 'failed (dead-lettered) operations, newest reasons:');
          for (const d of ctx.store.deadOutbox(undefined, 10)) lines.push(`  ${d.esp} contact ${d.contactId} ${d.key}: ${d.lastError ?? '?'}`);
        }
        for (const s of stopped)
          lines.push(
            '',
            `${s.esp}: queue STOPPED by the safety valve: ${s.reason}`,
            '  review `segsync push --dry-run`, then `segsync push --force` if it is intended',
          );
        if (quarantine.total) {
          lines.push('', `quarantined ${quarantine.total} unreadable stored row(s), set aside so the store still opens and evaluates (newest first):`);
          for (const q of quarantine.rows)
            lines.push(`  #${q.id} ${q.kind} ${JSON.stringify(q.ref)}${q.contactId !== undefined ? ` contact ${q.contactId}` : ''}: ${q.reason}`);
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        ctx.close();
      }
    });
}
