/**
 * The `segsync` command line: one file per command, each exporting `register(program)`. Registering
 * loads only the commands' options; each action imports what it uses when it runs, so `--help` or
 * `status` never loads a vendor SDK, the daemon's server or the template renderers.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, SegsyncError, UsageError, describeError } from '../errors';
import packageJson from '../../package.json';
import type { DaemonServices } from '../daemon/services';
import { EXIT } from './exit-codes';
import type { DaemonContext } from './daemon';
import * as demoCmd from './demo-command';
import * as daemonCmd from './daemon';
import * as eraseCmd from './erase';
import * as explainCmd from './explain';
import * as importCmd from './import';
import * as initCmd from './init';
import * as membersCmd from './members';
import * as previewCmd from './preview-command';
import * as pullCmd from './pull';
import * as pushCmd from './push';
import * as reconcileCmd from './reconcile';
import * as retryCmd from './retry';
import * as sandboxCmd from './sandbox';
import * as segmentsCmd from './segments';
import * as statusCmd from './status';
import * as unlinkCmd from './unlink';
import { envSetting } from '../config/env';

const COMMANDS: { register(program: Command): void }[] = [
  demoCmd,
  initCmd,
  importCmd,
  statusCmd,
  segmentsCmd,
  membersCmd,
  explainCmd,
  previewCmd,
  pullCmd,
  pushCmd,
  reconcileCmd,
  retryCmd,
  eraseCmd,
  sandboxCmd,
  unlinkCmd,
  { register: (program) => daemonCmd.register(program, createServices) },
];

/** The product's daemon services (src/daemon/wire.ts), loaded when the daemon starts. */
async function createServices(ctx: DaemonContext): Promise<DaemonServices> {
  return (await import('../daemon/wire.js')).createServices(ctx);
}

/** Builds the program (exported for tests that drive it in-process). */
export function buildProgram(): Command {
  const program = new Command('segsync')
    .description('Two-way contact sync with HubSpot, Mailchimp and Klaviyo, local behavioral segments, email previews.')
    .version(packageJson.version)
    .option('-c, --config <file>', 'config file', envSetting('SEGSYNC_CONFIG') ?? 'segsync.yaml')
    .option('--store <file>', 'SQLite store file (default: store.path from the config, else .segsync/segsync.db)')
    .option('--log-level <level>', 'log level on stderr: debug, info, warn, error', undefined)
    .addOption(
      new Option(
        '--log-format <format>',
        'logs on stderr as readable lines (pretty, the default on a terminal) or JSON lines (json, the default otherwise); or $SEGSYNC_LOG_FORMAT',
      ).choices(['pretty', 'json']),
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const c of COMMANDS) c.register(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

/** Runs the CLI and exits with 0 (ok), 1 (failed) or 2 (bad usage). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    process.exitCode = process.exitCode ?? EXIT.ok;
  } catch (err) {
    process.exitCode = exitCodeFor(err);
    if (!(err instanceof CommanderError)) process.stderr.write(`segsync: ${describeError(err)}\n`);
  }
}

/** Maps an error to the documented exit code. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof UsageError || err instanceof ConfigError) return EXIT.usage;
  if (err instanceof SegsyncError) return EXIT.failed;
  return EXIT.failed;
}
