/** The identity graph on SQLite (tables from migration 60). */
import type { Database as Db, Statement } from 'better-sqlite3';
import { stableStringify } from '../../model/identity';
import { StatementCache } from './statements';
import type { ConsentStatus, FieldValue } from '../../model/types';
import type { Identifier, IdentifierKind, IdentityOwner, IdentityStore, Profile, ProfileAppendOutcome, ProfileChange, ProfileEventRow } from '../identities';

type Row = Record<string, unknown>;

/** The identity graph of one SQLite store (shares its connection and so its transactions). */
export class SqliteIdentities implements IdentityStore {
  /** Its own statement cache: `pluck()` changes a statement's mode, so sharing the store's would change its answers. */
  private readonly stmts: StatementCache;

  constructor(private readonly db: Db) {
    this.stmts = new StatementCache(db);
  }

  private stmt(sql: string): Statement {
    return this.stmts.get(sql);
  }

  ownerOf(id: Identifier): IdentityOwner | undefined {
    const row = this.stmt('SELECT contact_id, profile_id FROM identifiers WHERE kind = ? AND value = ?').get(id.kind, id.value) as Row | undefined;
    if (!row) return undefined;
    return row.contact_id !== null ? { contactId: row.contact_id as number } : { profileId: row.profile_id as number };
  }

  link(id: Identifier, owner: IdentityOwner, at: number): void {
    this.stmt(
      `INSERT INTO identifiers (kind, value, contact_id, profile_id, linked_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (kind, value) DO UPDATE SET contact_id = excluded.contact_id, profile_id = excluded.profile_id, linked_at = excluded.linked_at
       WHERE contact_id IS NOT excluded.contact_id OR profile_id IS NOT excluded.profile_id`,
    ).run(id.kind, id.value, owner.contactId ?? null, owner.profileId ?? null, at);
    if (owner.profileId !== undefined) this.touchProfile(owner.profileId, at);
  }

  emailOf(contactId: number): string | undefined {
    return this.stmt('SELECT email FROM contacts WHERE id = ?').pluck().get(contactId) as string | undefined;
  }

  contactIdOf(email: string): number | undefined {
    return this.stmt('SELECT id FROM contacts WHERE email = ?').pluck().get(email) as number | undefined;
  }

  identifiersOf(owner: IdentityOwner): Identifier[] {
    const rows = (
      owner.contactId !== undefined
        ? this.stmt('SELECT kind, value FROM identifiers WHERE contact_id = ? ORDER BY linked_at, kind, value').all(owner.contactId)
        : this.stmt('SELECT kind, value FROM identifiers WHERE profile_id = ? ORDER BY linked_at, kind, value').all(owner.profileId)
    ) as Row[];
    return rows.map((r) => ({ kind: r.kind as IdentifierKind, value: r.value as string }));
  }

  createProfile(at: number): number {
    return Number(this.stmt("INSERT INTO profiles (traits, created_at, last_seen_at) VALUES ('{}', ?, ?)").run(at, at).lastInsertRowid);
  }

  getProfile(profileId: number): Profile | undefined {
    const row = this.stmt('SELECT * FROM profiles WHERE id = ?').get(profileId) as Row | undefined;
    if (!row) return undefined;
    return {
      id: row.id as number,
      traits: traitsOf(row.traits),
      tags: JSON.parse(row.tags as string) as string[],
      consent: row.consent_status === null ? undefined : { status: row.consent_status as ConsentStatus, at: row.consent_at as number },
      createdAt: row.created_at as number,
      lastSeenAt: row.last_seen_at as number,
    };
  }

  updateProfile(profileId: number, change: ProfileChange, at: number): void {
    const stored = this.getProfile(profileId);
    if (!stored) return;
    const traits = { ...stored.traits, ...change.traits };
    const tags = [...new Set([...stored.tags, ...(change.tags ?? [])])];
    const consent = change.consent !== undefined && (stored.consent === undefined || stored.consent.at <= at) ? { status: change.consent, at } : stored.consent;
    this.stmt('UPDATE profiles SET traits = ?, tags = ?, consent_status = ?, consent_at = ?, last_seen_at = MAX(last_seen_at, ?) WHERE id = ?').run(
      JSON.stringify(traits),
      JSON.stringify(tags),
      consent?.status ?? null,
      consent?.at ?? null,
      at,
      profileId,
    );
  }

  appendProfileEvents(profileId: number, rows: ProfileEventRow[], at: number): ProfileAppendOutcome {
    const insert = this.stmt(
      'INSERT INTO profile_events (profile_id, event_id, name, time, properties, source) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    const onContact = this.stmt('SELECT 1 FROM events WHERE event_id = ?');
    let inserted = 0;
    let duplicates = 0;
    const conflicts: number[] = [];
    rows.forEach((e, i) => {
      // An id already on a contact is a resend of an event that was anonymous before and has moved.
      if (onContact.get(e.eventId)) {
        duplicates++;
        return;
      }
      if (insert.run(profileId, e.eventId, e.name, e.time, e.propertiesJson, e.source).changes) inserted++;
      else if (this.sameProfileEvent(profileId, e)) duplicates++;
      else conflicts.push(i);
    });
    if (inserted) this.touchProfile(profileId, at);
    return { inserted, duplicates, conflicts };
  }

  private sameProfileEvent(profileId: number, e: ProfileEventRow): boolean {
    const stored = this.stmt('SELECT profile_id, name, time, properties FROM profile_events WHERE event_id = ?').get(e.eventId) as Row | undefined;
    if (!stored) return true;
    if (stored.profile_id !== profileId || stored.name !== e.name || (stored.time !== e.time && !e.timeFromReceipt)) return false;
    return stored.properties === e.propertiesJson || stableStringify(JSON.parse(stored.properties as string)) === stableStringify(JSON.parse(e.propertiesJson));
  }

  profileEvents(profileId: number): ProfileEventRow[] {
    const rows = this.stmt('SELECT event_id, name, time, properties, source FROM profile_events WHERE profile_id = ? ORDER BY time, id').all(
      profileId,
    ) as Row[];
    return rows.map((r) => ({
      eventId: r.event_id as string,
      name: r.name as string,
      time: r.time as number,
      propertiesJson: r.properties as string,
      source: r.source as ProfileEventRow['source'],
    }));
  }

  deleteProfile(profileId: number): void {
    this.stmt('DELETE FROM profiles WHERE id = ?').run(profileId);
  }

  mergeProfiles(from: number, into: number, at: number): void {
    if (from === into) return;
    const source = this.getProfile(from);
    const target = this.getProfile(into);
    if (!source || !target) return;
    this.stmt('UPDATE profile_events SET profile_id = ? WHERE profile_id = ?').run(into, from);
    this.stmt('UPDATE identifiers SET profile_id = ? WHERE profile_id = ?').run(into, from);
    // The target's own traits are the newer word on the person: the merged one only fills gaps.
    const traits = { ...source.traits, ...target.traits };
    const tags = [...new Set([...target.tags, ...source.tags])];
    const consent = !target.consent || (source.consent && source.consent.at > target.consent.at) ? source.consent : target.consent;
    this.stmt(
      'UPDATE profiles SET traits = ?, tags = ?, consent_status = ?, consent_at = ?, created_at = MIN(created_at, ?), last_seen_at = MAX(last_seen_at, ?, ?) WHERE id = ?',
    ).run(JSON.stringify(traits), JSON.stringify(tags), consent?.status ?? null, consent?.at ?? null, source.createdAt, source.lastSeenAt, at, into);
    this.deleteProfile(from);
  }

  moveContactEvents(from: number, into: number): number {
    if (from === into) return 0;
    return this.stmt('UPDATE events SET contact_id = ? WHERE contact_id = ?').run(into, from).changes;
  }

  pruneProfiles(before: number): number {
    return this.stmt('DELETE FROM profiles WHERE last_seen_at < ?').run(before).changes;
  }

  profileCounts(): { profiles: number; events: number } {
    const profiles = this.stmt('SELECT COUNT(*) FROM profiles').pluck().get() as number;
    const events = this.stmt('SELECT COUNT(*) FROM profile_events').pluck().get() as number;
    return { profiles, events };
  }

  private touchProfile(profileId: number, at: number): void {
    this.stmt('UPDATE profiles SET last_seen_at = MAX(last_seen_at, ?) WHERE id = ?').run(at, profileId);
  }
}

function traitsOf(text: unknown): Record<string, FieldValue> {
  return typeof text === 'string' ? (JSON.parse(text) as Record<string, FieldValue>) : {};
}
