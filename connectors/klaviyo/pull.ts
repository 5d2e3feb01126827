/**
 * Incremental pull of changed profiles: `filter=greater-than(updated,…),less-than(updated,until)`,
 * sorted by `updated`, 100 a page, cursor paging through `links.next`, with `subscriptions` so
 * consent comes along. Each page carries the cursor to resume after it.
 */
import { createHash } from 'node:crypto';
import type { PullRequest, RemoteContact, RemotePage } from '../connector';
import { normaliseEmail } from '../../src/model/identity';
import { listPages } from './pages';
import type { KlaviyoContext } from './context';
import { advance, decodeProfileCursor, encodeCursor, lowerBound, type TimeCursor } from './cursor';
import { consentOf, consentTimeOf, readField, readTags } from './fields';
import { PROFILES_PAGE_MAX } from './limits';
import { profilePageSchema, type WireProfile } from './wire';

/** The filter for a pull from `position` (or from the start) up to `until`. */
export function profileFilter(position: TimeCursor | undefined, until: Date): string {
  const upper = `less-than(updated,${until.toISOString()})`;
  return position ? `greater-than(updated,${lowerBound(position)}),${upper}` : upper;
}

/** Converts a wire profile to a `RemoteContact` with the requested fields. */
export function toRemoteContact(profile: WireProfile, fields: string[], tagProperty: string): RemoteContact {
  const out: RemoteContact = {
    externalId: profile.id,
    fields: Object.fromEntries(fields.map((f) => [f, readField(profile, f)])),
    tags: readTags(profile, tagProperty),
    modifiedAt: Date.parse(profile.attributes.updated ?? profile.attributes.created ?? '') || 0,
  };
  if (profile.attributes.email) out.email = normaliseEmail(profile.attributes.email);
  const consent = consentOf(profile.attributes.subscriptions ?? undefined);
  if (consent) out.consent = consent;
  const consentAt = consentTimeOf(profile.attributes.subscriptions ?? undefined);
  if (consentAt !== undefined) out.consentAt = consentAt;
  return out;
}

/**
 * How a profile is remembered at the cursor's second: id plus a digest of its attributes. Klaviyo's
 * `updated` has one-second resolution, so a profile changed twice within the cursor's second keeps
 * its `updated`; the digest tells that second version apart from the one already applied.
 */
export function seenKey(profile: WireProfile): string {
  const digest = createHash('sha1').update(JSON.stringify(profile.attributes)).digest('base64url').slice(0, 12);
  return `${profile.id}:${digest}`;
}

/** Lists profiles changed since the cursor, oldest first, one page at a time. */
export async function* pullProfiles(ctx: KlaviyoContext, request: PullRequest): AsyncGenerator<RemotePage> {
  const start = decodeProfileCursor(request.cursor);
  let position = start?.position;
  const skip = new Set(position?.ids ?? []);
  const filter = profileFilter(position, request.until);
  const fetch = (p: { pageCursor?: string }) =>
    ctx.client.profiles.getProfiles({ filter, sort: 'updated', pageSize: PROFILES_PAGE_MAX, additionalFieldsProfile: ['subscriptions'], ...p });
  for await (const { page, last } of listPages(ctx.client, 'profiles', 'GET /api/profiles', profilePageSchema, fetch)) {
    const contacts: RemoteContact[] = [];
    for (const profile of page.data) {
      const updated = profile.attributes.updated ?? profile.attributes.created;
      const key = seenKey(profile);
      if (skip.has(key) || !updated) continue;
      contacts.push(toRemoteContact(profile, request.fields, ctx.options.tagProperty));
      position = advance(position, updated, key);
    }
    if (contacts.length > 0 || last) {
      yield { contacts, next: position ? encodeCursor({ v: 1, kind: 'klaviyo-profiles', position }) : (request.cursor ?? '') };
    }
  }
}
