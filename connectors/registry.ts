/**
 * The list of ESPs segsync knows, each described by its own folder (`<vendor>/definition.ts`): the only
 * place that names a vendor folder. Vendors load lazily (klaviyo-api alone takes ~400 ms to require),
 * so commands that do not talk to an ESP stay fast.
 */
import type { SegsyncConfig } from '../src/config/schema';
import type { EspName } from '../src/model/types';
import type { Connector, ConnectorDeps, ConnectorNotes } from './connector';
import type { ConnectorContext, EspDefinition, StartSandboxOptions, StartedSandbox } from './definition';
import { hubspotDefinition } from './hubspot/definition';
import { klaviyoDefinition } from './klaviyo/definition';
import { mailchimpDefinition } from './mailchimp/definition';

export type { StartedSandbox } from './definition';

/** Every ESP, in the order segsync lists them. Adding one: its folder, then one entry here. */
export const ESP_DEFINITIONS = [hubspotDefinition, mailchimpDefinition, klaviyoDefinition] as const;

/** Each vendor's section of segsync.yaml, by ESP (composed into the config schema). */
export const CONNECTOR_CONFIG_SCHEMAS = {
  hubspot: hubspotDefinition.configSchema,
  mailchimp: mailchimpDefinition.configSchema,
  klaviyo: klaviyoDefinition.configSchema,
} as const;

/** The definition of one ESP. */
export function definitionOf(esp: EspName): EspDefinition {
  return ESP_DEFINITIONS.find((d) => d.esp === esp) as unknown as EspDefinition;
}

export interface RegistryOptions extends ConnectorDeps {
  /** Public base URL of the daemon (webhook URLs are derived from it, and signatures cover them). */
  publicUrl?: string;
  /** Tags segsync owns (Mailchimp reconciles their membership on pull). */
  ownedTags?: string[];
  /** Only these ESPs (default: every enabled one). */
  only?: readonly EspName[];
  /** Each ESP's notes that outlive the process (the store's); in memory when absent. */
  notesFor?: (esp: EspName) => ConnectorNotes;
}

/** The webhook URL the daemon serves for an ESP. */
export function webhookUrl(publicUrl: string, esp: EspName): string {
  return new URL(`/webhooks/${esp}`, publicUrl).toString();
}

/** One connector per enabled ESP in the config. */
export function createConnectors(config: SegsyncConfig, options: RegistryOptions): Map<EspName, Connector> {
  const out = new Map<EspName, Connector>();
  for (const definition of ESP_DEFINITIONS) {
    const esp = definition.esp;
    const section = config.connectors[esp];
    if (!section?.enabled || (options.only && !options.only.includes(esp))) continue;
    const context: ConnectorContext = {
      clock: options.clock,
      logger: options.logger,
      ownedTags: [...(options.ownedTags ?? []), ...config.tags.owned[esp]],
      ...(config.tags.owned.prefix ? { ownedTagPrefix: config.tags.owned.prefix } : {}),
      ...(options.publicUrl ? { webhookUrl: webhookUrl(options.publicUrl, esp) } : {}),
      ...(options.notesFor ? { notes: options.notesFor(esp) } : {}),
    };
    // The section was parsed by this very definition's schema (config.connectors[esp]), so it fits its `create`.
    out.set(esp, (definition as unknown as EspDefinition).create(section, context));
  }
  return out;
}

/** The credential each sandbox accepts unless told otherwise. */
export const SANDBOX_CREDENTIALS = Object.fromEntries(ESP_DEFINITIONS.map((d) => [d.esp, d.sandboxCredential])) as Record<EspName, string>;

/** Starts one vendor's local sandbox, accepting `credential` (default `SANDBOX_CREDENTIALS[esp]`). */
export function startSandbox(esp: EspName, options: StartSandboxOptions): Promise<StartedSandbox> {
  return definitionOf(esp).startSandbox(options);
}
