/** Where a Mailchimp pull resumes, declared (see ../cursor.ts). */
import { z } from 'zod';
import { declareCursor } from '../cursor';

const windowSchema = z.object({ since: z.string().optional(), offset: z.number().int().min(0).default(0), skip: z.array(z.string()).default([]) });
const tagSnapshotSchema = z.object({ id: z.number(), count: z.number().optional(), updatedAt: z.string().optional(), scannedAt: z.number() });
const pullCursorSchema = z.object({
  v: z.literal(1),
  members: windowSchema,
  archived: windowSchema,
  tags: z.record(z.string(), tagSnapshotSchema).default({}),
});
export type Window = z.infer<typeof windowSchema>;
export type PullCursor = z.infer<typeof pullCursorSchema>;

export const mailchimpContactsCursor = declareCursor('mailchimp', 'contacts', pullCursorSchema);
