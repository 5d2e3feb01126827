/**
 * The shape of segsync.yaml. Every object is strict (an unknown key is an error, not silently
 * ignored), and every secret is a `${ENV_VAR}` reference resolved from the environment.
 */
import { z } from 'zod';
import { FIELD_TYPES } from '../../connectors/connector';
import { secret, url } from '../../connectors/definition';
import { CONNECTOR_CONFIG_SCHEMAS } from '../../connectors/registry';
import { ESP_NAMES } from '../model/types';

/** `${NAME}`: a reference to an environment variable. */
export const ENV_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** Each ESP's section is declared by its vendor folder (`connectors/<vendor>/definition.ts`). */
export const connectorsSchema = z
  .object({
    hubspot: CONNECTOR_CONFIG_SCHEMAS.hubspot.optional(),
    mailchimp: CONNECTOR_CONFIG_SCHEMAS.mailchimp.optional(),
    klaviyo: CONNECTOR_CONFIG_SCHEMAS.klaviyo.optional(),
  })
  .strict();

const ownerSchema = z.enum(['local', ...ESP_NAMES]);

const fieldSchema = z
  .object({
    type: z.enum(FIELD_TYPES),
    options: z.array(z.string()).optional(),
    label: z.string().optional(),
    /** Who wins a conflict (and breaks ties under `latest`). */
    owner: ownerSchema.default('local'),
    /** `owner`: empty fields are filled, otherwise the owner wins; `latest`: newest change wins. */
    conflict: z.enum(['owner', 'latest']).default('owner'),
  })
  .strict();

const directionSchema = z.enum(['in', 'out', 'both']);

const mappingEntry = z
  .object({
    /** The local field (a key of `fields`). */
    local: z.string().min(1),
    /** The ESP's field name. */
    remote: z.string().min(1),
    direction: directionSchema.default('both'),
  })
  .strict();

export const mappingsSchema = z
  .object({
    hubspot: z.array(mappingEntry).optional(),
    mailchimp: z.array(mappingEntry).optional(),
    klaviyo: z.array(mappingEntry).optional(),
  })
  .strict();

const pushTarget = z
  .object({
    esp: z.enum(ESP_NAMES),
    /** Push the segment as a tag (default) or as a property holding its value. */
    as: z.enum(['tag', 'property']).default('tag'),
    /** Tag or property name on the ESP; defaults to the segment name. */
    name: z.string().min(1).optional(),
  })
  .strict();

const segmentSchema = z
  .object({
    description: z.string().optional(),
    /** The rule text (see docs/rules.md). */
    rule: z.string().min(1),
    /** `flag`: member or not; `value`: the rule's value (a stage, a score, an RFM code). */
    type: z.enum(['flag', 'value']).default('flag'),
    push: z.array(pushTarget).default([]),
  })
  .strict();

/** The tag prefix segsync owns unless told otherwise (`tags.owned.prefix: ""` turns it off). */
export const DEFAULT_TAG_PREFIX = 'seg:';

const tagsSchema = z
  .object({
    /**
     * Tags segsync owns on each ESP: any tag starting with the prefix, these names (every ESP), the
     * names listed under an ESP's key (that ESP only), and the segment tags pushed to that ESP. A
     * segment tag outside the prefix and the lists is only ever removed where segsync put it.
     */
    owned: z
      .object({
        prefix: z.string().default(DEFAULT_TAG_PREFIX),
        names: z.array(z.string()).default([]),
        hubspot: z.array(z.string()).default([]),
        mailchimp: z.array(z.string()).default([]),
        klaviyo: z.array(z.string()).default([]),
      })
      .strict()
      .default({ prefix: DEFAULT_TAG_PREFIX, names: [], hubspot: [], mailchimp: [], klaviyo: [] }),
  })
  .strict();

const safetySchema = z
  .object({
    /**
     * A push stops (and needs `--force`) when it would remove an owned tag from, or clear or change an
     * owned field on, more than this share of the contacts on an ESP that carry it …
     */
    maxShare: z.number().min(0).max(1).default(0.2),
    /** … and on at least this many contacts (small changes to small lists never stop). */
    minContacts: z.number().int().min(1).default(25),
    /**
     * Which field writes count: `resets` (default) clears and writes of an empty or zero value (0,
     * false, ''), the signature of a store that lost its data; `changes` every change of a value a
     * contact carries, which also stops the mass changes value segments make as time passes.
     */
    fields: z.enum(['resets', 'changes']).default('resets'),
  })
  .strict();

const reconcileSchema = z
  .object({
    /** How often the daemon reads every ESP back and repairs drift in segsync's own fields and tags; 0 turns it off. */
    everyMinutes: z.number().min(0).default(360),
    /**
     * Each scheduled run reads only a sample, going on where the last stopped, so successive runs
     * cover the whole account: a share (0 < x < 1) of the contacts segsync knows, or a number of
     * records (whole pages). Absent: every run reads everything.
     */
    sample: z.number().positive().optional(),
  })
  .strict();

const templatesSchema = z
  .object({
    dir: z.string().default('templates'),
    scenarios: z.string().optional(),
  })
  .strict();

const storeSchema = z
  .object({
    path: z.string().min(1).default('.segsync/segsync.db'),
    /**
     * `normal`: an acknowledged write survives a crash of segsync but not always a power loss;
     * `full`: it is on disk before it is acknowledged (fsync per commit, slower). See README.
     */
    durability: z.enum(['normal', 'full']).default('normal'),
  })
  .strict();

const daemonSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8787),
    /** Key that may only send events (/v1/track, track items of /v1/batch): safe to ship in a browser. */
    writeKey: secret.optional(),
    /** Key for everything: identify, traits and consent as well as events. Keep it on servers. */
    serverKey: secret.optional(),
    /** The former single key: read as `serverKey` (it could always identify); rename it. */
    trackToken: secret.optional(),
    /** Public base URL the ESPs call for webhooks (signatures cover it). */
    publicUrl: url.optional(),
    pullIntervalSeconds: z.number().positive().default(60),
    /** Browsers allowed to call the track API (CORS), with the write key only. */
    cors: z
      .object({ origins: z.array(z.union([z.literal('*'), url])).default([]) })
      .strict()
      .default({ origins: [] }),
    /** Days an anonymous visitor (never identified) is kept after their last call before it is deleted. */
    anonymousRetentionDays: z.number().positive().default(90),
  })
  .strict();

const previewSchema = z
  .object({
    /** Query parameters every link in a previewed email must carry (`utm_source`, `utm_campaign`). */
    utm: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a query parameter name such as utm_source')).default([]),
    /** Host names `preview --serve` answers to besides localhost (e.g. a dev box's name). */
    serveHosts: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const configSchema = z
  .object({
    version: z.literal(1),
    store: storeSchema.default({ path: '.segsync/segsync.db', durability: 'normal' }),
    connectors: connectorsSchema.default({}),
    fields: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'field names are letters, digits and _'), fieldSchema).default({}),
    mappings: mappingsSchema.default({}),
    reconcile: reconcileSchema.default({ everyMinutes: 360 }),
    safety: safetySchema.default({ maxShare: 0.2, minContacts: 25, fields: 'resets' }),
    tags: tagsSchema.default({ owned: { prefix: DEFAULT_TAG_PREFIX, names: [], hubspot: [], mailchimp: [], klaviyo: [] } }),
    segments: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'segment names are letters, digits and _'), segmentSchema).default({}),
    templates: templatesSchema.default({ dir: 'templates' }),
    daemon: daemonSchema.default({ host: '127.0.0.1', port: 8787, pullIntervalSeconds: 60, cors: { origins: [] }, anonymousRetentionDays: 90 }),
    preview: previewSchema.default({ utm: [], serveHosts: [] }),
  })
  .strict();

export type SegsyncConfig = z.infer<typeof configSchema>;
export type FieldConfig = z.infer<typeof fieldSchema>;
export type MappingConfig = z.infer<typeof mappingEntry>;
export type SegmentConfig = z.infer<typeof segmentSchema>;
export type SafetyConfig = z.infer<typeof safetySchema>;
export type HubspotConfig = z.infer<typeof CONNECTOR_CONFIG_SCHEMAS.hubspot>;
export type MailchimpConfig = z.infer<typeof CONNECTOR_CONFIG_SCHEMAS.mailchimp>;
export type KlaviyoConfig = z.infer<typeof CONNECTOR_CONFIG_SCHEMAS.klaviyo>;

/** Keys whose values are secrets: literal values are refused, only `${ENV}` references. */
export const SECRET_KEYS = new Set(['accessToken', 'clientSecret', 'apiKey', 'webhookSecret', 'trackToken', 'writeKey', 'serverKey']);
