/**
 * Fields segsync wrote on an ESP and no longer writes, and tags it put there and no longer owns: a
 * mapping or a segment's push taken out of segsync.yaml (or renamed) leaves every record with the
 * last value segsync wrote, and a segment tag named outside the owned prefix on the contacts segsync
 * put it on, which nothing updates any more while the ESP's flows may still read them. segsync never
 * clears such a field or tag (the user may have handed it to something else, and a wiped tag is
 * worse than a stale one); it names them until told to forget them.
 */
import type { EspName } from '../model/types';
import { formatUtcMinute } from '../model/units';
import type { Store } from '../store/store';
import type { SyncMapping } from './mapping';

export interface UnwrittenField {
  esp: EspName;
  /** The field's name on the ESP. */
  key: string;
  /** When a push last wrote it (unknown for a field written before segsync recorded it). */
  lastWrittenAt: number | undefined;
}

/** The fields segsync has written on each mapped ESP that the mapping no longer names, in ESP then key order. */
export function fieldsNoLongerWritten(store: Store, mapping: SyncMapping): UnwrittenField[] {
  const out: UnwrittenField[] = [];
  for (const esp of mapping.esps) {
    const m = mapping.perEsp.get(esp)!;
    // A field still mapped in either direction is not stale: pulled only, the ESP's value is the truth.
    const mapped = new Set([...m.byRemote.keys(), ...m.segments.filter((s) => s.as === 'property').map((s) => s.name)]);
    for (const w of store.writtenFields(esp)) if (!mapped.has(w.key)) out.push({ esp, ...w });
  }
  return out;
}

/** One line per field for a person: what was left where, and what to do. */
export function describeUnwritten(f: UnwrittenField): string {
  const when = f.lastWrittenAt !== undefined ? ` (last written ${formatUtcMinute(f.lastWrittenAt)} UTC)` : '';
  return (
    `${f.esp}: field ${f.key} is no longer in segsync.yaml${when}: its records keep the last value segsync wrote, which nothing updates now; ` +
    `clear it on ${f.esp} if anything there reads it, then \`segsync unlink --esp ${f.esp} --field ${f.key}\` to stop this notice`
  );
}

export interface TagLeftBehind {
  esp: EspName;
  tag: string;
  /** Contacts that hold it because segsync put it there. */
  contacts: number;
  lastAddedAt: number | undefined;
}

/**
 * Tags segsync put on contacts of each mapped ESP that it no longer owns (neither its namespace nor
 * a segment tag pushed there), with how many contacts still hold them. With `prune`, a tag no contact
 * holds any more is forgotten on the way (nothing was left behind); a reader (`status`) writes nothing.
 */
export function tagsNoLongerOwned(store: Store, mapping: SyncMapping, prune = false): TagLeftBehind[] {
  const out: TagLeftBehind[] = [];
  for (const esp of mapping.esps) {
    const candidates = store.addedTagNames(esp).filter((t) => mapping.tagOwnership(esp, t.tag) === 'user');
    if (!candidates.length) continue;
    const holders = store.addedTagHolders(
      esp,
      candidates.map((t) => t.tag),
    );
    for (const t of candidates) {
      const contacts = holders.get(t.tag) ?? 0;
      if (contacts > 0) out.push({ esp, tag: t.tag, contacts, lastAddedAt: t.lastAddedAt });
      else if (prune) store.forgetAddedTag(esp, t.tag);
    }
  }
  return out;
}

/** One line per tag for a person: where it was left, on how many contacts, and what to do. */
export function describeTagLeftBehind(t: TagLeftBehind): string {
  const when = t.lastAddedAt !== undefined ? `, last added ${formatUtcMinute(t.lastAddedAt)} UTC` : '';
  return (
    `${t.esp}: tag ${t.tag} is no longer pushed by segsync.yaml (${t.contacts === 1 ? '1 contact holds it' : `${t.contacts} contacts hold it`} because segsync put it there${when}); ` +
    `segsync leaves it, as it is not in the owned prefix: remove it on ${t.esp} if nothing there should read it, then \`segsync unlink --esp ${t.esp} --tag ${t.tag}\` to stop this notice`
  );
}
