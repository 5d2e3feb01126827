/**
 * `segsync explain EMAIL SEGMENT`: the segment's rule for one contact as a tree, each
 * sub-expression with its value and the events that decided it, and when the answer next changes.
 * `segsync explain EMAIL FIELD` (a mapped field, or `email`): the field's value locally and on each
 * ESP, its change times, and every sync decision taken on it (explain-field.ts).
 */
import type { Command } from 'commander';
import { UsageError } from '../errors';
import { parseEvaluationTime } from './eval-time';

interface ExplainOptions {
  at?: string;
  asOf?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('explain')
    .description(
      'show why a contact is (or is not) in a segment: the rule as a tree with each value and the deciding events; or, for a mapped field, its value on each ESP, change times and sync decisions',
    )
    .argument('<email>', 'the contact')
    .argument('<segment>', 'the segment name from segsync.yaml, or a mapped field (or "email")')
    .option('--at <time>', 'evaluate as of this instant instead of now (RFC 3339, a date, or epoch ms; the same as segments --as-of)')
    .option('--as-of <time>', 'the same as --at')
    .option('--json', 'print JSON')
    .action((email: string, segment: string, opts: ExplainOptions, cmd: Command) => runExplain(email, segment, opts, cmd));
}

// What explaining needs (config, store, rules, mapping) loads when the command runs.
async function runExplain(email: string, segment: string, opts: ExplainOptions, cmd: Command): Promise<void> {
  const [{ closest }, { explainSegment, renderExplanation }, { explainableFields }, { resolveMapping }, { openContext }, { runFieldExplain }, { engineFor }] =
    await Promise.all([
      import('../config/closest.js'),
      import('../rules/explain.js'),
      import('../sync/explain-field.js'),
      import('../sync/mapping.js'),
      import('./context.js'),
      import('./explain-field.js'),
      import('./segments.js'),
    ]);
  const ctx = openContext(cmd, { requireConfig: true });
  try {
    const engine = await engineFor(ctx);
    const names = engine.rules.segments.map((s) => s.name);
    const mapping = resolveMapping(ctx.loaded!.config);
    const fields = explainableFields(mapping);
    if (!names.includes(segment) && fields.includes(segment)) return runFieldExplain(ctx, mapping, email, segment, opts.json ?? false);
    if (!names.includes(segment)) {
      const near = closest(segment, [...names, ...fields]);
      throw new UsageError(`no segment or mapped field "${segment}" in ${ctx.loaded!.file}`, {
        hint: near ? `did you mean "${near}"?` : `segments: ${names.join(', ')}; fields: ${fields.join(', ')}`,
      });
    }
    const contact = ctx.store.findContactByEmail(email);
    if (!contact) throw new UsageError(`no contact with email ${email}`, { hint: 'emails are matched trimmed and lower-cased; import the contact first' });
    const at = opts.at ?? opts.asOf;
    const now = at === undefined ? ctx.clock.now() : parseEvaluationTime(at, opts.at === undefined ? '--as-of' : '--at');
    const x = explainSegment(engine.rules, ctx.store, contact.id, segment, now)!;
    process.stdout.write(opts.json ? `${JSON.stringify(x, null, 2)}\n` : `${renderExplanation(x)}\n`);
  } finally {
    ctx.close();
  }
}
