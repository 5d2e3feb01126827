/** Klaviyo, described for the registry: its segsync.yaml section, how to build it, how to start its sandbox. */
/* eslint-disable @typescript-eslint/no-require-imports -- the SDK (~400 ms to load) loads only when a connector or sandbox is built */
import { z } from 'zod';
import { DEFAULT_LIST_PREFIX, DEFAULT_TAG_PROPERTY, commonConnectorKeys, defineEsp, secret, tagMapping, url } from '../definition';
import type * as KlaviyoModule from './index';
import type * as KlaviyoSandboxModule from './sandbox';

/** The connector's defaults, shared by the segsync.yaml schema and the connector's own options. */
export const KLAVIYO_DEFAULTS = {
  bulkThreshold: 100,
  jobPollIntervalMs: 1_000,
  jobTimeoutMs: 10 * 60_000,
} as const;

export const klaviyoConfigSchema = z
  .object({
    ...commonConnectorKeys,
    // Klaviyo reports no deletions (no webhook; its listings leave deleted profiles out): segsync learns of
    // one when a write by id answers 404, which an API key of another account answers too. Erasing
    // everywhere on that evidence could wipe a whole store, so a deletion there only unlinks.
    onDelete: z
      .enum(['unlink'], {
        message:
          'Klaviyo reports no deletions, so only "unlink" is possible: a profile deleted there is unlinked when a write finds it gone; erase a person everywhere with `segsync erase EMAIL`',
      })
      .default('unlink'),
    apiKey: secret,
    baseUrl: url.optional(),
    webhookSecret: secret.optional(),
    tags: tagMapping.default({ property: DEFAULT_TAG_PROPERTY, lists: false }),
    /** Name prefix of the static lists tags are mirrored to (`tags.lists: true`). */
    listPrefix: z.string().default(DEFAULT_LIST_PREFIX),
    /** A push with at least this many sendable changes goes through a bulk import job. */
    bulkThreshold: z.number().int().positive().default(KLAVIYO_DEFAULTS.bulkThreshold),
    /** How often a bulk import job is polled, and how long to wait for it, ms. */
    jobPollIntervalMs: z.number().int().positive().default(KLAVIYO_DEFAULTS.jobPollIntervalMs),
    jobTimeoutMs: z.number().int().positive().default(KLAVIYO_DEFAULTS.jobTimeoutMs),
    /** Klaviyo metric names pulled as engagement events (default: email engagement and commerce metrics). */
    eventMetrics: z.array(z.string().min(1)).optional(),
    /** Subscribe consenting new profiles to this list (its opt-in setting applies) instead of account level. */
    subscribeListId: z.string().min(1).optional(),
  })
  .strict();

export type KlaviyoConfig = z.infer<typeof klaviyoConfigSchema>;

export const klaviyoDefinition = defineEsp({
  esp: 'klaviyo',
  configSchema: klaviyoConfigSchema,
  sandboxCredential: 'pk_sandbox',
  connector: () => (require('./index') as typeof KlaviyoModule).createKlaviyoConnector,
  options: (kl): KlaviyoModule.KlaviyoConnectorOptions => ({
    apiKey: kl.apiKey,
    baseUrl: kl.baseUrl,
    tagProperty: kl.tags.property,
    tagLists: kl.tags.lists,
    listPrefix: kl.listPrefix,
    bulkThreshold: kl.bulkThreshold,
    jobPollIntervalMs: kl.jobPollIntervalMs,
    jobTimeoutMs: kl.jobTimeoutMs,
    eventMetrics: kl.eventMetrics,
    subscribeListId: kl.subscribeListId,
    webhookSecret: kl.webhookSecret,
  }),
  sandbox: (common, credential, webhookSecret) =>
    (require('./sandbox') as typeof KlaviyoSandboxModule).startKlaviyoSandbox({ ...common, apiKey: credential, ...(webhookSecret ? { webhookSecret } : {}) }),
  usage: (server, credential, webhookSecret) =>
    `connectors.klaviyo: baseUrl ${server.url}, apiKey "${credential}"${webhookSecret ? `, webhookSecret "${webhookSecret}"` : ''}`,
});
