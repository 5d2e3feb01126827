/**
 * What the sync commands share: the command context plus connectors built from the config and the
 * sync engine over them.
 */
import type { Command } from 'commander';
import type { Connector } from '../../connectors/connector';
import { createConnectors } from '../../connectors/registry';
import { UsageError } from '../errors';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';
import { SegmentEngine } from '../rules/engine';
import { storeNotes } from '../sync/connector-notes';
import { SyncEngine } from '../sync/engine';
import { openContext } from './context';
import type { CommandContext } from './context';

export interface SyncContext extends CommandContext {
  engine: SyncEngine;
  /** The rules, when the config defines segments (evaluated from the store, contact by contact). */
  segments: SegmentEngine | undefined;
  connectors: Map<EspName, Connector>;
  /** The ESPs this command works on. */
  esps: EspName[];
}

/** Parses `--esp` (one or a comma-separated list) against the configured ESPs. */
export function parseEsps(value: string | undefined, configured: EspName[]): EspName[] {
  if (!value) return configured;
  const asked = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const a of asked) {
    if (!(ESP_NAMES as readonly string[]).includes(a)) throw new UsageError(`unknown ESP "${a}"`, { hint: `use one of ${ESP_NAMES.join(', ')}` });
    if (!configured.includes(a as EspName)) throw new UsageError(`${a} is not configured`, { hint: `add connectors.${a} to segsync.yaml` });
  }
  return asked as EspName[];
}

/** Opens the store, builds the connectors of the configured ESPs and the sync engine. */
export function openSyncContext(cmd: Command, espOption?: string): SyncContext {
  const ctx = openContext(cmd, { requireConfig: true, callsEsps: true });
  const config = ctx.loaded!.config;
  try {
    const configured = ESP_NAMES.filter((e) => config.connectors[e]?.enabled);
    if (!configured.length) throw new UsageError('no ESP is configured', { hint: 'add a connectors section to segsync.yaml' });
    const esps = parseEsps(espOption, configured);
    const ownedTags = config.tags.owned.names;
    const connectors = createConnectors(config, {
      clock: ctx.clock,
      logger: ctx.logger,
      notesFor: (esp) => storeNotes(ctx.store, esp, ctx.clock),
      only: esps,
      ownedTags,
      ...(config.daemon.publicUrl ? { publicUrl: config.daemon.publicUrl } : {}),
    });
    const segments = Object.keys(config.segments).length ? SegmentEngine.fromConfig(ctx.loaded!, ctx.store, ctx.clock) : undefined;
    const engine = new SyncEngine({
      config,
      store: ctx.store,
      connectors,
      clock: ctx.clock,
      logger: ctx.logger,
      sender: cmd.name(),
      ...(segments
        ? { onContactsChanged: (ids: number[], cause: 'contacts' | 'events') => void (cause === 'events' ? segments.onEvents(ids) : segments.onContacts(ids)) }
        : {}),
    });
    return {
      ...ctx,
      engine,
      segments,
      connectors,
      esps,
      close: () => {
        for (const c of connectors.values()) void c.close();
        engine.close();
        ctx.close();
      },
    };
  } catch (err) {
    ctx.close();
    throw err;
  }
}
