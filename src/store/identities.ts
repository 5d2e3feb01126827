/**
 * The identity graph: the identifiers an app gives a person besides the email (Segment's `userId`
 * and `anonymousId`), each owned by one contact, or by an anonymous profile while the person has
 * given no email. ESP record ids stay where they are (the contacts' external ids).
 */
import type { ConsentStatus, FieldValue } from '../model/types';
import type { EventRow } from './store';

/** The decision field under which contact merges are recorded (`segsync explain EMAIL email` lists them). */
export const IDENTITY_DECISION = '@identity';

/** Kinds of app identifiers; an email is a contact's own key and an ESP id an external id. */
export const IDENTIFIER_KINDS = ['userId', 'anonymousId'] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];

export interface Identifier {
  kind: IdentifierKind;
  value: string;
}

/** Who an identifier belongs to: a contact (it has an email) or an anonymous profile (it has none). */
export type IdentityOwner = { contactId: number; profileId?: undefined } | { profileId: number; contactId?: undefined };

/** An event as an anonymous profile keeps it: an event row without an email. */
export type ProfileEventRow = Omit<EventRow, 'email'>;

/** What appending events to a profile did (see AppendOutcome). */
export interface ProfileAppendOutcome {
  inserted: number;
  duplicates: number;
  /** Positions of events whose id is stored with other content (or on a contact): not stored. */
  conflicts: number[];
}

/** What an identify without an email sets on an anonymous profile. */
export interface ProfileChange {
  traits: Record<string, FieldValue>;
  tags?: string[];
  consent?: ConsentStatus;
}

/** An anonymous profile: traits a visitor set before giving an email, and when it was last seen. */
export interface Profile {
  id: number;
  traits: Record<string, FieldValue>;
  /** Tags and consent a server-key identify gave before there was an email: applied when it is identified. */
  tags: string[];
  consent: { status: ConsentStatus; at: number } | undefined;
  createdAt: number;
  lastSeenAt: number;
}

/** Reads and writes of the identity graph. Every method runs inside the caller's transaction, if any. */
export interface IdentityStore {
  /** The owner of an identifier, if it is known. */
  ownerOf(id: Identifier): IdentityOwner | undefined;
  /** Gives an identifier to an owner (taking it from a previous one). */
  link(id: Identifier, owner: IdentityOwner, at: number): void;
  /** A contact's email (cheaper than reading the whole contact). */
  emailOf(contactId: number): string | undefined;
  /** The contact with this normalised email, if any. */
  contactIdOf(email: string): number | undefined;
  /** A contact's or a profile's identifiers. */
  identifiersOf(owner: IdentityOwner): Identifier[];
  /** Creates an empty anonymous profile. */
  createProfile(at: number): number;
  getProfile(profileId: number): Profile | undefined;
  /** Merges traits (the newer value of a name wins), tags and consent into a profile and marks it seen at `at`. */
  updateProfile(profileId: number, change: ProfileChange, at: number): void;
  /** Stores events on a profile; an id already stored (here or on a contact) is a duplicate or a conflict. */
  appendProfileEvents(profileId: number, rows: ProfileEventRow[], at: number): ProfileAppendOutcome;
  /** A profile's events, oldest first. */
  profileEvents(profileId: number): ProfileEventRow[];
  /** Removes a profile with its events and identifiers (after they moved elsewhere, or at expiry). */
  deleteProfile(profileId: number): void;
  /** Moves one profile's events, traits (where the target has none newer) and identifiers into another. */
  mergeProfiles(from: number, into: number, at: number): void;
  /** Moves every event of contact `from` to contact `into`; returns how many moved. */
  moveContactEvents(from: number, into: number): number;
  /** Deletes profiles not seen since `before`, with their events; returns how many. */
  pruneProfiles(before: number): number;
  /** How many profiles and profile events there are. */
  profileCounts(): { profiles: number; events: number };
}
