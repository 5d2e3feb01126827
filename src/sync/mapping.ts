/**
 * The sync rules of segsync.yaml, resolved once per run into lookups the inbound and outbound sides
 * use: which local field each ESP field feeds (and in which direction), which tags segsync owns, and
 * which segments become which tags or properties on which ESP.
 */
import type { FieldSpec } from '../../connectors/connector';
import type { FieldConfig, SegsyncConfig } from '../config/schema';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';

export interface FieldLink {
  local: string;
  remote: string;
  /** Local → ESP. */
  out: boolean;
  /** ESP → local. */
  in: boolean;
  field: FieldConfig;
}

export interface SegmentTarget {
  segment: string;
  as: 'tag' | 'property';
  /** Tag or property name on the ESP. */
  name: string;
}

/** Everything about one ESP the sync needs from the config. */
export interface EspMapping {
  esp: EspName;
  fields: FieldLink[];
  byRemote: Map<string, FieldLink>;
  segments: SegmentTarget[];
  /** What an archive or deletion of a record on this ESP does (`connectors.<esp>.onDelete`). */
  onDelete: 'unlink' | 'erase';
}

export interface SyncMapping {
  esps: EspName[];
  perEsp: Map<EspName, EspMapping>;
  /**
   * How segsync may treat a tag on an ESP: `namespace` (the prefix or a configured owned name: its
   * own, adopted wherever it is found), `segment` (a segment tag pushed to that ESP under another
   * name: removed only where segsync put it, since a user may have a tag of the same name), or
   * `user` (never removed).
   */
  tagOwnership(esp: EspName, tag: string): TagOwnership;
}

export type TagOwnership = 'namespace' | 'segment' | 'user';

/** Resolves the config's mappings, tag ownership and segment targets. */
export function resolveMapping(config: SegsyncConfig): SyncMapping {
  const perEsp = new Map<EspName, EspMapping>();
  const esps = ESP_NAMES.filter((esp) => config.connectors[esp]?.enabled);
  for (const esp of esps) {
    const fields: FieldLink[] = (config.mappings[esp] ?? []).map((m) => ({
      local: m.local,
      remote: m.remote,
      out: m.direction !== 'in',
      in: m.direction !== 'out',
      field: config.fields[m.local]!,
    }));
    const segments: SegmentTarget[] = [];
    for (const [name, seg] of Object.entries(config.segments)) {
      for (const t of seg.push) {
        if (t.esp !== esp) continue;
        const target = { segment: name, as: t.as, name: t.name ?? name };
        segments.push(target);
      }
    }
    perEsp.set(esp, { esp, fields, byRemote: new Map(fields.map((f) => [f.remote, f])), segments, onDelete: config.connectors[esp]?.onDelete ?? 'unlink' });
  }
  const owned = config.tags.owned;
  const named = new Map(esps.map((esp) => [esp, new Set([...owned.names, ...owned[esp]])]));
  const segmentTagsOn = new Map(esps.map((esp) => [esp, new Set(segmentTagNames(perEsp.get(esp)!))]));
  return {
    esps,
    perEsp,
    tagOwnership: (esp, tag) => {
      if ((owned.prefix !== '' && tag.startsWith(owned.prefix)) || named.get(esp)?.has(tag)) return 'namespace';
      return segmentTagsOn.get(esp)?.has(tag) ? 'segment' : 'user';
    },
  };
}

/** The fields an ESP must have for this mapping (what `ensureSchema` creates when missing). */
export function fieldSpecsFor(mapping: EspMapping, segmentTypes: Record<string, 'flag' | 'value'>): FieldSpec[] {
  const specs: FieldSpec[] = mapping.fields.map((f) => ({
    name: f.remote,
    type: f.field.type,
    ...(f.field.label ? { label: f.field.label } : {}),
    ...(f.field.options ? { options: f.field.options } : {}),
  }));
  for (const s of mapping.segments) {
    if (s.as === 'property') specs.push({ name: s.name, type: segmentTypes[s.segment] === 'flag' ? 'boolean' : 'string' });
  }
  return specs;
}

/** Tag names segsync pushes to an ESP for segments (so the ESP's tag options can be prepared). */
export function segmentTagNames(mapping: EspMapping): string[] {
  return mapping.segments.filter((s) => s.as === 'tag').map((s) => s.name);
}
