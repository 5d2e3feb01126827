/** Profiles by email, 100 per `GET /api/profiles?filter=any(email,[…])` call (the profiles tier: 75/s). */
import { splitChunks } from '../batching';
import type { KlaviyoContext } from './context';
import { PROFILES_PAGE_MAX } from './limits';
import { parseAnswer, profilePageSchema, type WireProfile } from './wire';

/** Email (lower-cased) → wire profile with `subscriptions`, for the emails Klaviyo knows. */
export async function lookUpProfiles(ctx: KlaviyoContext, emails: string[]): Promise<Map<string, WireProfile>> {
  const out = new Map<string, WireProfile>();
  await Promise.all(
    splitChunks([...new Set(emails)], { maxItems: PROFILES_PAGE_MAX }).map(async (group) => {
      const filter = `any(email,[${group.map((e) => JSON.stringify(e)).join(',')}])`;
      const response = await ctx.client.call('profiles', 'GET /api/profiles', () =>
        ctx.client.profiles.getProfiles({ filter, additionalFieldsProfile: ['subscriptions'], pageSize: PROFILES_PAGE_MAX }),
      );
      const page = parseAnswer(profilePageSchema, response.data, 'GET /api/profiles');
      for (const p of page.data) if (p.attributes.email) out.set(p.attributes.email.toLowerCase(), p);
    }),
  );
  return out;
}
