/**
 * `segsync members SEGMENT`: the contacts in a segment, as stored by the last evaluation, written as CSV
 * or JSON lines for a spreadsheet, another tool or a file.
 */
import { isMember } from '../model/membership';
import type { Command } from 'commander';
import { Option } from 'commander';
import { UsageError } from '../errors';
import type { FieldValue } from '../model/types';

type MembersFormat = 'csv' | 'jsonl';

interface Member {
  email: string;
  value: FieldValue;
  since: number;
}

/**
 * One CSV cell (RFC 4180: quoted when it holds a comma, quote or line break). By hand because the
 * project has csv-parse but no CSV writer, and a cell is all that is needed.
 */
export function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A member's line in `format`; `withValue` for value segments (a flag's value is always true). */
export function memberLine(m: Member, format: MembersFormat, withValue: boolean): string {
  const since = new Date(m.since).toISOString();
  if (format === 'jsonl') return JSON.stringify(withValue ? { email: m.email, value: m.value, since } : { email: m.email, since });
  const cells = withValue ? [m.email, typeof m.value === 'string' ? m.value : JSON.stringify(m.value), since] : [m.email, since];
  return cells.map(csvCell).join(',');
}

/** Registers `segsync members`. */
export function register(program: Command): void {
  program
    .command('members')
    .description('list the contacts in a segment (email, value for value segments, member since) as CSV or JSON lines')
    .argument('<segment>', 'a segment name from segsync.yaml')
    .addOption(new Option('--format <format>', 'csv (with a header row) or jsonl').choices(['csv', 'jsonl']).default('csv'))
    .addHelpText(
      'after',
      `
Members are as stored by the last evaluation (\`segsync segments\`, or the running daemon); run
\`segsync segments\` first for answers as of now. Contacts are in the order they were first stored.
Example: segsync members vip --format csv > vip.csv`,
    )
    .action(async (segment: string, opts: { format: MembersFormat }, cmd: Command) => {
      const { openContext } = await import('./context.js');
      const ctx = openContext(cmd, { requireConfig: true, storeMustExist: true });
      try {
        const config = ctx.loaded!.config;
        const def = config.segments[segment];
        if (!def)
          throw new UsageError(`unknown segment "${segment}"`, {
            hint: `segments in ${ctx.loaded!.file}: ${Object.keys(config.segments).join(', ') || 'none'}`,
          });
        const states = new Map<number, { value: FieldValue; since: number }>();
        let evaluated = false;
        for (const [contactId, name, raw, since] of ctx.store.scanSegmentStates()) {
          if (name !== segment) continue;
          evaluated = true;
          const value = JSON.parse(raw) as FieldValue;
          if (isMember(value)) states.set(contactId, { value, since });
        }
        if (!evaluated) throw new UsageError(`segment "${segment}" has not been computed yet`, { hint: 'run `segsync segments` first' });
        const withValue = def.type === 'value';
        const out: string[] = [];
        if (opts.format === 'csv') out.push(withValue ? 'email,value,since' : 'email,since');
        for (const [id, email] of ctx.store.scanContacts()) {
          const s = states.get(id);
          if (s) out.push(memberLine({ email, ...s }, opts.format, withValue));
          if (out.length >= 10_000) process.stdout.write(`${out.splice(0).join('\n')}\n`);
        }
        if (out.length) process.stdout.write(`${out.join('\n')}\n`);
      } finally {
        ctx.close();
      }
    });
}
