/** The global options every command accepts, apart from context.ts so reading them loads no store or config code. */
import type { Command } from 'commander';
import type { LogFormat } from '../log/logger';

export interface GlobalOptions {
  config: string;
  store?: string;
  logLevel?: string;
  logFormat?: LogFormat;
}

/** Reads the global options from any (sub)command. */
export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}
