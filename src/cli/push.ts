import type { Command } from 'commander';
import { UsageError } from '../errors';
import type { ContactFilter } from '../sync/engine';
import { formatPlan } from '../sync/plan';
import { EXIT } from './exit-codes';
import { printJson } from './json-output';
import { startProgress } from './progress';
import { formatDuration } from '../model/units';
import { openSyncContext } from './sync-context';
import type { SyncContext } from './sync-context';

interface PushOptions {
  dryRun?: boolean;
  json?: boolean;
  esp?: string;
  segment?: string;
  contact?: string[];
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
    .option('--json', 'print the plan (with --dry-run) or each ESP\'s outcome as one JSON document')
    .action(async (opts: PushOptions, cmd: Command) => {
      const ctx = openSyncContext(cmd, opts.esp);
      try {
        const filter = filterOf(ctx, opts);
        if (opts.dryRun) {
          const plans = ctx.engine.plan(filter, ctx.esps);
          if (opts.json) printJson({ dryRun: true, esps: plans });
          else process.stdout.write(`${formatPlan(plans)}\n(dry run: nothing sent)\n`);
          return;
        }
        const say = (text: string): void => void (opts.json ? undefined : process.stdout.write(text));
        const schemas = new Map<string, { created: string[]; updated: string[]; problems: unknown[]; requests: number }>();
        // Segment answers that flipped by the clock since they were computed are brought up to date first.
        ctx.segments?.reevaluateDue(ctx.clock.now());
        ctx.engine.enqueueAll(filter, ctx.esps);
        let failed = 0;
        const outcomes: unknown[] = [];
        for (const esp of ctx.esps) {
          const pending = ctx.store.counts().outbox.find((o) => o.esp === esp)?.pending ?? 0;
          // The schema is read (and completed) once per run, and only for an ESP that has something to send.
          if (pending > 0) {
            const before = ctx.connectors.get(esp)!.requestCount();
            const schema = await ctx.engine.ensureSchema(esp);
            schemas.set(esp, { created: schema.created, updated: schema.updated, problems: schema.problems, requests: ctx.connectors.get(esp)!.requestCount() - before });
            if (schema.created.length || schema.updated.length) say(`${esp}: created ${schema.created.join(', ') || 'nothing'}; updated ${schema.updated.join(', ') || 'nothing'}\n`);
            for (const p of schema.problems) process.stderr.write(`${esp}: field ${p.field}: ${p.message}${p.hint ? ` (${p.hint})` : ''}\n`);
          }
          const bar = startProgress(`push ${esp}`, pending, 'changes');
          const started = Date.now();
          const r = await ctx.engine.drainAll(esp, (n) => bar.update(n));
          bar.stop();
          const elapsedMs = Date.now() - started;
          failed += r.failed;
          outcomes.push({ ...r, elapsedMs, schema: schemas.get(esp) });
          const schemaRequests = schemas.get(esp)?.requests ?? 0;
          say(
            `${esp}: ${r.ok.toLocaleString('en-US')} contacts updated in ${r.requests.toLocaleString('en-US')} HTTP requests (${r.calls} batches) in ${formatDuration(elapsedMs)}, ` +
              `${r.failed} failed, ${r.retried} deferred (${r.rateLimited} rate-limited)${schemaRequests ? `; schema check: ${schemaRequests} requests` : ''}\n`,
          );
        }
        if (opts.json) printJson({ dryRun: false, ok: failed === 0, esps: outcomes });
        if (failed) {
          process.stderr.write('failed operations are listed by `segsync status`; fix the cause, then `segsync retry`\n');
          process.exitCode = EXIT.failed;
        }
      } finally {
        ctx.close();
      }
    });
}
