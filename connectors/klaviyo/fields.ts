/**
 * Klaviyo profile fields: which ESP field names are profile attributes (and their SDK spelling), how a
 * `ContactChange` becomes an SDK profile object, and how a wire profile becomes neutral values.
 *
 * The SDK serialises camelCase model keys to the snake_case wire names and silently drops any key it
 * does not know, so attribute names are translated here, in one table, and contract tests pin the wire.
 */
import type { ConsentStatus, FieldValue } from '../../src/model/types';
import type { ContactChange } from '../connector';
import { EMAIL_KEY } from '../connector';
import type { WireProfile, WireSubscriptions } from './wire';

export interface AttributeSpec {
  /** The key on the SDK model (camelCase). */
  sdk: string;
  kind: 'string' | 'number-or-string';
}

/** Top-level profile attributes, by wire (and ESP field) name. `email` is set from the contact ref. */
export const PROFILE_ATTRIBUTES: Record<string, AttributeSpec> = {
  phone_number: { sdk: 'phoneNumber', kind: 'string' },
  external_id: { sdk: 'externalId', kind: 'string' },
  first_name: { sdk: 'firstName', kind: 'string' },
  last_name: { sdk: 'lastName', kind: 'string' },
  organization: { sdk: 'organization', kind: 'string' },
  locale: { sdk: 'locale', kind: 'string' },
  title: { sdk: 'title', kind: 'string' },
  image: { sdk: 'image', kind: 'string' },
};

/** `location.*` attributes (ESP field names `location.city` …): the SDK spells them the same. */
export const LOCATION_ATTRIBUTES: Record<string, AttributeSpec['kind']> = {
  address1: 'string',
  address2: 'string',
  city: 'string',
  country: 'string',
  region: 'string',
  zip: 'string',
  timezone: 'string',
  ip: 'string',
  latitude: 'number-or-string',
  longitude: 'number-or-string',
};

/** Where an ESP field name lives on a Klaviyo profile. */
export type FieldPlace =
  | { place: 'attribute'; wire: string; spec: AttributeSpec }
  | { place: 'location'; key: string; kind: AttributeSpec['kind'] }
  | { place: 'email' }
  | { place: 'property'; key: string };

/** Resolves an ESP field name (`first_name`, `location.city`, `plan`) to its place on a profile. */
export function placeOf(field: string): FieldPlace {
  if (field === 'email' || field === EMAIL_KEY) return { place: 'email' };
  const attr = PROFILE_ATTRIBUTES[field];
  if (attr) return { place: 'attribute', wire: field, spec: attr };
  if (field.startsWith('location.')) {
    const key = field.slice('location.'.length);
    const kind = LOCATION_ATTRIBUTES[key];
    if (kind) return { place: 'location', key, kind };
  }
  return { place: 'property', key: field };
}

/** The SDK profile object (`ProfileUpsertQueryResourceObject` shape) for one change. */
export interface SdkProfile {
  type: 'profile';
  id?: string;
  attributes: Record<string, unknown> & { properties?: Record<string, FieldValue> };
  meta?: { patchProperties: { append?: Record<string, FieldValue>; unappend?: Record<string, FieldValue> } };
}

/** Which tags to append and unappend: never re-append what Klaviyo already has, never unappend what it lacks. */
export function tagEdits(change: ContactChange): { add: string[]; remove: string[] } {
  const known = change.remoteTags ? new Set(change.remoteTags) : undefined;
  const removeSet = new Set(change.removeTags);
  const add = [...new Set(change.addTags)].filter((t) => !removeSet.has(t) && !(known?.has(t) ?? false));
  const remove = [...removeSet].filter((t) => known === undefined || known.has(t));
  return { add, remove };
}

/**
 * Builds the SDK profile for a change: attributes in SDK spelling, custom properties as given, `null`
 * for cleared fields (the documented way to remove a property; `patch_properties.unset` crashes the
 * 23.0.0 serializer), and tags as atomic `append`/`unappend` edits of the list-valued tag property.
 */
export function toSdkProfile(change: ContactChange, tagProperty: string, id?: string): SdkProfile {
  const attributes: SdkProfile['attributes'] = {};
  if (change.ref.email) attributes['email'] = change.ref.email;
  const properties: Record<string, FieldValue> = {};
  const location: Record<string, unknown> = {};
  const assign = (field: string, value: FieldValue): void => {
    const where = placeOf(field);
    switch (where.place) {
      case 'email':
        return;
      case 'attribute':
        attributes[where.spec.sdk] = value;
        return;
      case 'location':
        location[where.key] = value;
        return;
      case 'property':
        properties[where.key] = value;
    }
  };
  for (const [field, value] of Object.entries(change.set)) assign(field, value);
  for (const field of change.clear) assign(field, null);
  if (Object.keys(location).length > 0) attributes['location'] = location;
  if (Object.keys(properties).length > 0) attributes.properties = properties;
  const profile: SdkProfile = { type: 'profile', attributes };
  if (id) profile.id = id;
  const { add, remove } = tagEdits(change);
  if (add.length > 0 || remove.length > 0) {
    profile.meta = { patchProperties: {} };
    if (add.length > 0) profile.meta.patchProperties.append = { [tagProperty]: add };
    if (remove.length > 0) profile.meta.patchProperties.unappend = { [tagProperty]: remove };
  }
  return profile;
}

/** Reads one ESP field from a wire profile as a neutral value (`null` when Klaviyo has none). */
export function readField(profile: WireProfile, field: string): FieldValue {
  const a = profile.attributes;
  const where = placeOf(field);
  switch (where.place) {
    case 'email':
      return a.email ?? null;
    case 'attribute':
      return (a[where.wire as keyof typeof a] as FieldValue | undefined) ?? null;
    case 'location':
      return (a.location?.[where.key] as FieldValue | undefined) ?? null;
    case 'property':
      return (a.properties?.[where.key] as FieldValue | undefined) ?? null;
  }
}

/** The tag set held in the list-valued tag property (strings only; anything else is not a tag). */
export function readTags(profile: WireProfile, tagProperty: string): string[] {
  const raw = profile.attributes.properties?.[tagProperty];
  if (Array.isArray(raw)) return [...new Set(raw.filter((t): t is string => typeof t === 'string'))];
  if (typeof raw === 'string' && raw !== '') return [raw];
  return [];
}

/** Klaviyo's email marketing consent as segsync's status. */
export function consentOf(subscriptions: WireSubscriptions | undefined): ConsentStatus | undefined {
  const marketing = subscriptions?.email?.marketing;
  if (!marketing) return undefined;
  const suppressions = marketing.suppression ?? [];
  if (suppressions.some((s) => s.reason === 'UNSUBSCRIBE' || s.reason === 'USER_SUPPRESSED')) return 'unsubscribed';
  if (suppressions.length > 0) return 'cleaned';
  switch (marketing.consent) {
    case 'SUBSCRIBED':
      return 'subscribed';
    case 'UNSUBSCRIBED':
      return 'unsubscribed';
    case 'NEVER_SUBSCRIBED':
      return 'non-marketing';
    default:
      return undefined;
  }
}

/**
 * When the profile's email consent last changed, by Klaviyo's consent and suppression timestamps
 * (never the profile's `updated`, which any edit moves). Undefined when Klaviyo gives none.
 */
export function consentTimeOf(subscriptions: WireSubscriptions | undefined): number | undefined {
  const marketing = subscriptions?.email?.marketing;
  if (!marketing) return undefined;
  const times = [marketing.consent_timestamp, ...(marketing.suppression ?? []).map((s) => s.timestamp)]
    .map((t) => (t ? Date.parse(t) : NaN))
    .filter((t) => !Number.isNaN(t));
  return times.length ? Math.max(...times) : undefined;
}

/**
 * True when Klaviyo may send the profile email marketing: subscribed, or never subscribed, with no
 * suppression (what Klaviyo's `can_receive_email_marketing` says; read from consent and suppressions,
 * which every answer carries).
 */
export function canReceiveMarketing(subscriptions: WireSubscriptions | undefined): boolean {
  const marketing = subscriptions?.email?.marketing;
  if (!marketing || (marketing.suppression ?? []).length > 0) return false;
  return marketing.consent === 'SUBSCRIBED' || marketing.consent === 'NEVER_SUBSCRIBED';
}

/** True when Klaviyo says the profile never gave or refused email consent and nothing suppresses it. */
export function isNeverSubscribed(subscriptions: WireSubscriptions | undefined): boolean {
  const marketing = subscriptions?.email?.marketing;
  return marketing?.consent === 'NEVER_SUBSCRIBED' && (marketing.suppression ?? []).length === 0;
}
