import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors';
import { DEFAULT_BATCH, importFile } from '../ingest/importer';
import type { ImportKind } from '../ingest/importer';
import { openContext } from './context';
import { EXIT } from './exit-codes';
import { startProgress } from './progress';
import { numberOption } from './number-option';

const MAX_SHOWN_REJECTS = 20;

/** `segsync import contacts|events FILE`. */
export function register(program: Command): void {
  program
    .command('import')
    .description('import contacts or events from a JSONL or CSV file (streamed; bad lines go to FILE.rejects.jsonl)')
    .argument('<kind>', 'contacts or events')
    .argument('<file>', 'a .jsonl/.ndjson file (one JSON object per line) or a .csv file with a header row')
    .option('--batch-size <n>', 'records per transaction', numberOption('--batch-size', { integer: true, positive: true }), DEFAULT_BATCH)
    .addHelpText('after', `
Events:   {"email":"a@x.com","name":"Placed Order","time":"2026-05-01T12:00:00Z","id":"ord-1","properties":{"value":42.5}}
          (Segment's "event", "timestamp" and "messageId" are accepted too; an event without an id gets one
          derived from its content, so re-importing the same file adds nothing)
Contacts: {"email":"a@x.com","properties":{"first_name":"Ada"},"tags":["vip"],"consent":"subscribed","created_at":"2025-11-02T08:30:00Z"}
          (consent also takes ESPs' words: bounced → cleaned, complained → unsubscribed, …; an unknown one is a
          warning and the contact is kept; created_at is when the contact was created, which rules read)
CSV:      columns email, name/event, time, id; "properties.x" columns (or any other column) become properties.
Exit code 1 when any record was rejected.`)
    .action(async (kind: string, file: string, opts: { batchSize: number }, cmd: Command) => {
      if (kind !== 'contacts' && kind !== 'events') throw new UsageError(`cannot import "${kind}"`, { hint: 'use `segsync import contacts FILE` or `segsync import events FILE`' });
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new UsageError(`cannot read ${file}`, { hint: 'check the path' });
      }
      if (!(opts.batchSize > 0)) throw new UsageError('--batch-size must be a positive whole number');
      const ctx = openContext(cmd);
      const progress = startProgress(`import ${kind}`, size, ' bytes');
      let shown = 0;
      let warned = 0;
      try {
        const summary = await importFile({
          kind: kind as ImportKind,
          file,
          store: ctx.store,
          now: () => ctx.clock.now(),
          batchSize: opts.batchSize,
          onBytes: (n) => progress.update(n),
          onReject: (r) => {
            if (shown++ < MAX_SHOWN_REJECTS) process.stderr.write(`${file}:${r.line}: ${r.error}\n`);
          },
          onWarning: (w) => {
            if (warned++ < MAX_SHOWN_REJECTS) process.stderr.write(`${file}:${w.line}: warning: "${w.field}": ${w.message}${w.hint ? `\n  hint: ${w.hint}` : ''}\n`);
          },
        });
        progress.stop();
        const rate = summary.elapsedMs > 0 ? Math.round((summary.read / summary.elapsedMs) * 1000) : summary.read;
        process.stdout.write(
          `${kind}: ${summary.read} read, ${summary.imported} imported, ${summary.duplicates} duplicates dropped, ` +
            `${summary.contactsCreated} contacts created, ${summary.rejected} rejected${summary.warnings ? `, ${summary.warnings} fields left out of kept records` : ''} (${rate}/s)\n`,
        );
        if (warned > MAX_SHOWN_REJECTS) process.stderr.write(`… and ${warned - MAX_SHOWN_REJECTS} more warnings\n`);
        if (summary.rejectsFile) {
          if (shown > MAX_SHOWN_REJECTS) process.stderr.write(`… and ${shown - MAX_SHOWN_REJECTS} more\n`);
          process.stderr.write(`rejected records are in ${summary.rejectsFile} (line, error, record); fix them and import that file again\n`);
          process.exitCode = EXIT.failed;
        }
      } finally {
        progress.stop();
        ctx.close();
      }
    });
}
