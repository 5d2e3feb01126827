import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors';
import { DEFAULT_BATCH } from '../ingest/batch-size';
import type { ImportKind } from '../ingest/importer';
import { EXIT } from './exit-codes';
import { numberOption } from './number-option';
import { printJson } from './json-output';
import { formatBytes, formatDuration, formatRate } from '../model/units';

const MAX_SHOWN_REJECTS = 20;

/** `segsync import contacts|events FILE`. */
export function register(program: Command): void {
  program
    .command('import')
    .description(
      'import contacts or events from a JSONL, JSON-array or CSV file (streamed; bad records go to a rejects file of their own, to fix and import again)',
    )
    .argument('<kind>', 'contacts or events')
    .argument('<file>', 'a .jsonl/.ndjson file (one JSON object per line) or a .csv file with a header row')
    .option('--batch-size <n>', 'records per transaction', numberOption('--batch-size', { integer: true, positive: true }), DEFAULT_BATCH)
    .option('--json', 'print the summary as one JSON document')
    .addHelpText(
      'after',
      `
Events:   {"email":"a@x.com","name":"Placed Order","time":"2026-05-01T12:00:00Z","id":"ord-1","properties":{"value":42.5}}
          (Segment's "event", "timestamp" and "messageId" are accepted too; without "properties", the record's
          other keys are its properties, Segment's envelope keys excepted; an event without an id gets one
          derived from its content, so re-importing the same file adds nothing)
Contacts: {"email":"a@x.com","properties":{"first_name":"Ada"},"tags":["vip"],"consent":"subscribed","created_at":"2025-11-02T08:30:00Z"}
          (consent also takes ESPs' words: bounced → cleaned, complained → unsubscribed, …; an unknown one is a
          warning and the contact is kept; created_at is when the contact was created, which rules read;
          a value of a field segsync.yaml declares is read as its type, and one that does not fit is left
          out with a warning naming the line and the field)
CSV:      columns email, name/event, time, id; "properties.x" columns (or any other column) become properties
          (the contact's, or the event's in an events file).
Rejected records are copied, exactly as they were, to NAME.rejects-YYYYMMDD-HHMMSS.EXT beside FILE (one
file per run; the CSV header first), and why each was rejected to NAME.rejects-….errors.txt. Fix the
records in the rejects file and import it: nothing imported before is added twice.
Exit code 1 when any record was rejected.`,
    )
    .action(async (kind: string, file: string, opts: { batchSize: number; json?: boolean }, cmd: Command) => {
      if (kind !== 'contacts' && kind !== 'events')
        throw new UsageError(`cannot import "${kind}"`, { hint: 'use `segsync import contacts FILE` or `segsync import events FILE`' });
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new UsageError(`cannot read ${file}`, { hint: 'check the path' });
      }
      if (!(opts.batchSize > 0)) throw new UsageError('--batch-size must be a positive whole number');
      const [{ importFile }, { openContext }, { startProgress }] = await Promise.all([
        import('../ingest/importer.js'),
        import('./context.js'),
        import('./progress.js'),
      ]);
      const ctx = openContext(cmd);
      const progress = startProgress(`import ${kind}`, size, 'bytes');
      let shown = 0;
      let warned = 0;
      try {
        const summary = await importFile({
          kind: kind as ImportKind,
          file,
          store: ctx.store,
          now: () => ctx.clock.now(),
          batchSize: opts.batchSize,
          ...(ctx.loaded ? { fields: ctx.loaded.config.fields } : {}),
          onBytes: (n) => progress.update(n),
          onReject: (r) => {
            if (shown++ < MAX_SHOWN_REJECTS && !opts.json) process.stderr.write(`${file}:${r.line}: ${r.error}\n`);
          },
          onWarning: (w) => {
            if (warned++ < MAX_SHOWN_REJECTS)
              process.stderr.write(`${file}:${w.line}: warning: "${w.field}": ${w.message}${w.hint ? `\n  hint: ${w.hint}` : ''}\n`);
          },
        });
        progress.stop();
        if (opts.json) printJson({ file, ...summary });
        else {
          process.stdout.write(
            `${kind}: ${summary.read.toLocaleString('en-US')} read, ${summary.imported.toLocaleString('en-US')} imported, ${summary.duplicates.toLocaleString('en-US')} duplicates dropped, ` +
              `${summary.contactsCreated.toLocaleString('en-US')} contacts created, ${summary.rejected.toLocaleString('en-US')} rejected` +
              `${summary.warnings ? `, ${summary.warnings.toLocaleString('en-US')} fields left out of kept records` : ''} ` +
              `in ${formatDuration(summary.elapsedMs)} (${formatRate(summary.read, summary.elapsedMs, 'records')}, ${formatBytes(size)})\n`,
          );
        }
        if (warned > MAX_SHOWN_REJECTS && !opts.json) process.stderr.write(`… and ${warned - MAX_SHOWN_REJECTS} more warnings\n`);
        if (summary.rejectsFile) {
          if (!opts.json) {
            if (shown > MAX_SHOWN_REJECTS) process.stderr.write(`… and ${shown - MAX_SHOWN_REJECTS} more\n`);
            process.stderr.write(
              `rejected records, as they were: ${summary.rejectsFile}\nwhy each was rejected: ${summary.errorsFile}\nfix them in the rejects file and import it again (\`segsync import ${kind} ${summary.rejectsFile}\`)\n`,
            );
          }
          process.exitCode = EXIT.failed;
        }
      } finally {
        progress.stop();
        ctx.close();
      }
    });
}
