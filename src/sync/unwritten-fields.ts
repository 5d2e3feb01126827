/**
 * Fields segsync wrote on an ESP and no longer writes: a mapping or a segment's property push taken
 * out of segsync.yaml (or renamed) leaves every record there with the last value segsync wrote, which
 * nothing updates any more while the ESP's flows may still read it. segsync never clears such a
 * field (the user may have handed it to something else); it names it until told to forget it.
 */
import type { EspName } from '../model/types';
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
  const when = f.lastWrittenAt !== undefined ? ` (last written ${new Date(f.lastWrittenAt).toISOString().slice(0, 16).replace('T', ' ')} UTC)` : '';
  return (
    `${f.esp}: field ${f.key} is no longer in segsync.yaml${when}: its records keep the last value segsync wrote, which nothing updates now; ` +
    `clear it on ${f.esp} if anything there reads it, then \`segsync unlink --esp ${f.esp} --field ${f.key}\` to stop this notice`
  );
}
