/**
 * What most commands need: the config (optional for some), the store, a clock and a logger, opened
 * from the global options and closed once at the end.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfigFile } from '../config/load';
import type { LoadedConfig } from '../config/load';
import { createLogger } from '../log/logger';
import type { Logger } from '../log/logger';
import { systemClock } from '../model/clock';
import type { Clock } from '../model/clock';
import { openStoreAt } from './open-store';
import type { SqliteStore } from '../store/sqlite/sqlite-store';
import { envSetting } from '../config/env';
import { globalOptions } from './global-options';

export interface CommandContext {
  /** The loaded config, or undefined when the file does not exist and the command allows that. */
  loaded: LoadedConfig | undefined;
  store: SqliteStore;
  clock: Clock;
  logger: Logger;
  close(): void;
}

/**
 * Opens config and store for a command. Without `requireConfig`, a missing config file means defaults.
 * ESP credentials are resolved only for commands that call the ESPs (`callsEsps`). With
 * `storeMustExist`, a store path with no store is an error (read-only commands).
 */
export function openContext(cmd: Command, options: { requireConfig?: boolean; callsEsps?: boolean; storeMustExist?: boolean } = {}): CommandContext {
  const g = globalOptions(cmd);
  const configPath = resolve(g.config);
  const secrets = { connectors: options.callsEsps ?? false, daemon: false };
  const loaded = options.requireConfig || existsSync(configPath) ? loadConfigFile(configPath, { secrets }) : undefined;
  const storePath = g.store ?? envSetting('SEGSYNC_STORE') ?? resolve(loaded?.config.store.path ?? '.segsync/segsync.db');
  const store = openStoreAt(storePath, { mustExist: options.storeMustExist ?? false, ...(loaded ? { durability: loaded.config.store.durability } : {}) });
  const logger = createLogger({ level: g.logLevel, ...(g.logFormat ? { format: g.logFormat } : {}) });
  return { loaded, store, clock: systemClock, logger, close: () => store.close() };
}
