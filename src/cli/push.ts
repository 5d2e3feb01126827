import type { Command } from 'commander';
import { SafetyValveError, UsageError, describeError } from '../errors';
import type { ContactFilter } from '../sync/engine';
import { formatPlan } from '../sync/plan';
import { EXIT } from './exit-codes';
import { numberOption } from './number-option';
import { startProgress } from './progress';
import { openSyncContext } from './sync-context';
import type { SyncContext } from './sync-context';

interface PushOptions {
  dryRun?: boolean;
  esp?: string;
  segment?: string;
  contact?: string[];
  maxWait: number;
  force?: boolean;
}

function filterOf(ctx: SyncContext, opts: PushOptions): ContactFilter {
  const filter: ContactFilter = {};
  if (opts.segment) {
    if (!ctx.loaded!.config.segments[opts.segment]) throw new UsageError(`unknown segment "${opts.segment}"`, { hint: `segments in the config: ${Object.keys(ctx.loaded!.config.segments).join(', ') || 'none'}` });
    filter.segment = opts.segment;
  }
  if (opts.contact?.length) {
    filter.contactIds = opts.contact.map((email) => {
      const c = ctx.store.findContactByEmail(email);
      if (!c) throw new UsageError(`no contact ${email} in the store`);
      return c.id;
    });
  }
  return filter;
}

/** `segsync push [--dry-run]`: plan, then send, what the ESPs are missing. */
export function register(program: Command): void {
  program
    .command('push')
    .description('push properties, tags and segment flags to the ESPs (minimal batched calls); --dry-run prints the plan')
    .option('--dry-run', 'print what would be sent, the API calls and the time the rate limits imply; send nothing')
    .option('--esp <list>', 'only these ESPs (comma-separated)')
    .option('--segment <name>', 'only members of this segment')
    .option('--contact <email...>', 'only these contacts')
    .option('--force', 'send even what the safety valve stops (removing an owned tag or clearing/changing an owned field on a large share of the contacts that carry it)')
    .option('--max-wait <seconds>', 'how long to keep retrying an ESP that is down or rate-limiting before giving up (what is left stays queued)', numberOption('--max-wait', { min: 0 }), 60)
    .action(async (opts: PushOptions, cmd: Command) => {
      const ctx = openSyncContext(cmd, opts.esp);
      try {
        const filter = filterOf(ctx, opts);
        if (opts.dryRun) {
          process.stdout.write(`${formatPlan(ctx.engine.plan(filter, ctx.esps))}\n(dry run: nothing sent)\n`);
          return;
        }
        // An ESP that cannot even be prepared is reported and skipped; the others are still pushed.
        const unreachable = new Set<string>();
        for (const esp of ctx.esps) {
          let schema;
          try {
            schema = await ctx.engine.ensureSchema(esp);
          } catch (err) {
            process.stderr.write(`${esp}: not pushed: ${describeError(err)}\n`);
            unreachable.add(esp);
            continue;
          }
          if (schema.created.length || schema.updated.length) process.stdout.write(`${esp}: created ${schema.created.join(', ') || 'nothing'}; updated ${schema.updated.join(', ') || 'nothing'}\n`);
          for (const p of schema.problems) process.stderr.write(`${esp}: field ${p.field}: ${p.message}${p.hint ? ` (${p.hint})` : ''}\n`);
        }
        // Segment answers that flipped by the clock since they were computed are brought up to date first.
        ctx.segments?.reevaluateDue(ctx.clock.now());
        ctx.engine.enqueueAll(filter, ctx.esps);
        let undelivered = 0;
        for (const esp of ctx.esps) {
          if (unreachable.has(esp)) {
            undelivered += ctx.store.counts().outbox.find((o) => o.esp === esp)?.pending ?? 0;
            continue;
          }
          const pending = ctx.store.counts().outbox.find((o) => o.esp === esp)?.pending ?? 0;
          const bar = startProgress(`push ${esp}`, pending, ' contacts');
          let r;
          try {
            r = await ctx.engine.drainAll(esp, { onProgress: (n) => bar.update(n), waitUntil: ctx.clock.now() + opts.maxWait * 1000, ...(opts.force ? { force: true } : {}) });
          } catch (err) {
            // A safety stop, or an ESP that could not be read before the first write: the others go on.
            bar.stop();
            process.stderr.write(err instanceof SafetyValveError ? `${err.describe()}\n` : `${esp}: not pushed: ${describeError(err)}\n`);
            undelivered += Math.max(1, ctx.store.counts().outbox.find((o) => o.esp === esp)?.pending ?? 0);
            continue;
          }
          bar.stop();
          const left = ctx.store.counts().outbox.find((o) => o.esp === esp) ?? { pending: 0, dead: 0 };
          const waited = r.waitedMs >= 1000 ? `, waited ${(r.waitedMs / 1000).toFixed(1)} s on rate limits` : '';
          process.stdout.write(`${esp}: ${r.ok} contacts updated in ${r.calls} calls, ${r.failed} failed, ${r.retried} retried (${r.rateLimited} rate-limited${waited})\n`);
          if (left.pending || left.dead) {
            process.stderr.write(`${esp}: ${left.pending + left.dead} operations not delivered (${left.pending} waiting for a retry, ${left.dead} failed)\n`);
            undelivered += left.pending + left.dead;
          }
        }
        if (undelivered || unreachable.size) {
          process.stderr.write('what is left stays queued: `segsync status` lists it; fix the cause, then `segsync push` again (or `segsync retry` for failed operations)\n');
          process.exitCode = EXIT.failed;
        }
      } finally {
        ctx.close();
      }
    });
}
