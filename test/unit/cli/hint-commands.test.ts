/**
 * Every `segsync …` command that an error hint or message quotes parses with the real command line:
 * a hint that names a command or option that does not exist sends the user nowhere.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/main';

const ROOT = join(__dirname, '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Sample values for a hint's `${…}` placeholders, by the expression's last word. */
const SAMPLES: Record<string, string> = { esp: 'hubspot', kind: 'events', file: 'state.json', port: '4101', rejectsFile: 'rejects.jsonl', command: 'push' };

/** A quoted command as a user would type it: placeholders filled, `[optional]` brackets and `a|b` choices resolved. */
function asTyped(quoted: string): string[] {
  const filled = quoted.replace(/\$\{([^}]*)\}/g, (_, expr: string) => SAMPLES[expr.split('.').pop()!.trim()] ?? 'x');
  return filled
    .replace(/[[\]]/g, '')
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => word.split('|')[0]!);
}

interface Quote {
  where: string;
  command: string;
}

/** Commands quoted inside string literals (hints and messages), not in comments. */
function quotedCommands(): Quote[] {
  const out: Quote[] = [];
  for (const file of [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'connectors'))]) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.trim();
        if (code.startsWith('*') || code.startsWith('//') || code.startsWith('/*')) return;
        for (const m of line.matchAll(/(\\?)`segsync ((?:[^`\\$]|\$\{[^}]*\})*)\\?`/g)) {
          const before = line.slice(0, m.index);
          // Inside a quoted string (an odd number of quotes before it), or an escaped backtick inside a template.
          const inString = m[1] === '\\' || (before.match(/(?<!\\)'/g) ?? []).length % 2 === 1 || (before.match(/(?<!\\)"/g) ?? []).length % 2 === 1;
          if (inString) out.push({ where: `${relative(ROOT, file)}:${i + 1}`, command: m[2]! });
        }
      });
  }
  return out;
}

/** The program with every action replaced by nothing and its output silenced: parsing only. */
function parserOnly(): Command {
  const program = buildProgram();
  const quiet = (c: Command): void => {
    c.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    if (c !== program) c.action(() => undefined);
    c.commands.forEach(quiet);
  };
  quiet(program);
  return program;
}

describe('commands quoted in hints', () => {
  const quotes = quotedCommands();

  it('finds the hints that quote commands', () => {
    expect(quotes.length).toBeGreaterThan(20);
  });

  // A hint may name a command without its arguments (`segsync import`): what must exist is the command and its options.
  const NAMING_ONLY = new Set(['commander.missingArgument', 'commander.optionMissingArgument']);

  it.each(quotes.map((q) => [q.where, q.command]))('%s: `segsync %s` parses', async (_where, command) => {
    const outcome = await parserOnly()
      .parseAsync(['node', 'segsync', ...asTyped(command)])
      .then(
        () => 'parsed',
        (err: { code?: string; message?: string }) => (NAMING_ONLY.has(err.code ?? '') ? 'parsed' : `${err.code}: ${err.message}`),
      );
    expect(outcome).toBe('parsed');
  });
});
