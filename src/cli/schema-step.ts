/**
 * The schema step of a command that sends an ESP's queue (push, retry): the ESP's fields, options and
 * tags are read and completed once per run before anything is sent, so a value the last run could
 * not write because its option or property was missing goes once segsync.yaml names it.
 */
import type { EspName } from '../model/types';
import type { SyncContext } from './sync-context';

/** What the schema step did on one ESP, for the command's JSON output. */
export interface SchemaStep {
  created: string[];
  updated: string[];
  problems: unknown[];
  requests: number;
}

/** Reads and completes an ESP's schema, saying what it created and each field it cannot hold; throws when the ESP cannot be read. */
export async function completeSchema(ctx: SyncContext, esp: EspName, say: (text: string) => void): Promise<SchemaStep> {
  const connector = ctx.connectors.get(esp)!;
  const before = connector.requestCount();
  const report = await ctx.engine.ensureSchema(esp);
  if (report.created.length || report.updated.length)
    say(`${esp}: created ${report.created.join(', ') || 'nothing'}; updated ${report.updated.join(', ') || 'nothing'}\n`);
  for (const p of report.problems) process.stderr.write(`${esp}: field ${p.field}: ${p.message}${p.hint ? ` (${p.hint})` : ''}\n`);
  return { created: report.created, updated: report.updated, problems: report.problems, requests: connector.requestCount() - before };
}
