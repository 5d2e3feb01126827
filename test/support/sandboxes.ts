/**
 * The three vendor sandboxes, started in-process on loopback ports, and a segsync config pointing
 * the real connectors (and so the real SDKs) at them over HTTP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnectors } from '../../connectors/registry';
import { startHubspotSandbox } from '../../connectors/hubspot/sandbox';
import type { HubspotSandbox } from '../../connectors/hubspot/sandbox';
import { startKlaviyoSandbox } from '../../connectors/klaviyo/sandbox';
import type { KlaviyoSandbox } from '../../connectors/klaviyo/sandbox';
import { startMailchimpSandbox } from '../../connectors/mailchimp/sandbox';
import type { MailchimpSandbox } from '../../connectors/mailchimp/sandbox';
import { parseConfig } from '../../src/config/load';
import type { SegsyncConfig } from '../../src/config/schema';
import { createLogger } from '../../src/log/logger';
import { ManualClock, systemClock } from '../../src/model/clock';
import type { Clock } from '../../src/model/clock';
import type { EspName } from '../../src/model/types';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { storeNotes } from '../../src/sync/connector-notes';
import { SyncEngine } from '../../src/sync/engine';

export interface Sandboxes {
  hubspot: HubspotSandbox;
  mailchimp: MailchimpSandbox;
  klaviyo: KlaviyoSandbox;
  close(): Promise<void>;
}

/**
 * Starts the three sandboxes: without limits (default), with the vendors' real limits, or `tight`:
 * far below what the connectors assume, so they meet 429s all the time (a storm). Klaviyo's bulk jobs
 * complete at once unless `klaviyoJobMs` says how long they take.
 */
export async function startSandboxes(options: { limits?: 'off' | 'real' | 'tight'; clock?: Clock; klaviyoJobMs?: number } = {}): Promise<Sandboxes> {
  const mode = options.limits ?? 'off';
  const on = mode !== 'off';
  const clock = options.clock ? { clock: options.clock } : {};
  const [hubspot, mailchimp, klaviyo] = await Promise.all([
    startHubspotSandbox({ ...clock, accessToken: 'hs-token', rateLimits: mode === 'tight' ? { tenSecondly: { limit: 10, windowMs: 1000 } } : on }),
    // Tight Mailchimp: another tool holds all connections but one, and each answer takes 150 ms, so
    // calls sent together surely overlap whatever else the machine is doing.
    startMailchimpSandbox({ ...clock, apiKey: 'mc-key-us1', rateLimits: on, ...(mode === 'tight' ? { maxConnections: 1, latencyMs: 150 } : {}) }),
    startKlaviyoSandbox({
      ...clock,
      apiKey: 'pk_test',
      rateLimits:
        mode === 'tight'
          ? { 'bulkJobs.burst': { limit: 1, windowMs: 1000, kind: 'fixed' }, 'profiles.burst': { limit: 5, windowMs: 1000, kind: 'fixed' } }
          : on,
      jobDurationMs: options.klaviyoJobMs ?? 0,
    }),
  ]);
  return { hubspot, mailchimp, klaviyo, close: async () => void (await Promise.all([hubspot.close(), mailchimp.close(), klaviyo.close()])) };
}

/** segsync.yaml lines mapping one field, `first_name` (latest change wins), to each vendor's first-name field. */
export const FIRST_NAME_MAPPING = `fields:
  first_name: { type: string, conflict: latest }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
`;

export const SECRETS = { HS_TOKEN: 'hs-token', MC_KEY: 'mc-key-us1', KL_KEY: 'pk_test' };

/** segsync.yaml's `connectors:` section for the three sandboxes, their keys read from SECRETS' variables. */
export function sandboxConnectorsYaml(s: Sandboxes): string {
  return `connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: "${s.hubspot.url}" }
  mailchimp: { apiKey: "\${MC_KEY}", listId: ${s.mailchimp.listId}, baseUrl: "${s.mailchimp.url}" }
  klaviyo: { apiKey: "\${KL_KEY}", baseUrl: "${s.klaviyo.url}", jobPollIntervalMs: 50 }`;
}

/** segsync.yaml lines of a segment pushed to all three ESPs as a tag. */
export function segmentToAllYaml(name: string, rule: string): string {
  return `  ${name}:
    rule: ${rule}
    push: [{ esp: hubspot }, { esp: mailchimp }, { esp: klaviyo }]`;
}

/**
 * A daemon's segsync.yaml over the three sandboxes, with one local field, `plan`, these segments'
 * lines, any other sections (`extra`) and the `daemon:` section's settings.
 */
export function planDaemonYaml(s: Sandboxes, o: { db: string; segments: string[]; daemon: string; extra?: string }): string {
  return `version: 1
store: { path: ${o.db} }
fields:
  plan: { type: string }
${sandboxConnectorsYaml(s)}
segments:
${o.segments.join('\n')}
${o.extra ?? ''}daemon: { ${o.daemon} }
`;
}

/** A config for the three sandboxes with the given extra YAML (fields, mappings, segments …). */
export function sandboxConfig(s: Sandboxes, extra: string, hubspotPer10s = 10_000): SegsyncConfig {
  const text = `version: 1
connectors:
  hubspot:
    accessToken: \${HS_TOKEN}
    baseUrl: ${s.hubspot.url}
    requestsPer10s: ${hubspotPer10s}
  mailchimp:
    apiKey: \${MC_KEY}
    listId: ${s.mailchimp.listId}
    baseUrl: ${s.mailchimp.url}
  klaviyo:
    apiKey: \${KL_KEY}
    baseUrl: ${s.klaviyo.url}
${extra}`;
  return parseConfig(text, 'segsync.yaml', { env: SECRETS }).config;
}

export interface Harness {
  store: SqliteStore;
  engine: SyncEngine;
  esps: EspName[];
  dir: string;
  /** Enqueues every contact and drains every ESP. */
  pushAll(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A store in a temp folder and a sync engine on real connectors for a config (on the system clock
 * unless given one). With `storePath`, the engine opens that store instead, as another process would.
 */
export function harness(config: SegsyncConfig, onContactsChanged?: (ids: number[]) => void, clock: Clock = systemClock, storePath?: string): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'segsync-it-'));
  const store = new SqliteStore({ path: storePath ?? join(dir, 'segsync.db') });
  const logger = createLogger({ level: 'silent' });
  // The store's notes, as the daemon and the CLI give their connectors.
  const connectors = createConnectors(config, { clock, logger, ownedTags: config.tags.owned.names, notesFor: (esp) => storeNotes(store, esp, clock) });
  const engine = new SyncEngine({ config, store, connectors, clock, logger, ...(onContactsChanged ? { onContactsChanged } : {}) });
  const esps = engine.esps;
  return {
    store,
    engine,
    esps,
    dir,
    pushAll: async () => {
      for (const e of esps) await engine.ensureSchema(e);
      engine.enqueueAll();
      await Promise.all(esps.map((e) => engine.drainAll(e)));
    },
    close: async () => {
      for (const c of connectors.values()) await c.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Contact write calls each sandbox has served so far (reads and schema set-up excluded). */
export function writeCalls(s: Sandboxes): Record<EspName, number> {
  const count = (rows: [string, number][], write: RegExp): number => rows.filter(([route]) => write.test(route)).reduce((n, [, c]) => n + c, 0);
  return {
    hubspot: count(Object.entries(s.hubspot.stats().requests), /^POST \/crm\/v3\/objects\/contacts\/batch\/(upsert|update|create)$|memberships/),
    mailchimp: count(
      Object.entries(s.mailchimp.stats().calls),
      /^POST \/3\.0\/lists\/:listId$|^POST \/3\.0\/lists\/:listId\/segments\/:segmentId$|^(PUT|PATCH|POST) \/3\.0\/lists\/:listId\/members\/[^/]+(\/tags)?$/,
    ),
    klaviyo: count(
      [...s.klaviyo.calls.entries()],
      /^(POST \/api\/profile-import|PATCH \/api\/profiles\/:id|POST \/api\/profile-bulk-import-jobs|(POST|DELETE) \/api\/lists\/:id\/relationships\/profiles)$/,
    ),
  };
}

/** Write calls made since `before` (a `writeCalls` reading). */
export function callsSince(s: Sandboxes, before: Record<EspName, number>): Record<EspName, number> {
  const now = writeCalls(s);
  return { hubspot: now.hubspot - before.hubspot, mailchimp: now.mailchimp - before.mailchimp, klaviyo: now.klaviyo - before.klaviyo };
}

/** A person's first name edited where they would edit it: locally, or in an ESP's own UI. */
export function editFirstName(s: Sandboxes, h: Harness, where: 'local' | EspName, contact: { id: number; email: string }, name: string, at: number): void {
  if (where === 'local') h.store.setProperty(contact.id, 'first_name', { value: name, updatedAt: at, source: 'local' });
  else if (where === 'hubspot') s.hubspot.edit(contact.email, { firstname: name });
  else if (where === 'mailchimp') s.mailchimp.admin.update(contact.email, { merges: { FNAME: name } });
  else s.klaviyo.seedProfile({ email: contact.email, first_name: name });
}

/** A person's email changed locally, or in an ESP's own UI (Mailchimp's member gets a new id). */
export function changeEmail(s: Sandboxes, h: Harness, where: 'local' | EspName, contact: { id: number; email: string }, email: string): void {
  if (where === 'local') h.store.changeEmail(contact.id, email);
  else if (where === 'hubspot') s.hubspot.edit(contact.email, { email });
  else if (where === 'mailchimp') s.mailchimp.admin.changeEmail(contact.email, email);
  else s.klaviyo.state.patchProfile(s.klaviyo.profileByEmail(contact.email)!.id, { attributes: { email } });
}

/**
 * One run of a randomized soak: three fresh sandboxes and a store on a manual clock starting at
 * `startAt`, closed whatever the run does.
 */
export async function soakRun(mapping: string, startAt: number, body: (s: Sandboxes, h: Harness, clock: ManualClock) => Promise<void>): Promise<void> {
  const clock = new ManualClock(startAt);
  const s = await startSandboxes({ clock });
  const h = harness(sandboxConfig(s, mapping), undefined, clock);
  try {
    await body(s, h, clock);
  } finally {
    await h.close();
    await s.close();
  }
}
