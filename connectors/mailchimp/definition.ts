/** Mailchimp, described for the registry: its segsync.yaml section, how to build it, how to start its sandbox. */
/* eslint-disable @typescript-eslint/no-require-imports -- the SDK loads only when a connector or sandbox is built */
import { z } from 'zod';
import { commonConnectorKeys, defineEsp, secret, url } from '../definition';
import type * as MailchimpModule from './index';
import type * as MailchimpSandboxModule from './sandbox';

/** Mailchimp allows 10 simultaneous connections per API key; an 11th gets 429. */
export const MAX_CONNECTIONS = 10;
/** Connections segsync uses unless told otherwise, leaving room for other tools on the key. */
export const DEFAULT_MAX_CONNECTIONS = 8;
/** How batch jobs (`/3.0/batches`) are waited for, shared by the segsync.yaml schema and the connector. */
export const MAILCHIMP_BATCH_DEFAULTS = { pollMs: 1_000, pollMaxMs: 30_000, timeoutMs: 600_000 } as const;

export const mailchimpConfigSchema = z
  .object({
    ...commonConnectorKeys,
    apiKey: secret,
    /** The audience (list) id. */
    listId: z.string().min(1),
    baseUrl: url.optional(),
    /** Secret token expected in the webhook URL. */
    webhookSecret: secret.optional(),
    /** Simultaneous connections (Mailchimp allows 10 per key). */
    maxConnections: z.number().int().min(1).max(MAX_CONNECTIONS).default(DEFAULT_MAX_CONNECTIONS),
    /** `date_format` of date merge fields segsync creates (Mailchimp offers these two). */
    dateFormat: z.enum(['MM/DD/YYYY', 'DD/MM/YYYY']).default('MM/DD/YYYY'),
    /** First wait before polling a batch job, ms (doubled after each poll that finds it running), and how long to wait for it. */
    batchPollMs: z.number().int().positive().default(MAILCHIMP_BATCH_DEFAULTS.pollMs),
    batchTimeoutMs: z.number().int().positive().default(MAILCHIMP_BATCH_DEFAULTS.timeoutMs),
  })
  .strict();

export type MailchimpConfig = z.infer<typeof mailchimpConfigSchema>;

export const mailchimpDefinition = defineEsp({
  esp: 'mailchimp',
  configSchema: mailchimpConfigSchema,
  sandboxCredential: 'sandbox-key-us1',
  connector: () => (require('./index') as typeof MailchimpModule).createMailchimpConnector,
  options: (mc, context): MailchimpModule.MailchimpConnectorOptions => ({
    apiKey: mc.apiKey,
    listId: mc.listId,
    baseUrl: mc.baseUrl,
    maxConnections: mc.maxConnections,
    dateFormat: mc.dateFormat,
    batchPollMs: mc.batchPollMs,
    batchTimeoutMs: mc.batchTimeoutMs,
    webhookSecret: mc.webhookSecret,
    webhookUrl: mc.webhookSecret ? context.webhookUrl : undefined,
    ownedTags: context.ownedTags,
    ownedTagPrefix: context.ownedTagPrefix,
  }),
  sandbox: (common, credential, webhookSecret) =>
    (require('./sandbox') as typeof MailchimpSandboxModule).startMailchimpSandbox({
      ...common,
      apiKey: credential,
      ...(webhookSecret ? { webhookSecret } : {}),
    }),
  usage: (server, credential, webhookSecret) =>
    `connectors.mailchimp: baseUrl ${server.url}, apiKey "${credential}", listId ${server.listId}${webhookSecret ? `, webhookSecret "${webhookSecret}"` : ''}`,
});
