/**
 * Versioned schema migrations. The file's `PRAGMA user_version` records the last one applied; each
 * runs once, in its own transaction, in order. Never edit a shipped migration: add the next one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The tables whose rows the rules engine's caches hold besides answers and wake-ups (see migration 85). */
export const RULES_TABLES = ['contacts', 'properties', 'tags'];

/** Each table of RULES_TABLES and `events`, with its contact id column. */
const CONTACT_ID_COLUMN: Record<string, string> = { contacts: 'id', properties: 'contact_id', tags: 'contact_id', events: 'contact_id' };

/**
 * Notes the contacts a write of `table` by `op` touched in contact_changes, stamped with the
 * rules_writes count the same trigger just raised (see migration 88).
 */
function noteContactChange(table: string, op: string): string {
  const id = CONTACT_ID_COLUMN[table]!;
  // `WHERE` is there for the parser: an upsert's SELECT needs one before ON CONFLICT.
  const note = (contact: string, where = 'true'): string =>
    `INSERT INTO contact_changes (contact_id, version) SELECT ${contact}, n FROM rules_writes WHERE ${where} ON CONFLICT (contact_id) DO UPDATE SET version = excluded.version;`;
  if (op === 'INSERT') return note(`NEW.${id}`);
  if (op === 'DELETE') return note(`OLD.${id}`);
  // An update that moves a row (a merge) changes both contacts.
  return `${note(`NEW.${id}`)} ${note(`OLD.${id}`, `OLD.${id} <> NEW.${id}`)}`;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE contacts (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  consent_status TEXT,
  consent_updated_at INTEGER,
  consent_source TEXT
);

CREATE TABLE external_ids (
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  esp TEXT NOT NULL,
  external_id TEXT NOT NULL,
  PRIMARY KEY (contact_id, esp),
  UNIQUE (esp, external_id)
) WITHOUT ROWID;

CREATE TABLE properties (
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  PRIMARY KEY (contact_id, name)
) WITHOUT ROWID;

CREATE TABLE tags (
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  PRIMARY KEY (contact_id, tag)
) WITHOUT ROWID;

CREATE TABLE event_names (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL REFERENCES event_names(id),
  time INTEGER NOT NULL,
  properties TEXT NOT NULL,
  source TEXT NOT NULL
);
CREATE INDEX events_by_contact ON events (contact_id, time);

CREATE TABLE segment_state (
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  segment TEXT NOT NULL,
  value TEXT NOT NULL,
  since INTEGER NOT NULL,
  PRIMARY KEY (contact_id, segment)
) WITHOUT ROWID;

CREATE TABLE wakeups (
  contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
  next_change_at INTEGER NOT NULL
);
CREATE INDEX wakeups_by_time ON wakeups (next_change_at);

CREATE TABLE sync_state (
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  esp TEXT NOT NULL,
  key TEXT NOT NULL,
  remote_value TEXT,
  pushed_value TEXT,
  remote_modified_at INTEGER,
  PRIMARY KEY (contact_id, esp, key)
) WITHOUT ROWID;

CREATE TABLE sync_cursors (
  esp TEXT NOT NULL,
  kind TEXT NOT NULL,
  cursor TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (esp, kind)
) WITHOUT ROWID;

CREATE TABLE decisions (
  id INTEGER PRIMARY KEY,
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  field TEXT NOT NULL,
  winner TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL,
  detail TEXT
);
CREATE INDEX decisions_by_contact ON decisions (contact_id, field, at);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  esp TEXT NOT NULL,
  contact_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  op TEXT NOT NULL,
  value TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  dead INTEGER NOT NULL DEFAULT 0,
  UNIQUE (esp, contact_id, key)
);
CREATE INDEX outbox_due ON outbox (esp, dead, next_attempt_at);
`,
  },
  {
    version: 2,
    name: 'rules: snapshot of the compact event cache',
    // The rules engine's columnar event cache, saved so a restart does not re-read every event.
    // Any deleted or changed event (an erase) drops the snapshot: it never outlives the data.
    sql: `
CREATE TABLE event_cache (
  layout TEXT NOT NULL,
  part INTEGER NOT NULL,
  max_event_row INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (layout, part)
);
CREATE TRIGGER event_cache_drop_on_delete AFTER DELETE ON events BEGIN DELETE FROM event_cache; END;
CREATE TRIGGER event_cache_drop_on_update AFTER UPDATE ON events BEGIN DELETE FROM event_cache; END;
`,
  },
  {
    // Numbered apart from the rules migrations so the two lines of work never collide.
    version: 10,
    name: 'sync: webhook delivery dedupe',
    sql: `
CREATE TABLE webhook_events (
  esp TEXT NOT NULL,
  event_id TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (esp, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_events_by_time ON webhook_events (seen_at);
`,
  },
  {
    version: 11,
    name: 'sync: outbox operations that may have reached the ESP',
    // Set before a batch is sent: a crash between the call and its answer leaves the ESP in an unknown
    // state for that operation, so a later change back to the old value must still be written.
    sql: `ALTER TABLE outbox ADD COLUMN sent INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    version: 12,
    name: 'events: event ids unique through a named index',
    // An inline UNIQUE can never be dropped; a named unique index can be set aside during a bulk load
    // and built once at its end (random ids such as UUIDs cost ~3 µs each to insert into it row by
    // row). Row ids are kept, so the rules' event cache snapshot stays valid.
    sql: `
CREATE TABLE events_new (
  id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL REFERENCES event_names(id),
  time INTEGER NOT NULL,
  properties TEXT NOT NULL,
  source TEXT NOT NULL
);
INSERT INTO events_new (id, event_id, contact_id, name_id, time, properties, source)
  SELECT id, event_id, contact_id, name_id, time, properties, source FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE UNIQUE INDEX events_by_event_id ON events (event_id);
CREATE INDEX events_by_contact ON events (contact_id, time);
CREATE TRIGGER event_cache_drop_on_delete AFTER DELETE ON events BEGIN DELETE FROM event_cache; END;
CREATE TRIGGER event_cache_drop_on_update AFTER UPDATE ON events BEGIN DELETE FROM event_cache; END;
`,
  },
  {
    version: 13,
    name: 'intake: quarantine for unreadable rows, store metadata',
    // Rows an older segsync stored that SQLite's JSON functions refuse (nesting deeper than 1000)
    // stopped every later start; they move aside here, and events are swept once more at each open.
    sql: `
CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ref TEXT NOT NULL,
  contact_id INTEGER,
  name TEXT,
  time INTEGER,
  source TEXT,
  raw TEXT NOT NULL,
  reason TEXT NOT NULL,
  quarantined_at INTEGER NOT NULL
);
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO quarantine (kind, ref, contact_id, name, time, source, raw, reason, quarantined_at)
  SELECT 'property', name, contact_id, name, updated_at, source, value, 'the value is not readable JSON (nested deeper than 1000 levels, or malformed)',
         CAST(strftime('%s', 'now') AS INTEGER) * 1000
  FROM properties WHERE NOT json_valid(value);
DELETE FROM properties WHERE NOT json_valid(value);
`,
  },
  {
    version: 30,
    name: 'two-way: find a contact by the stable id of its ESP record',
    // Only the '@record' rows: a Mailchimp pull looks up each member it cannot match by id or email.
    sql: `
CREATE INDEX sync_state_by_record ON sync_state (esp, remote_value) WHERE key = '@record';
`,
  },
  {
    // 60-64: the identity graph (issue 16).
    version: 60,
    name: 'identity: userId and anonymousId identifiers, anonymous profiles and their events',
    // An identifier belongs to a contact (it has an email) or to an anonymous profile (a visitor who
    // gave none yet); the profile's events wait in profile_events until identify moves them to a contact.
    sql: `
CREATE TABLE profiles (
  id INTEGER PRIMARY KEY,
  traits TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  consent_status TEXT,
  consent_at INTEGER,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX profiles_by_last_seen ON profiles (last_seen_at);
CREATE TABLE identifiers (
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
  profile_id INTEGER REFERENCES profiles(id) ON DELETE CASCADE,
  linked_at INTEGER NOT NULL,
  PRIMARY KEY (kind, value),
  CHECK ((contact_id IS NULL) <> (profile_id IS NULL))
) WITHOUT ROWID;
CREATE INDEX identifiers_by_contact ON identifiers (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX identifiers_by_profile ON identifiers (profile_id) WHERE profile_id IS NOT NULL;
CREATE TABLE profile_events (
  id INTEGER PRIMARY KEY,
  profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
  event_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  time INTEGER NOT NULL,
  properties TEXT NOT NULL,
  source TEXT NOT NULL
);
CREATE INDEX profile_events_by_profile ON profile_events (profile_id, time);
`,
  },
  {
    // 85-89: the rules' state snapshot (issue 20).
    version: 85,
    name: 'rules: snapshot of the contacts as rules read them, the stored answers and the wake-ups',
    // Saved when a process stops cleanly, so the next start does not re-read millions of rows. Any
    // write to a contact, its properties or tags drops it (the triggers), and so does every write of
    // answers or wake-ups (the store's own methods, in the same transaction: a trigger per answer row
    // would cost a first full recompute a tenth of its store time): it never outlives the data. Each
    // such write is also counted in rules_writes, which tells a process whether anyone but itself
    // wrote what its caches hold (see SqliteStore.foreignRulesWrites).
    sql: `
CREATE TABLE rules_state (
  layout TEXT NOT NULL,
  part INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (layout, part)
);
CREATE TABLE rules_writes (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT INTO rules_writes (id, n) VALUES (1, 0);
${RULES_TABLES.flatMap((t) =>
  ['INSERT', 'UPDATE', 'DELETE'].map(
    (op) =>
      `CREATE TRIGGER rules_state_drop_${t}_${op.toLowerCase()} AFTER ${op} ON ${t} BEGIN DELETE FROM rules_state; UPDATE rules_writes SET n = n + 1; END;`,
  ),
).join('\n')}
`,
  },
  {
    version: 86,
    name: 'rules: deleted or changed event rows count as writes to what the rules caches hold',
    // A clean stop rewrites the event cache snapshot from memory, which is right only when every
    // event write since the load came through this process: another connection's erase or merge
    // must stop it (its rows would come back). New rows need no count: the stop reads them by id.
    sql: `
${['UPDATE', 'DELETE']
  .map((op) => `CREATE TRIGGER rules_writes_events_${op.toLowerCase()} AFTER ${op} ON events BEGIN UPDATE rules_writes SET n = n + 1; END;`)
  .join('\n')}
`,
  },
  {
    version: 87,
    name: 'rules: snapshots in files beside the store, a row naming each',
    // Read as blobs, the snapshots cost a restart about half a second more than as files (see
    // snapshot-files.ts). Same names, so the triggers that drop them still do: a dropped row leaves
    // a file no row names, which is never read. The blob snapshots go: the next start rebuilds them.
    sql: `
DROP TABLE event_cache;
CREATE TABLE event_cache (layout TEXT PRIMARY KEY, max_event_row INTEGER NOT NULL, file TEXT NOT NULL);
DROP TABLE rules_state;
CREATE TABLE rules_state (layout TEXT PRIMARY KEY, file TEXT NOT NULL);
`,
  },
  {
    version: 88,
    name: 'rules: the contacts other processes changed, until a rules engine evaluates them',
    // A running daemon hears of its own writes at once; another process's (an import of contacts, a
    // pull, an erase) reach it only through this table. One row per contact however often it changed,
    // so it never outgrows the contacts. Its version is the rules_writes count the write raised, so a
    // reader tells what changed after a moment from one number (SqliteStore.contactChangeMark). The
    // triggers that count writes note them too: a second trigger per row cost an import of contacts
    // a fifth more time than one that does both.
    sql: `
CREATE TABLE contact_changes (contact_id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
${RULES_TABLES.flatMap((t) =>
  ['INSERT', 'UPDATE', 'DELETE'].map(
    (op) =>
      `DROP TRIGGER rules_state_drop_${t}_${op.toLowerCase()}; CREATE TRIGGER rules_state_drop_${t}_${op.toLowerCase()} AFTER ${op} ON ${t} BEGIN DELETE FROM rules_state; UPDATE rules_writes SET n = n + 1; ${noteContactChange(t, op)} END;`,
  ),
).join('\n')}
${['UPDATE', 'DELETE']
  .map(
    (op) =>
      `DROP TRIGGER rules_writes_events_${op.toLowerCase()}; CREATE TRIGGER rules_writes_events_${op.toLowerCase()} AFTER ${op} ON events BEGIN UPDATE rules_writes SET n = n + 1; ${noteContactChange('events', op)} END;`,
  )
  .join('\n')}
`,
  },
  {
    version: 89,
    name: 'rules: wake-ups without an index by time',
    // A daemon keeps the wake-ups in a heap and reads this table once, at a load with no saved state;
    // a one-off command reads the due ones with one scan. The index only cost every write: a full
    // recompute writes a wake-up for most contacts in random time order, and keeping the index took
    // 7-10 s of a first start's 28 s of storing at 1 M contacts (SqliteStore.dueWakeupTimes).
    sql: `DROP INDEX wakeups_by_time;`,
  },
  {
    version: 90,
    name: 'rules: one row of answers per contact',
    // SQLite's cost is per row: a first full recompute at 1 M contacts stored 9.4 M answer rows (the
    // format: answer-rows.ts). An answer that is not JSON (never written so) is kept as null.
    sql: `
CREATE TABLE segment_answers (
  contact_id INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
  answers TEXT NOT NULL
);
INSERT INTO segment_answers (contact_id, answers)
  SELECT contact_id, group_concat(segment || char(31) || iif(json_valid(value), value, 'null') || char(31) || since, char(31))
  FROM segment_state GROUP BY contact_id;
DROP TABLE segment_state;
`,
  },
  {
    version: 91,
    name: 'rules: event row ids that come back after the top rows are deleted',
    // SQLite gives a new row the highest id plus one, so deleting the top rows (an erase of the
    // newest contact) gives their ids to the next rows stored. A running daemon reads another
    // process's rows by id from where it stopped, so rows stored at ids it had passed were never
    // read (a \`segsync erase\`, then an import of events). Each deleted top row records the highest
    // row left (\`floor\`): every row above it is newer than the delete.
    sql: `
CREATE TABLE event_row_reuse (seq INTEGER PRIMARY KEY AUTOINCREMENT, floor INTEGER NOT NULL);
DROP TRIGGER rules_writes_events_delete;
CREATE TRIGGER rules_writes_events_delete AFTER DELETE ON events BEGIN
  UPDATE rules_writes SET n = n + 1;
  ${noteContactChange('events', 'DELETE')}
  INSERT INTO event_row_reuse (floor) SELECT top FROM (SELECT COALESCE(MAX(id), 0) AS top FROM events) WHERE OLD.id > top;
END;
`,
  },
  {
    version: 92,
    name: 'sync: when a push answer last wrote each key',
    // A pull reads an ESP over many calls while pushes go on (in this process or another). A page read
    // before a push and applied after its answer was recorded would put back what the ESP held before
    // it: the inbound side leaves the keys a push wrote since the read began (inbound.ts, heldKeys).
    sql: `ALTER TABLE sync_state ADD COLUMN pushed_at INTEGER;`,
  },
  {
    version: 93,
    name: 'rules: the event delete trigger finds the top row by the index, not a scan',
    // Migration 91's \`MAX(id)\` inside a FROM subquery is not SQLite's min/max shortcut: each deleted
    // row scanned the whole table (an erase of 200 events among 2 M took 15 s; removing an import's
    // repeats, hours). As a scalar subquery it reads one row.
    sql: `
DROP TRIGGER rules_writes_events_delete;
CREATE TRIGGER rules_writes_events_delete AFTER DELETE ON events BEGIN
  UPDATE rules_writes SET n = n + 1;
  ${noteContactChange('events', 'DELETE')}
  INSERT INTO event_row_reuse (floor) SELECT top FROM (SELECT COALESCE((SELECT MAX(id) FROM events), 0) AS top) WHERE OLD.id > top;
END;
`,
  },
  {
    version: 94,
    name: 'sync: one process at a time sends the outbox of an ESP',
    // A \`segsync push\` beside the daemon, or two pushes from cron that overlap, each claimed what the
    // other had not answered yet: changes sent twice and an older value landing after a newer one
    // (push-lease.ts). The row names the sender and when it last said it was still there.
    sql: `
CREATE TABLE push_leases (
  esp TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  command TEXT NOT NULL,
  renewed_at INTEGER NOT NULL
);
`,
  },
  {
    version: 95,
    name: 'sync: what a connector must know across processes (vendor jobs still running, subscriptions not applied yet)',
    // Kept in memory they died with the process that sent the job: a \`segsync push\` from cron ends
    // long before a vendor job it stopped waiting for, or a subscription the vendor applies later.
    sql: `
CREATE TABLE connector_notes (
  esp TEXT NOT NULL,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (esp, kind, key)
) WITHOUT ROWID;
CREATE INDEX connector_notes_expiry ON connector_notes (expires_at);
`,
  },
  {
    version: 96,
    name: 'sync: count the contacts unlinked from each ESP without reading the whole sync state',
    // `segsync status` shows them; sync_state holds every key of every contact on every ESP.
    sql: `
CREATE INDEX sync_state_unlinked ON sync_state (esp, remote_value) WHERE key = '@unlinked';
`,
  },
  {
    version: 97,
    name: 'sync: the fields segsync has written on each ESP, to name those it no longer writes',
    // A field taken out of segsync.yaml (a segment's property push removed or renamed) keeps on each
    // record the last value segsync wrote; finding such keys in sync_state would read all of it.
    sql: `
CREATE TABLE written_fields (
  esp TEXT NOT NULL,
  key TEXT NOT NULL,
  last_written_at INTEGER,
  PRIMARY KEY (esp, key)
) WITHOUT ROWID;
INSERT INTO written_fields (esp, key, last_written_at)
  SELECT esp, key, MAX(pushed_at) FROM sync_state WHERE pushed_value IS NOT NULL AND key NOT LIKE '@%' GROUP BY esp, key;
`,
  },
  {
    version: 98,
    name: 'sync: the tags segsync has put on contacts of each ESP, to name those it no longer owns',
    // A segment tag named outside the owned prefix stays on the contacts segsync put it on once its
    // push leaves segsync.yaml; the index finds those contacts without reading every sync-state key.
    sql: `
CREATE TABLE added_tags (
  esp TEXT NOT NULL,
  tag TEXT NOT NULL,
  last_added_at INTEGER,
  PRIMARY KEY (esp, tag)
) WITHOUT ROWID;
CREATE INDEX sync_state_added_tags ON sync_state (esp) WHERE key = '@tags-added';
INSERT INTO added_tags (esp, tag, last_added_at)
  SELECT s.esp, j.value, MAX(s.pushed_at) FROM sync_state s, json_each(s.pushed_value) j
  WHERE s.key = '@tags-added' AND json_valid(s.pushed_value) AND json_type(s.pushed_value) = 'array' AND j.type = 'text'
  GROUP BY s.esp, j.value;
`,
  },
];
