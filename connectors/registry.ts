/**
 * Builds connectors and sandboxes from configuration: the only place that names a vendor folder.
 * Vendors load lazily (klaviyo-api alone takes ~400 ms to require), so commands that do not talk to an
 * ESP stay fast.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy vendor loading, typed through `typeof import` */
import type { SegsyncConfig } from '../src/config/schema';
import type { EspName } from '../src/model/types';
import type { Connector, ConnectorDeps, SandboxOptions, SandboxServer } from './connector';
import type * as HubspotModule from './hubspot';
import type * as HubspotSandboxModule from './hubspot/sandbox';
import type * as KlaviyoModule from './klaviyo';
import type * as KlaviyoSandboxModule from './klaviyo/sandbox';
import type * as MailchimpModule from './mailchimp';
import type * as MailchimpSandboxModule from './mailchimp/sandbox';

export interface RegistryOptions extends ConnectorDeps {
  /** Public base URL of the daemon (webhook URLs are derived from it, and signatures cover them). */
  publicUrl?: string;
  /** Tags segsync owns (Mailchimp reconciles their membership on pull). */
  ownedTags?: string[];
  /** Only these ESPs (default: every enabled one). */
  only?: readonly EspName[];
}


/** The webhook URL the daemon serves for an ESP. */
export function webhookUrl(publicUrl: string, esp: EspName): string {
  return new URL(`/webhooks/${esp}`, publicUrl).toString();
}

/** One connector per enabled ESP in the config. */
export function createConnectors(config: SegsyncConfig, options: RegistryOptions): Map<EspName, Connector> {
  const deps: ConnectorDeps = { clock: options.clock, logger: options.logger };
  const out = new Map<EspName, Connector>();
  const wanted = (esp: EspName): boolean => !options.only || options.only.includes(esp);
  const hs = config.connectors.hubspot;
  if (hs?.enabled && wanted('hubspot')) {
    const { createHubspotConnector } = require('./hubspot') as typeof HubspotModule;
    out.set(
      'hubspot',
      createHubspotConnector(
        {
          accessToken: hs.accessToken,
          ...(hs.baseUrl ? { baseUrl: hs.baseUrl } : {}),
          tier: hs.tier,
          limits: { ...(hs.requestsPer10s ? { requestsPer10s: hs.requestsPer10s } : {}), ...(hs.dailyLimit ? { dailyLimit: hs.dailyLimit } : {}), searchPerSecond: hs.searchPerSecond },
          ...(hs.tags.property ? { tagProperty: hs.tags.property } : {}),
          tagLists: hs.tags.lists,
          ...(hs.clientSecret ? { clientSecret: hs.clientSecret } : {}),
          ...(hs.propertyGroup ? { propertyGroup: hs.propertyGroup } : {}),
          ...(hs.appId ? { appId: hs.appId } : {}),
          ...(hs.subscriptionIds ? { subscriptionIds: hs.subscriptionIds } : {}),
          ...(options.publicUrl ? { webhookUrl: webhookUrl(options.publicUrl, 'hubspot') } : {}),
        },
        deps,
      ),
    );
  }
  const mc = config.connectors.mailchimp;
  if (mc?.enabled && wanted('mailchimp')) {
    const { createMailchimpConnector } = require('./mailchimp') as typeof MailchimpModule;
    out.set(
      'mailchimp',
      createMailchimpConnector(
        {
          apiKey: mc.apiKey,
          listId: mc.listId,
          ...(mc.baseUrl ? { baseUrl: mc.baseUrl } : {}),
          maxConnections: mc.maxConnections,
          dateFormat: mc.dateFormat,
          ...(mc.webhookSecret ? { webhookSecret: mc.webhookSecret } : {}),
          ...(options.publicUrl && mc.webhookSecret ? { webhookUrl: webhookUrl(options.publicUrl, 'mailchimp') } : {}),
          ownedTags: [...(options.ownedTags ?? []), ...config.tags.owned.mailchimp],
          ...(config.tags.owned.prefix ? { ownedTagPrefix: config.tags.owned.prefix } : {}),
        },
        deps,
      ),
    );
  }
  const kl = config.connectors.klaviyo;
  if (kl?.enabled && wanted('klaviyo')) {
    const { createKlaviyoConnector } = require('./klaviyo') as typeof KlaviyoModule;
    out.set(
      'klaviyo',
      createKlaviyoConnector(
        {
          apiKey: kl.apiKey,
          ...(kl.baseUrl ? { baseUrl: kl.baseUrl } : {}),
          ...(kl.tags.property ? { tagProperty: kl.tags.property } : {}),
          tagLists: kl.tags.lists,
          listPrefix: kl.listPrefix,
          bulkThreshold: kl.bulkThreshold,
          jobPollIntervalMs: kl.jobPollIntervalMs,
          jobTimeoutMs: kl.jobTimeoutMs,
          ...(kl.eventMetrics ? { eventMetrics: kl.eventMetrics } : {}),
          ...(kl.subscribeListId ? { subscribeListId: kl.subscribeListId } : {}),
          ...(kl.webhookSecret ? { webhookSecret: kl.webhookSecret } : {}),
        },
        deps,
      ),
    );
  }
  return out;
}

/** The credential each sandbox accepts unless told otherwise. */
export const SANDBOX_CREDENTIALS: Record<EspName, string> = { hubspot: 'sandbox-token', mailchimp: 'sandbox-key-us1', klaviyo: 'pk_sandbox' };

export interface StartedSandbox {
  server: SandboxServer;
  /** How to point segsync at it (credential, list id), for the terminal. */
  usage: string;
}

/** Starts one vendor's local sandbox, accepting `credential` (default `SANDBOX_CREDENTIALS[esp]`). */
export async function startSandbox(esp: EspName, options: SandboxOptions & { credential?: string; webhookSecret?: string }): Promise<StartedSandbox> {
  const credential = options.credential ?? SANDBOX_CREDENTIALS[esp];
  const { credential: _c, webhookSecret, ...common } = options;
  switch (esp) {
    case 'hubspot': {
      const server = await (require('./hubspot/sandbox') as typeof HubspotSandboxModule).startHubspotSandbox({ ...common, accessToken: credential, ...(webhookSecret ? { clientSecret: webhookSecret } : {}) });
      return { server, usage: `connectors.hubspot: baseUrl ${server.url}, accessToken "${credential}", app id ${server.appId}` };
    }
    case 'mailchimp': {
      const server = await (require('./mailchimp/sandbox') as typeof MailchimpSandboxModule).startMailchimpSandbox({ ...common, apiKey: credential });
      return { server, usage: `connectors.mailchimp: baseUrl ${server.url}, apiKey "${credential}", listId ${server.listId}` };
    }
    case 'klaviyo': {
      const server = await (require('./klaviyo/sandbox') as typeof KlaviyoSandboxModule).startKlaviyoSandbox({ ...common, apiKey: credential, ...(webhookSecret ? { webhookSecret } : {}) });
      return { server, usage: `connectors.klaviyo: baseUrl ${server.url}, apiKey "${credential}"` };
    }
  }
}
