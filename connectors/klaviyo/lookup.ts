/** Profiles by email or id, 100 per `GET /api/profiles?filter=any(field,[…])` call (the profiles tier: 75/s). */
import { splitChunks } from '../batching';
import type { KlaviyoContext } from './context';
import { PROFILES_PAGE_MAX } from './limits';
import { parseAnswer, profilePageSchema, type WireProfile } from './wire';

/** The profiles whose `field` is one of `values` (with `subscriptions`). */
async function profilesWhere(ctx: KlaviyoContext, field: 'email' | 'id', values: string[]): Promise<WireProfile[]> {
  const pages = await Promise.all(
    splitChunks([...new Set(values)], { maxItems: PROFILES_PAGE_MAX }).map(async (group) => {
      const filter = `any(${field},[${group.map((e) => JSON.stringify(e)).join(',')}])`;
      const response = await ctx.client.call('profiles', 'GET /api/profiles', () =>
        ctx.client.profiles.getProfiles({ filter, additionalFieldsProfile: ['subscriptions'], pageSize: PROFILES_PAGE_MAX }),
      );
      return parseAnswer(profilePageSchema, response.data, 'GET /api/profiles').data;
    }),
  );
  return pages.flat();
}

/** Email (lower-cased) → wire profile with `subscriptions`, for the emails Klaviyo knows. */
export async function lookUpProfiles(ctx: KlaviyoContext, emails: string[]): Promise<Map<string, WireProfile>> {
  const out = new Map<string, WireProfile>();
  for (const p of await profilesWhere(ctx, 'email', emails)) if (p.attributes.email) out.set(p.attributes.email.toLowerCase(), p);
  return out;
}

/** The ones of `ids` Klaviyo still holds a profile under (a deleted profile is not listed). */
export async function existingProfileIds(ctx: KlaviyoContext, ids: string[]): Promise<Set<string>> {
  return new Set((await profilesWhere(ctx, 'id', ids)).map((p) => p.id));
}
