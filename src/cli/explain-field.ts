/** `segsync explain EMAIL FIELD`: one field of one contact across the store and every ESP (see sync/explain-field.ts). */
import { UsageError } from '../errors';
import { explainField, renderFieldExplanation } from '../sync/explain-field';
import type { SyncMapping } from '../sync/mapping';
import type { CommandContext } from './context';

/** Prints the field explanation; throws `UsageError` for an unknown contact. */
export function runFieldExplain(ctx: CommandContext, mapping: SyncMapping, email: string, field: string, json: boolean): void {
  const x = explainField(ctx.store, mapping, email, field);
  if (!x) throw new UsageError(`no contact with email ${email}`, { hint: 'emails are matched trimmed and lower-cased; pull or import the contact first' });
  process.stdout.write(json ? `${JSON.stringify(x, null, 2)}\n` : `${renderFieldExplanation(x)}\n`);
}
