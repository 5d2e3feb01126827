/**
 * What a vendor folder declares about itself, so that adding an ESP touches its own folder and one
 * line of `registry.ts`: its segsync.yaml section (a zod schema whose defaults are the only ones), how
 * to build its connector from that section, and how to start its sandbox. Nothing here loads the
 * vendor's SDK: `create` and `startSandbox` require it when called, so commands that talk to no ESP stay fast.
 */
import { z } from 'zod';
import type { EspName } from '../src/model/types';
import type { Connector, ConnectorDeps, SandboxOptions, SandboxServer } from './connector';
import { definedOnly } from './defined';

/** A secret: only an environment reference is accepted (checked with a located error in src/config/load.ts). */
export const secret = z.string().min(1);
export const url = z.url({ message: 'must be a URL such as http://127.0.0.1:4101' });

/** The default name of the property that holds tags on ESPs without native tags. */
export const DEFAULT_TAG_PROPERTY = 'segsync_tags';
/** The default name prefix of the lists tags are mirrored to. */
export const DEFAULT_LIST_PREFIX = 'segsync: ';

export const tagMapping = z
  .object({
    /** Where tags live on the ESP when it has no native tags: a multi-checkbox or list property. */
    property: z.string().min(1).optional(),
    /** Also mirror each tag as a static list (HubSpot MANUAL list, Klaviyo list). */
    lists: z.boolean().default(false),
  })
  .strict();

/** Keys every connector section has, whatever the vendor. */
export const commonConnectorKeys = {
  enabled: z.boolean().default(true),
  /** An archive or deletion on this ESP: `unlink` (default) stops writes there and keeps the contact; `erase` erases it locally and on every ESP. */
  onDelete: z.enum(['unlink', 'erase']).default('unlink'),
};

/** What the registry hands a definition besides the vendor's own section of segsync.yaml. */
export interface ConnectorContext extends ConnectorDeps {
  /** The URL the daemon serves this ESP's webhooks at, when the daemon has a public URL. */
  webhookUrl?: string;
  /** Tags segsync owns on this ESP (every ESP's names and this ESP's own). */
  ownedTags: string[];
  /** Tags starting with this are owned too (`tags.owned.prefix`), when set. */
  ownedTagPrefix?: string;
}

/** A sandbox as `segsync sandbox` started it, with how to point segsync at it. */
export interface StartedSandbox {
  server: SandboxServer;
  /** How to point segsync at it (credential, list id), for the terminal. */
  usage: string;
}

/** Options of `startSandbox`: the common ones plus the credential it accepts and the webhook signing secret. */
export type StartSandboxOptions = SandboxOptions & { credential?: string; webhookSecret?: string };

/** One vendor, described by its own folder. */
export interface EspDefinition<Schema extends z.ZodObject = z.ZodObject> {
  readonly esp: EspName;
  /** The vendor's section of segsync.yaml (strict; defaults live here and nowhere else). */
  readonly configSchema: Schema;
  /** The credential its sandbox accepts unless told otherwise. */
  readonly sandboxCredential: string;
  /** Builds the connector from the vendor's parsed section. */
  create(config: z.output<Schema>, context: ConnectorContext): Connector;
  /** Starts the vendor's local sandbox. */
  startSandbox(options: StartSandboxOptions): Promise<StartedSandbox>;
}

/** What a vendor folder supplies to `defineEsp`. */
export interface EspParts<Schema extends z.ZodObject, Options extends object, Server extends SandboxServer> {
  readonly esp: EspName;
  readonly configSchema: Schema;
  readonly sandboxCredential: string;
  /** Requires the vendor's connector factory (its index.ts), only when a connector is built. */
  connector(): (options: Options, deps: ConnectorDeps) => Connector;
  /**
   * The connector's options from its parsed section; an undefined value is left out, so the connector's own
   * default applies. Annotate its return type with the options type: that makes a misspelt key an error.
   */
  options(config: z.output<Schema>, context: ConnectorContext): NoInfer<Options>;
  /** Requires the vendor's sandbox and starts it, accepting `credential`. */
  sandbox(common: SandboxOptions, credential: string, webhookSecret: string | undefined): Promise<Server>;
  /** How to point segsync at the started sandbox, for the terminal; `webhookSecret` when it delivers webhooks. */
  usage(server: Server, credential: string, webhookSecret: string | undefined): string;
}

/** A vendor's definition from its parts: what building its connector and starting its sandbox do alike for every vendor lives here. */
export function defineEsp<Schema extends z.ZodObject, Options extends object, Server extends SandboxServer>(
  parts: EspParts<Schema, Options, Server>,
): EspDefinition<Schema> {
  return {
    esp: parts.esp,
    configSchema: parts.configSchema,
    sandboxCredential: parts.sandboxCredential,
    create: (config, context) => parts.connector()(definedOnly(parts.options(config, context)) as Options, context),
    async startSandbox({ credential = parts.sandboxCredential, webhookSecret, ...common }) {
      const server = await parts.sandbox(common, credential, webhookSecret);
      return { server, usage: parts.usage(server, credential, common.webhookUrl ? webhookSecret : undefined) };
    },
  };
}
