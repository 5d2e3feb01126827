import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { SegsyncError } from '../errors';
import { packageRoot } from '../package-root';

/** Where the example config and templates ship inside the package. */
function examplesDir(): string {
  return join(packageRoot(), 'templates');
}

/** Files `init` would write into `target`: the example config and every example template. */
export function initPlan(target: string): { from: string; to: string }[] {
  const examples = examplesDir();
  const plan = [{ from: join(examples, 'segsync.yaml'), to: join(target, 'segsync.yaml') }];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const from = join(dir, entry.name);
      if (entry.isDirectory()) walk(from);
      else if (from !== plan[0]!.from) plan.push({ from, to: join(target, 'templates', relative(examples, from)) });
    }
  };
  walk(examples);
  return plan;
}

/** `segsync init`: writes a commented example segsync.yaml and example templates, never overwriting. */
export function register(program: Command): void {
  program
    .command('init')
    .description('write an example segsync.yaml and example templates into a folder (never overwrites)')
    .option('--dir <folder>', 'where to write', '.')
    .action((opts: { dir: string }) => {
      const target = resolve(opts.dir);
      const plan = initPlan(target);
      const existing = plan.filter((p) => existsSync(p.to)).map((p) => relative(process.cwd(), p.to) || p.to);
      if (existing.length) {
        throw new SegsyncError(
          'E_EXISTS',
          `not overwriting existing files: ${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ` and ${existing.length - 5} more` : ''}`,
          {
            hint: 'move them away, or run `segsync init --dir NEW_FOLDER`',
          },
        );
      }
      for (const p of plan) cpSync(p.from, p.to, { errorOnExist: true, force: false });
      process.stdout.write(`wrote ${plan.length} files into ${target}:\n${plan.map((p) => `  ${relative(target, p.to)}`).join('\n')}\n`);
      process.stdout.write('next: export the secrets the config names (e.g. HUBSPOT_ACCESS_TOKEN), then `segsync status`\n');
    });
}
