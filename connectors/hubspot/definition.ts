/** HubSpot, described for the registry: its segsync.yaml section, how to build it, how to start its sandbox. */
/* eslint-disable @typescript-eslint/no-require-imports -- the SDK loads only when a connector or sandbox is built */
import { z } from 'zod';
import { DEFAULT_TAG_PROPERTY, commonConnectorKeys, defineEsp, secret, tagMapping, url } from '../definition';
import { definedOnly } from '../defined';
import type * as HubspotModule from './index';
import type * as HubspotSandboxModule from './sandbox';

/** Property group segsync creates its HubSpot properties in, unless told otherwise. */
export const DEFAULT_PROPERTY_GROUP = 'segsync';

export const hubspotConfigSchema = z
  .object({
    ...commonConnectorKeys,
    accessToken: secret,
    /** Signs webhooks (the app's client secret). */
    clientSecret: secret.optional(),
    baseUrl: url.optional(),
    /** Plan tier: sets the 10-second limit (free/starter 100, professional/enterprise 190). */
    tier: z.enum(['free', 'starter', 'professional', 'enterprise']).default('free'),
    /** Override the tier's limits (e.g. an API capacity pack). */
    requestsPer10s: z.number().int().positive().optional(),
    dailyLimit: z.number().int().positive().optional(),
    searchPerSecond: z.number().int().positive().default(4),
    tags: tagMapping.default({ property: DEFAULT_TAG_PROPERTY, lists: false }),
    /** Property group segsync creates its HubSpot properties in (default `segsync`). */
    propertyGroup: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'lower-case letters, digits and _')
      .optional(),
    /** segsync's HubSpot app id: webhook property changes with this sourceId are its own writes. */
    appId: z.string().min(1).optional(),
    /** Email subscription types an unsubscribe covers (default: every active one on the account). */
    subscriptionIds: z.array(z.string().min(1)).optional(),
  })
  .strict();

export type HubspotConfig = z.infer<typeof hubspotConfigSchema>;

export const hubspotDefinition = defineEsp({
  esp: 'hubspot',
  configSchema: hubspotConfigSchema,
  sandboxCredential: 'sandbox-token',
  connector: () => (require('./index') as typeof HubspotModule).createHubspotConnector,
  options: (hs, context): HubspotModule.HubspotConnectorOptions => ({
    accessToken: hs.accessToken,
    baseUrl: hs.baseUrl,
    tier: hs.tier,
    limits: definedOnly({ requestsPer10s: hs.requestsPer10s, dailyLimit: hs.dailyLimit, searchPerSecond: hs.searchPerSecond }),
    tagProperty: hs.tags.property,
    tagLists: hs.tags.lists,
    clientSecret: hs.clientSecret,
    propertyGroup: hs.propertyGroup,
    appId: hs.appId,
    subscriptionIds: hs.subscriptionIds,
    webhookUrl: context.webhookUrl,
  }),
  sandbox: (common, credential, webhookSecret) =>
    (require('./sandbox') as typeof HubspotSandboxModule).startHubspotSandbox({
      ...common,
      accessToken: credential,
      ...(webhookSecret ? { clientSecret: webhookSecret } : {}),
    }),
  usage: (server, credential, webhookSecret) =>
    `connectors.hubspot: baseUrl ${server.url}, accessToken "${credential}", app id ${server.appId}${webhookSecret ? `, clientSecret "${webhookSecret}"` : ''}`,
});
