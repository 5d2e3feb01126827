/**
 * Merge fields: which Mailchimp type each neutral field type becomes, how a field name becomes a merge
 * tag, creating what is missing, and converting values both ways (booleans as strings, dates in the
 * field's own `date_format`, lists as comma-separated text, `""` to clear).
 */
import type { FieldSpec, FieldType, SchemaReport } from '../connector';
import { ValidationError } from '../../src/errors';
import type { FieldValue } from '../../src/model/types';
import type { MailchimpClient } from './client';
import type { MergeField, MergeFieldCreate, MergeType, MergeValue } from './wire';

/** Mailchimp's two `date_format`s for `date` fields. */
export type DateFormat = 'MM/DD/YYYY' | 'DD/MM/YYYY';

/** Merge tags are at most 10 characters (Mailchimp truncates longer ones silently). */
export const MAX_MERGE_TAG = 10;
/** Mailchimp refuses tag (static segment) names longer than this. */
export const MAX_TAG_NAME = 100;

const MAILCHIMP_TYPE: Record<FieldType, MergeType> = {
  string: 'text',
  number: 'number',
  boolean: 'dropdown',
  date: 'date',
  // Mailchimp has no date-time type: an ISO 8601 text keeps the instant exact and sortable.
  datetime: 'text',
  enum: 'dropdown',
  list: 'text',
};

/** Existing Mailchimp types a neutral type can live in without losing values. */
const COMPATIBLE: Record<FieldType, readonly string[]> = {
  string: ['text', 'url', 'imageurl', 'phone', 'zip', 'dropdown', 'radio'],
  number: ['number'],
  boolean: ['dropdown', 'radio', 'text'],
  date: ['date'],
  datetime: ['text'],
  enum: ['dropdown', 'radio', 'text'],
  list: ['text'],
};

const BOOLEAN_CHOICES = ['true', 'false'];

/** The merge tag a field name becomes: upper case, letters, digits and `_`, at most 10 characters. */
export function deriveMergeTag(name: string): string {
  let tag = name
    .toUpperCase()
    .replace(/[^A-Z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  if (/^[0-9]/.test(tag)) tag = `F${tag}`;
  return tag.slice(0, MAX_MERGE_TAG).replace(/_$/, '');
}

/** The `choices` a field needs (enum options, or true/false for booleans). */
function choicesOf(spec: FieldSpec): string[] | undefined {
  if (spec.type === 'boolean') return BOOLEAN_CHOICES;
  if (spec.type === 'enum') return spec.options ?? [];
  return undefined;
}

/** The create body for a field that does not exist yet. */
export function mergeFieldFor(spec: FieldSpec, tag: string, dateFormat: DateFormat): MergeFieldCreate {
  const type = MAILCHIMP_TYPE[spec.type];
  const body: MergeFieldCreate = { name: spec.label ?? spec.name, type, tag, public: false, required: false };
  const choices = choicesOf(spec);
  if (choices) body.options = { choices };
  if (type === 'date') body.options = { date_format: dateFormat };
  return body;
}

/** The audience's merge fields and how segsync's field names map onto them. */
export class MergeSchema {
  private byTag = new Map<string, MergeField>();
  private readonly tagOfName = new Map<string, string>();
  private readonly specOfName = new Map<string, FieldSpec>();
  private loaded: Promise<void> | undefined;

  constructor(
    private readonly client: MailchimpClient,
    private readonly dateFormat: DateFormat,
  ) {}

  /** Reads the merge fields once (again after `ensure`). */
  load(): Promise<void> {
    this.loaded ??= this.client.mergeFields().then((fields) => {
      this.byTag = new Map(fields.map((f) => [f.tag, f]));
    });
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }

  /** Creates missing merge fields, extends choices, and reports clashes and incompatible types. */
  async ensure(fields: FieldSpec[]): Promise<SchemaReport> {
    await this.load();
    const report: SchemaReport = { created: [], existing: [], updated: [], problems: [] };
    const claimed = new Map<string, string>();
    for (const spec of fields) {
      this.specOfName.set(spec.name, spec);
      const resolved = this.resolve(spec);
      if (!resolved.tag) {
        report.problems.push({
          field: spec.name,
          message: `no merge tag can be made from "${spec.name}"`,
          hint: 'map it to a remote name of letters and digits',
        });
        continue;
      }
      const other = claimed.get(resolved.tag);
      if (other !== undefined) {
        report.problems.push({
          field: spec.name,
          message: `"${spec.name}" and "${other}" both become merge tag ${resolved.tag}`,
          hint: `merge tags are at most ${MAX_MERGE_TAG} upper-case characters: give one of them a distinct remote name in mappings.mailchimp`,
        });
        continue;
      }
      claimed.set(resolved.tag, spec.name);
      const existing = this.byTag.get(resolved.tag);
      if (existing && !resolved.derived) {
        this.checkExisting(spec, existing, report);
        this.tagOfName.set(spec.name, existing.tag);
        continue;
      }
      if (existing) {
        report.problems.push({
          field: spec.name,
          message: `merge tag ${resolved.tag} (derived from "${spec.name}") already belongs to merge field "${existing.name}"`,
          hint: `map "${spec.name}" to remote name ${resolved.tag} to share that field, or to another short name`,
        });
        continue;
      }
      const created = await this.client.addMergeField(mergeFieldFor(spec, resolved.tag, this.dateFormat));
      this.byTag.set(created.tag, created);
      this.tagOfName.set(spec.name, created.tag);
      report.created.push(spec.name);
    }
    return report;
  }

  /** The merge tag of a field name: a tag named as such, a field with that label, or a derived tag. */
  private resolve(spec: FieldSpec): { tag: string; derived: boolean } {
    if (this.byTag.has(spec.name)) return { tag: spec.name, derived: false };
    const label = spec.label ?? spec.name;
    for (const f of this.byTag.values()) if (f.name === label) return { tag: f.tag, derived: false };
    return { tag: deriveMergeTag(spec.name), derived: true };
  }

  private checkExisting(spec: FieldSpec, field: MergeField, report: SchemaReport): void {
    if (!COMPATIBLE[spec.type].includes(field.type)) {
      report.problems.push({
        field: spec.name,
        message: `merge field ${field.tag} is of type ${field.type}, which cannot hold ${spec.type} values`,
        hint: `change the field's type in segsync.yaml, or map it to another merge field (segsync would create a ${MAILCHIMP_TYPE[spec.type]} field)`,
      });
      return;
    }
    const wanted = choicesOf(spec);
    const have = field.options?.choices;
    if (wanted && have && (field.type === 'dropdown' || field.type === 'radio')) {
      const missing = wanted.filter((c) => !have.includes(c));
      if (missing.length > 0) {
        report.problems.push({
          field: spec.name,
          message: `merge field ${field.tag} lacks the choices ${missing.map((m) => JSON.stringify(m)).join(', ')}`,
          hint: 'add them to the field in Mailchimp (Audience → Settings → Audience fields); segsync does not edit existing fields',
        });
        return;
      }
    }
    report.existing.push(spec.name);
  }

  /** The merge tag for an ESP field name (loaded schema, or the derived tag). */
  tagFor(name: string): string {
    const known = this.tagOfName.get(name);
    if (known) return known;
    if (this.byTag.has(name)) return name;
    const spec = this.specOfName.get(name);
    const label = spec?.label ?? name;
    for (const f of this.byTag.values()) if (f.name === label) return f.tag;
    return deriveMergeTag(name);
  }

  /** Converts one neutral value to the merge value Mailchimp stores for this field. */
  toWire(name: string, value: FieldValue): { tag: string; value: MergeValue } {
    const tag = this.tagFor(name);
    const field = this.byTag.get(tag);
    if (!field) {
      throw new ValidationError(`merge field ${tag} (for "${name}") does not exist on the audience`, {
        hint: 'run the schema step (segsync push creates missing fields) or fix the mapping',
      });
    }
    return { tag, value: toMergeValue(name, value, field) };
  }

  /** Converts merge values keyed by tag (a webhook's `data[merges]`) to values keyed by field name. */
  namedFields(merges: Record<string, unknown>): Record<string, FieldValue> {
    const nameOfTag = new Map([...this.tagOfName].map(([name, tag]) => [tag, name]));
    const out: Record<string, FieldValue> = {};
    for (const [tag, raw] of Object.entries(merges)) {
      if (typeof raw === 'object' && raw !== null) continue;
      const name = nameOfTag.get(tag) ?? tag;
      out[name] = fromMergeValue(raw, this.byTag.get(tag), this.specOfName.get(name)?.type);
    }
    return out;
  }

  /** Converts a member's merge fields to neutral values for the requested field names. */
  fromWire(merges: Record<string, unknown> | undefined, names: string[]): Record<string, FieldValue> {
    const out: Record<string, FieldValue> = {};
    if (!merges) return out;
    for (const name of names) {
      const tag = this.tagFor(name);
      if (!(tag in merges)) continue;
      out[name] = fromMergeValue(merges[tag], this.byTag.get(tag), this.specOfName.get(name)?.type);
    }
    return out;
  }
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Reads a date value (ISO date or date-time text, or epoch ms) as UTC year, month, day. */
function dateParts(name: string, value: FieldValue): [number, number, number] {
  const d =
    typeof value === 'number'
      ? new Date(value)
      : typeof value === 'string'
        ? new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value)
        : undefined;
  if (!d || Number.isNaN(d.getTime())) {
    throw new ValidationError(`"${name}": ${JSON.stringify(value)} is not a date`, { hint: 'dates are ISO 8601 (2024-03-25) or epoch milliseconds' });
  }
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}

/** One neutral value as the merge value for `field` (null clears with ""). */
export function toMergeValue(name: string, value: FieldValue, field: Pick<MergeField, 'type' | 'tag' | 'options'>): MergeValue {
  if (value === null) return '';
  if (Array.isArray(value)) return value.map((v) => (v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ');
  if (typeof value === 'object') {
    if (field.type === 'address') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v === null ? '' : String(v)]));
    throw new ValidationError(`"${name}": an object cannot be stored in merge field ${field.tag} (${field.type})`, { hint: 'map a scalar field to it' });
  }
  switch (field.type) {
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n))
        throw new ValidationError(`"${name}": ${JSON.stringify(value)} is not a number (merge field ${field.tag})`, {
          hint: 'fix the value or the field type',
        });
      return n;
    }
    case 'date': {
      const [y, m, d] = dateParts(name, value);
      return field.options?.date_format === 'DD/MM/YYYY' ? `${pad(d)}/${pad(m)}/${y}` : `${pad(m)}/${pad(d)}/${y}`;
    }
    case 'dropdown':
    case 'radio': {
      // Booleans are sent as strings: Mailchimp rejects JSON true/false in merge fields.
      const text = String(value);
      const choices = field.options?.choices;
      if (choices && !choices.includes(text)) {
        throw new ValidationError(`"${name}": "${text}" is not a choice of merge field ${field.tag} (${choices.join(', ')})`, {
          hint: 'add the choice in Mailchimp or fix the value',
        });
      }
      return text;
    }
    default:
      return String(value);
  }
}

/** A merge value read back from Mailchimp as a neutral value ("" is a cleared value). */
export function fromMergeValue(raw: unknown, field: Pick<MergeField, 'type' | 'options'> | undefined, type: FieldType | undefined): FieldValue {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw === 'object') return raw as FieldValue;
  const text = String(raw);
  if (field?.type === 'date') {
    const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text);
    if (m) {
      const [a, b] = [m[1]!, m[2]!];
      const [month, day] = field.options?.date_format === 'DD/MM/YYYY' ? [b, a] : [a, b];
      return `${m[3]}-${pad(Number(month))}-${pad(Number(day))}`;
    }
    return text;
  }
  if (field?.type === 'number' || type === 'number') {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  if (type === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  if (type === 'list') return text.split(/,\s*/).filter((s) => s !== '');
  return text;
}
