/**
 * What the demo shows: which segment each sandbox carries for each contact, read from the sandboxes
 * themselves (tags, tag properties, tag lists and segment properties, as the config places them), and
 * the changes between two readings, grouped so one flip shows as one line across the ESPs.
 */
import type { SandboxContact } from '../../connectors/connector';
import type { SegsyncConfig } from '../config/schema';
import type { EspName } from '../model/types';
import type { SegmentTarget, SyncMapping } from '../sync/mapping';

/** Per contact email, the segments an ESP carries and their values (`true` for a tag). */
export type Marks = Map<string, Map<string, string | number | boolean>>;

/** Where an ESP keeps segsync's tags besides its native ones (the sandbox reports those), from the config. */
export interface TagPlacement {
  /** A property holding the tags (multi-checkbox string `a;b` or a list). */
  property: string | undefined;
  /** Tags mirrored as lists named `<prefix><tag>`, if any. */
  listPrefix: string | undefined;
}

/** Where each configured ESP keeps tags: read from its connector section (`tags`, `listPrefix`), whatever the vendor. */
export function tagPlacements(config: SegsyncConfig): Map<EspName, TagPlacement> {
  const out = new Map<EspName, TagPlacement>();
  for (const [esp, section] of Object.entries(config.connectors) as [
    EspName,
    { tags?: { property?: string; lists: boolean }; listPrefix?: string } | undefined,
  ][]) {
    if (!section) continue;
    out.set(esp, { property: section.tags?.property, listPrefix: section.tags?.lists ? (section.listPrefix ?? '') : undefined });
  }
  return out;
}

function tagsOf(c: SandboxContact, placement: TagPlacement): Set<string> {
  const tags = new Set<string>(c.tags);
  const held = placement.property ? c.properties[placement.property] : undefined;
  if (typeof held === 'string') for (const t of held.split(';')) if (t) tags.add(t);
  if (Array.isArray(held)) for (const t of held) if (typeof t === 'string') tags.add(t);
  if (placement.listPrefix !== undefined) for (const l of c.lists) if (l.startsWith(placement.listPrefix)) tags.add(l.slice(placement.listPrefix.length));
  return tags;
}

function markOf(target: SegmentTarget, c: SandboxContact, tags: Set<string>): string | number | boolean | undefined {
  if (target.as === 'tag') return tags.has(target.name) ? true : undefined;
  const v = c.properties[target.name];
  if (v === undefined || v === null || v === '' || v === false || v === 'false') return undefined;
  return typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
}

/** The segments one ESP carries, per contact, given its contacts and the config's push targets. */
export function readMarks(contacts: SandboxContact[], targets: SegmentTarget[], placement: TagPlacement): Marks {
  const out: Marks = new Map();
  for (const c of contacts) {
    const tags = tagsOf(c, placement);
    const marks = new Map<string, string | number | boolean>();
    for (const t of targets) {
      const m = markOf(t, c, tags);
      if (m !== undefined) marks.set(t.segment, m);
    }
    if (marks.size) out.set(c.email, marks);
  }
  return out;
}

/** One change seen between two readings: a segment appeared, changed value or went, on some ESPs. */
export interface MarkChange {
  email: string;
  segment: string;
  /** The new value; undefined when the segment went. */
  value: string | number | boolean | undefined;
  esps: EspName[];
}

/** Changes from `before` to `after`, one per contact × segment × new value, in a stable order. */
export function diffMarks(before: Map<EspName, Marks>, after: Map<EspName, Marks>): MarkChange[] {
  const grouped = new Map<string, MarkChange>();
  for (const [esp, now] of after) {
    const was = before.get(esp) ?? new Map();
    const emails = new Set([...now.keys(), ...was.keys()]);
    for (const email of emails) {
      const a = was.get(email) ?? new Map();
      const b = now.get(email) ?? new Map();
      for (const segment of new Set([...a.keys(), ...b.keys()])) {
        const value = b.get(segment);
        if (value === a.get(segment)) continue;
        const key = `${email}\u0000${segment}\u0000${String(value)}`;
        const change: MarkChange = grouped.get(key) ?? { email, segment, value, esps: [] };
        change.esps.push(esp);
        grouped.set(key, change);
      }
    }
  }
  return [...grouped.values()].sort((x, y) => x.segment.localeCompare(y.segment) || x.email.localeCompare(y.email));
}

/** How many contacts carry each segment on each ESP. */
export function countMarks(marks: Map<EspName, Marks>): Map<string, Map<EspName, number>> {
  const out = new Map<string, Map<EspName, number>>();
  for (const [esp, perContact] of marks) {
    for (const segs of perContact.values()) {
      for (const segment of segs.keys()) {
        const row = out.get(segment) ?? new Map<EspName, number>();
        row.set(esp, (row.get(esp) ?? 0) + 1);
        out.set(segment, row);
      }
    }
  }
  return out;
}

/** The push targets per ESP from a resolved mapping. */
export function targetsByEsp(mapping: SyncMapping): Map<EspName, SegmentTarget[]> {
  return new Map([...mapping.perEsp].map(([esp, m]) => [esp, m.segments]));
}

/** For one segment on one ESP: members segsync counts that the ESP does not show, and contacts the ESP shows that segsync does not count. */
export function markDifferences(members: ReadonlySet<string>, segment: string, marks: Marks): { missing: string[]; extra: string[] } {
  const shown = new Set([...marks].filter(([, segs]) => segs.has(segment)).map(([email]) => email));
  return { missing: [...members].filter((e) => !shown.has(e)).sort(), extra: [...shown].filter((e) => !members.has(e)).sort() };
}
