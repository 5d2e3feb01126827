/** Klaviyo's cursor-paged listings (JSON:API `links.next`), followed one page at a time. */
import type { z } from 'zod';
import { pageCursorOf } from './client';
import type { KlaviyoClient, SdkAnswer } from './client';
import type { KlaviyoBucket } from './limits';
import { parseAnswer } from './wire';

/** Each page of a listing in order, and whether it is the last; `fetch` asks for one page, with its `pageCursor` after the first. */
export async function* listPages<T extends { links?: { next?: string | null | undefined } | undefined }>(
  client: KlaviyoClient,
  bucket: KlaviyoBucket,
  operation: string,
  schema: z.ZodType<T>,
  fetch: (page: { pageCursor?: string }) => Promise<SdkAnswer>,
): AsyncGenerator<{ page: T; last: boolean }> {
  let pageCursor: string | undefined;
  do {
    const response = await client.call(bucket, operation, () => fetch(pageCursor ? { pageCursor } : {}));
    const page = parseAnswer(schema, response.data, operation);
    pageCursor = pageCursorOf(page.links?.next);
    yield { page, last: !pageCursor };
  } while (pageCursor);
}
