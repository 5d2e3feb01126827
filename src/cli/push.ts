import type { Command } from 'commander';
import { SafetyValveError, UsageError, describeError } from '../errors';
import type { ContactFilter } from '../sync/engine';
import { EXIT } from './exit-codes';
import { jsonError, printJson } from './json-output';
import { numberOption } from './number-option';
import { formatDuration } from '../model/units';
import type { SchemaStep } from './schema-step';
import type { SyncContext } from './sync-context';

interface PushOptions {
  dryRun?: boolean;
  json?: boolean;
  esp?: string;
  segment?: string;
  contact?: string[];
  maxWait: number;
  force?: boolean;
}

function filterOf(ctx: SyncContext, opts: PushOptions): ContactFilter {
  const filter: ContactFilter = {};
  if (opts.segment) {
    if (!ctx.loaded!.config.segments[opts.segment])
      throw new UsageError(`unknown segment "${opts.segment}"`, {
        hint: `segments in the config: ${Object.keys(ctx.loaded!.config.segments).join(', ') || 'none'}`,
      });
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
    .option('--json', "print the plan (with --dry-run) or each ESP's outcome as one JSON document")
    .option(
      '--force',
      'send even what the safety valve stops (removing an owned tag or clearing/changing an owned field on a large share of the contacts that carry it)',
    )
    .option(
      '--max-wait <seconds>',
      'how long to keep retrying an ESP that is down or rate-limiting before giving up (what is left stays queued)',
      numberOption('--max-wait', { min: 0 }),
      60,
    )
    .action(async (opts: PushOptions, cmd: Command) => {
      const [
        { openSyncContext },
        { formatPlan },
        { startProgress },
        { describeHolder },
        { fieldsNoLongerWritten, describeUnwritten, tagsNoLongerOwned, describeTagLeftBehind },
        { completeSchema },
      ] = await Promise.all([
        import('./sync-context.js'),
        import('../sync/plan.js'),
        import('./progress.js'),
        import('../sync/push-lease.js'),
        import('../sync/unwritten-fields.js'),
        import('./schema-step.js'),
      ]);
      const ctx = openSyncContext(cmd, opts.esp);
      try {
        // A field taken out of segsync.yaml keeps its last pushed value on the ESP: said at every push until forgotten.
        for (const f of fieldsNoLongerWritten(ctx.store, ctx.engine.mapping)) if (ctx.esps.includes(f.esp)) process.stderr.write(`${describeUnwritten(f)}\n`);
        for (const t of tagsNoLongerOwned(ctx.store, ctx.engine.mapping, true))
          if (ctx.esps.includes(t.esp)) process.stderr.write(`${describeTagLeftBehind(t)}\n`);
        const filter = filterOf(ctx, opts);
        if (opts.dryRun) {
          const plans = ctx.engine.plan(filter, ctx.esps);
          if (opts.json) printJson({ dryRun: true, esps: plans });
          else process.stdout.write(`${formatPlan(plans)}\n(dry run: nothing sent)\n`);
          return;
        }
        const say = (text: string): void => void (opts.json ? undefined : process.stdout.write(text));
        // Segment answers that flipped by the clock since they were computed are brought up to date first.
        ctx.segments?.reevaluateDue(ctx.clock.now());
        ctx.engine.enqueueAll(filter, ctx.esps);
        let undelivered = 0;
        const outcomes: unknown[] = [];
        const pendingOf = (esp: string): number => ctx.store.counts().outbox.find((o) => o.esp === esp)?.pending ?? 0;
        for (const esp of ctx.esps) {
          const pending = pendingOf(esp);
          // The schema is read (and completed) once per run, and only for an ESP that has something to send;
          // an ESP that cannot even be prepared is reported and skipped, and the others are still pushed.
          let schema: SchemaStep | undefined;
          if (pending > 0) {
            try {
              schema = await completeSchema(ctx, esp, say);
            } catch (err) {
              process.stderr.write(`${esp}: not pushed: ${describeError(err)}\n`);
              outcomes.push({ esp, ok: false, error: jsonError(err), undelivered: pending });
              undelivered += pending;
              continue;
            }
          }
          const bar = startProgress(`push ${esp}`, pending, 'changes');
          const started = Date.now();
          let r;
          try {
            r = await ctx.engine.drainAll(esp, {
              onProgress: (n) => bar.update(n),
              waitUntil: ctx.clock.now() + opts.maxWait * 1000,
              ...(opts.force ? { force: true } : {}),
            });
          } catch (err) {
            // A safety stop, or an ESP that could not be read before the first write: the others go on.
            bar.stop();
            process.stderr.write(err instanceof SafetyValveError ? `${err.describe()}\n` : `${esp}: not pushed: ${describeError(err)}\n`);
            const left = Math.max(1, pendingOf(esp));
            outcomes.push({ esp, ok: false, error: jsonError(err), undelivered: left });
            undelivered += left;
            continue;
          }
          bar.stop();
          const elapsedMs = Date.now() - started;
          const left = ctx.store.counts().outbox.find((o) => o.esp === esp) ?? { pending: 0, dead: 0 };
          outcomes.push({ ...r, ok: left.pending + left.dead === 0, elapsedMs, schema, undelivered: left.pending + left.dead });
          const waited = r.waitedMs >= 1000 ? `, waited ${(r.waitedMs / 1000).toFixed(1)} s on rate limits` : '';
          // Another process holds this ESP's push lease (the daemon, an earlier push): it sent, this push waited.
          const sender = r.heldBy ? describeHolder(r.heldBy) : undefined;
          const allBySender = sender !== undefined && r.items === 0;
          say(
            allBySender
              ? `${esp}: sent by ${sender}, which sends this ESP's queue; this push waited ${formatDuration(elapsedMs)} for it\n`
              : `${esp}: ${r.ok.toLocaleString('en-US')} contacts updated in ${r.requests.toLocaleString('en-US')} calls, ${r.failed} failed, ${r.retried} retried (${r.rateLimited} rate-limited${waited})${r.gone ? `, ${r.gone} unlinked (their records were deleted there)` : ''}; ` +
                  `${r.calls} batches in ${formatDuration(elapsedMs)}${schema?.requests ? `; schema check: ${schema.requests} calls` : ''}${sender ? `; ${sender} sent the rest` : ''}\n`,
          );
          if (left.pending || left.dead) {
            process.stderr.write(
              `${esp}: ${left.pending + left.dead} operations not delivered (${left.pending} ${allBySender ? `queued for ${sender} to send` : 'waiting for a retry'}, ${left.dead} failed)\n`,
            );
            undelivered += left.pending + left.dead;
          }
        }
        if (opts.json) printJson({ dryRun: false, ok: undelivered === 0, esps: outcomes });
        if (undelivered) {
          process.stderr.write(
            'what is left stays queued: `segsync status` lists it; fix the cause, then `segsync push` again (or `segsync retry` for failed operations)\n',
          );
          process.exitCode = EXIT.failed;
        }
      } finally {
        ctx.close();
      }
    });
}
