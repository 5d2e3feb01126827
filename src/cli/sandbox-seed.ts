/**
 * What `segsync sandbox VENDOR --seed N` puts in a fresh sandbox: the demo's seeded shoppers who live
 * in that vendor, under its field names, and (where the vendor keeps them) their engagement history.
 * Pure: the same vendor, count and seed value give the same people and events; the same seed value
 * given to the three sandboxes gives overlapping casts (about a fifth of shoppers live in two ESPs), so
 * a first pull merges them by email as it would real accounts.
 */
import type { SandboxEventSeed, SandboxSeed } from '../../connectors/connector';
import type { EspName } from '../model/types';
import type { Shopper } from './demo-shoppers';
import { castShoppers, ShopperSimulation } from './demo-shoppers';

/** Days of back-dated behaviour a seeded sandbox carries (as the demo sends). */
export const SEED_HISTORY_DAYS = 60;

/** Each vendor's own names for the fields a shopper has. */
const FIELD_NAMES: Record<EspName, { first: string; last: string; country?: string }> = {
  hubspot: { first: 'firstname', last: 'lastname', country: 'country' },
  mailchimp: { first: 'FNAME', last: 'LNAME' },
  klaviyo: { first: 'first_name', last: 'last_name', country: 'country' },
};

/** Vendors whose sandboxes keep engagement events. */
const KEEPS_EVENTS: Record<EspName, boolean> = { hubspot: false, mailchimp: false, klaviyo: true };

export interface SandboxSeedPlan {
  contacts: SandboxSeed[];
  events: SandboxEventSeed[];
}

/** The first `n` shoppers of the cast for `seed` who live in `esp`. */
export function shoppersOf(esp: EspName, n: number, seed: number): Shopper[] {
  if (n <= 0) return [];
  for (let cast = n * 3; ; cast *= 2) {
    const living = castShoppers(cast, seed).filter((s) => s.homes.includes(esp));
    if (living.length >= n) return living.slice(0, n);
  }
}

/** `n` shoppers for one vendor's sandbox, and their last {@link SEED_HISTORY_DAYS} days of events up to `now`. */
export function sandboxSeed(esp: EspName, n: number, seed: number, now: number): SandboxSeedPlan {
  const shoppers = shoppersOf(esp, n, seed);
  const names = FIELD_NAMES[esp];
  // Dormant shoppers have unsubscribed (about one in eight, as on real lists); everyone else is subscribed.
  const contacts = shoppers.map((s): SandboxSeed => ({
    email: s.email,
    properties: { [names.first]: s.firstName, [names.last]: s.lastName, ...(names.country ? { [names.country]: s.country } : {}) },
    consent: s.persona === 'dormant' ? 'unsubscribed' : 'subscribed',
  }));
  const events = KEEPS_EVENTS[esp]
    ? new ShopperSimulation(shoppers, seed)
        .history(now, SEED_HISTORY_DAYS)
        .map((e) => ({ email: e.email, name: e.event, time: e.time, properties: e.properties }))
    : [];
  return { contacts, events };
}
