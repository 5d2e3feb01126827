/**
 * The Mailchimp shapes segsync reads and writes, from the Marketing API 3.0 spec
 * (`test/fixtures/specs/mailchimp/`, operations named in each comment). Answers are zod schemas (checked at
 * the edge, unknown keys kept); requests are plain types. The community typings lack most of these.
 */
import { z } from 'zod';

/** `status` of a member (spec: `lists/members` status enum, plus `archived` on reads). */
export const MEMBER_STATUSES = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional', 'archived'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];
/** Statuses a write may carry (`status`, `status_if_new`). */
export type WritableStatus = Exclude<MemberStatus, 'archived'>;

/** Merge field types (spec: POST /lists/{list_id}/merge-fields `type`). */
export const MERGE_TYPES = ['text', 'number', 'address', 'phone', 'date', 'url', 'imageurl', 'radio', 'dropdown', 'birthday', 'zip'] as const;
export type MergeType = (typeof MERGE_TYPES)[number];

/** A merge value on the wire: Mailchimp takes strings and numbers (an address is an object). */
export type MergeValue = string | number | Record<string, string>;

export const mergeFieldSchema = z.looseObject({
  merge_id: z.number(),
  tag: z.string(),
  name: z.string(),
  type: z.string(),
  options: z.looseObject({ date_format: z.string().optional(), choices: z.array(z.string()).optional() }).optional(),
});
export type MergeField = z.infer<typeof mergeFieldSchema>;
export const mergeFieldListSchema = z.looseObject({ merge_fields: z.array(mergeFieldSchema), total_items: z.number() });

/** POST /lists/{list_id}/merge-fields body. */
export interface MergeFieldCreate {
  name: string;
  type: MergeType;
  tag: string;
  public: boolean;
  required: boolean;
  options?: { date_format?: string; choices?: string[] };
}

export const memberSchema = z.looseObject({
  id: z.string(),
  /** The member's id that stays when its email (and so `id`) changes. */
  contact_id: z.string().optional(),
  email_address: z.string(),
  status: z.enum(MEMBER_STATUSES),
  merge_fields: z.record(z.string(), z.unknown()).optional(),
  last_changed: z.string().optional(),
  /** When the member confirmed its subscription (empty when it never did). */
  timestamp_opt: z.string().optional(),
  tags: z.array(z.looseObject({ id: z.number(), name: z.string() })).optional(),
  tags_count: z.number().optional(),
});
export type Member = z.infer<typeof memberSchema>;
export const memberListSchema = z.looseObject({ members: z.array(memberSchema), total_items: z.number().optional() });

/** PUT /lists/{list_id}/members/{subscriber_hash} body: never carries `status` (see push.ts). */
export interface MemberUpsert {
  email_address: string;
  status_if_new: WritableStatus;
  merge_fields?: Record<string, MergeValue>;
}

/** PATCH /lists/{list_id}/members/{subscriber_hash} body: updates an existing member only. */
export interface MemberPatch {
  merge_fields?: Record<string, MergeValue>;
  /** A new email for the member (its id becomes the hash of it). */
  email_address?: string;
  /** Only ever `unsubscribed`, for an opt-out segsync was asked to carry. */
  status?: 'unsubscribed';
}

/** One entry of POST /lists/{list_id} `members[]`: it has `status` and no `status_if_new` (see push.ts). */
export interface BatchMember {
  email_address: string;
  status: WritableStatus;
  merge_fields?: Record<string, MergeValue>;
}

export const batchResultSchema = z.looseObject({
  new_members: z
    .array(z.looseObject({ id: z.string(), email_address: z.string(), status: z.enum(MEMBER_STATUSES).optional(), last_changed: z.string().optional() }))
    .default([]),
  updated_members: z
    .array(z.looseObject({ id: z.string(), email_address: z.string(), status: z.enum(MEMBER_STATUSES).optional(), last_changed: z.string().optional() }))
    .default([]),
  errors: z
    .array(
      z.looseObject({
        email_address: z.string().optional(),
        error: z.string().optional(),
        error_code: z.string().optional(),
        field: z.string().optional(),
        field_message: z.string().optional(),
      }),
    )
    .default([]),
  error_count: z.number().optional(),
});
export type BatchResult = z.infer<typeof batchResultSchema>;

/** One operation of POST /batches: a call Mailchimp makes on segsync's behalf, later. */
export interface BatchOperation {
  method: 'PATCH';
  path: string;
  /** The request body as JSON text. */
  body: string;
  operation_id: string;
}

/** GET /batches/{batch_id} (and the answer to POST /batches). */
export const batchJobSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  total_operations: z.number().optional(),
  finished_operations: z.number().optional(),
  errored_operations: z.number().optional(),
  response_body_url: z.string().optional(),
});
export type BatchJob = z.infer<typeof batchJobSchema>;

/** One operation's answer in a finished batch's results archive. */
export const batchOperationResultSchema = z.looseObject({
  status_code: z.number(),
  operation_id: z.string().nullable().optional(),
  response: z.string(),
});
export type BatchOperationResult = z.infer<typeof batchOperationResultSchema>;

export const segmentSchema = z.looseObject({
  id: z.number(),
  name: z.string(),
  type: z.string().optional(),
  member_count: z.number().optional(),
  updated_at: z.string().optional(),
});
export type Segment = z.infer<typeof segmentSchema>;
export const segmentListSchema = z.looseObject({ segments: z.array(segmentSchema), total_items: z.number() });

export const segmentBatchResultSchema = z.looseObject({
  total_added: z.number().optional(),
  total_removed: z.number().optional(),
  error_count: z.number().optional(),
  /** The members this call added: one asked for and neither added nor in `errors` already had the tag. */
  members_added: z.array(z.looseObject({ email_address: z.string() })).optional(),
  errors: z.array(z.looseObject({ email_addresses: z.array(z.string()).default([]), error: z.string().optional() })).default([]),
});
export type SegmentBatchResult = z.infer<typeof segmentBatchResultSchema>;

export const segmentMembersSchema = z.looseObject({
  members: z.array(z.looseObject({ id: z.string(), email_address: z.string() })),
  total_items: z.number(),
});

export const webhookSchema = z.looseObject({
  id: z.string(),
  url: z.string(),
  events: z.record(z.string(), z.boolean()).optional(),
  sources: z.record(z.string(), z.boolean()).optional(),
});
export type Webhook = z.infer<typeof webhookSchema>;
export const webhookListSchema = z.looseObject({ webhooks: z.array(webhookSchema) });

/** Which webhook events segsync subscribes to, and from which sources (never `api`: our own writes). */
export interface WebhookCreate {
  url: string;
  events: { subscribe: boolean; unsubscribe: boolean; profile: boolean; cleaned: boolean; upemail: boolean; campaign: boolean };
  sources: { user: boolean; admin: boolean; api: boolean };
}
