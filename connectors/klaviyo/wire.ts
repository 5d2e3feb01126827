/**
 * zod schemas for the Klaviyo answers segsync reads (the raw wire JSON, snake_case), so a malformed
 * answer is a named error instead of a crash deep in the sync.
 */
import { z } from 'zod';
import { EspTransientError } from '../../src/errors';

const json: z.ZodType<unknown> = z.unknown();

export const wireSubscriptionsSchema = z
  .object({
    email: z
      .object({
        marketing: z
          .object({
            consent: z.string(),
            can_receive_email_marketing: z.boolean().optional(),
            consent_timestamp: z.string().nullish(),
            suppression: z.array(z.object({ reason: z.string(), timestamp: z.string().nullish() })).nullish(),
            list_suppressions: z.array(z.object({ list_id: z.string(), reason: z.string() }).passthrough()).nullish(),
          })
          .passthrough()
          .optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type WireSubscriptions = z.infer<typeof wireSubscriptionsSchema>;

export const wireProfileSchema = z.object({
  type: z.literal('profile'),
  id: z.string(),
  attributes: z
    .object({
      email: z.string().nullish(),
      phone_number: z.string().nullish(),
      external_id: z.string().nullish(),
      first_name: z.string().nullish(),
      last_name: z.string().nullish(),
      organization: z.string().nullish(),
      locale: z.string().nullish(),
      title: z.string().nullish(),
      image: z.string().nullish(),
      created: z.string().nullish(),
      updated: z.string().nullish(),
      location: z.record(z.string(), json).nullish(),
      properties: z.record(z.string(), json).nullish(),
      subscriptions: wireSubscriptionsSchema.nullish(),
    })
    .passthrough(),
});
export type WireProfile = z.infer<typeof wireProfileSchema>;

const linksSchema = z.object({ self: z.string().optional(), next: z.string().nullish(), prev: z.string().nullish() }).passthrough();

export const profileDocumentSchema = z.object({ data: wireProfileSchema });
export const profilePageSchema = z.object({ data: z.array(wireProfileSchema), links: linksSchema.optional() });

export const bulkJobSchema = z.object({
  data: z.object({
    type: z.literal('profile-bulk-import-job'),
    id: z.string(),
    attributes: z
      .object({
        status: z.enum(['cancelled', 'complete', 'processing', 'queued']),
        total_count: z.number(),
        completed_count: z.number().nullish(),
        failed_count: z.number().nullish(),
      })
      .passthrough(),
  }),
});
export type WireBulkJob = z.infer<typeof bulkJobSchema>['data'];

export const importErrorPageSchema = z.object({
  data: z.array(
    z.object({
      type: z.literal('import-error'),
      id: z.string(),
      attributes: z.object({
        code: z.string(),
        title: z.string(),
        detail: z.string(),
        source: z.object({ pointer: z.string().nullish() }).passthrough(),
        original_payload: z.record(z.string(), json).nullish(),
      }),
    }),
  ),
  links: linksSchema.optional(),
});
export type WireImportError = z.infer<typeof importErrorPageSchema>['data'][number];

export const metricPageSchema = z.object({
  data: z.array(z.object({ type: z.literal('metric'), id: z.string(), attributes: z.object({ name: z.string().nullish() }).passthrough() })),
  links: linksSchema.optional(),
});

const relationshipSchema = z.object({ data: z.object({ type: z.string(), id: z.string() }).nullish() }).passthrough();

export const wireEventSchema = z.object({
  type: z.literal('event'),
  id: z.string(),
  attributes: z
    .object({
      timestamp: z.number().nullish(),
      datetime: z.string().nullish(),
      event_properties: z.record(z.string(), json).nullish(),
      uuid: z.string().nullish(),
    })
    .passthrough(),
  relationships: z.object({ profile: relationshipSchema.optional(), metric: relationshipSchema.optional() }).passthrough().optional(),
});
export type WireEvent = z.infer<typeof wireEventSchema>;

export const includedSchema = z.object({ type: z.string(), id: z.string(), attributes: z.record(z.string(), json).optional() }).passthrough();

export const eventPageSchema = z.object({
  data: z.array(wireEventSchema),
  included: z.array(includedSchema).optional(),
  links: linksSchema.optional(),
});

export const listPageSchema = z.object({
  data: z.array(z.object({ type: z.literal('list'), id: z.string(), attributes: z.object({ name: z.string().nullish() }).passthrough() })),
  links: linksSchema.optional(),
});
export const listDocumentSchema = z.object({ data: z.object({ type: z.literal('list'), id: z.string() }).passthrough() });

/** Parses an answer body with `schema`, or throws a permanent error naming the operation. */
export function parseAnswer<T>(schema: z.ZodType<T>, body: unknown, operation: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  // An answer of unknown shape is an unknown error: transient, like everywhere (see `asEspError`), so a
  // garbled answer is tried again and a lasting one dead-letters after the outbox's attempts.
  throw new EspTransientError(`klaviyo ${operation}: unexpected answer (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'})`, {
    esp: 'klaviyo',
    hint: 'Klaviyo answered in a shape segsync does not know; segsync tries again, and if it lasts, check the API revision and report it',
  });
}
