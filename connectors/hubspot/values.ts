/**
 * Conversions between segsync's neutral field values and HubSpot's wire strings, by property type.
 * HubSpot sends and accepts every property value as a string; `date` properties need midnight-UTC
 * epoch milliseconds; multi-checkbox values are `;`-joined; `""` clears a value.
 */
import { ValidationError } from '../../src/errors';
import type { FieldValue } from '../../src/model/types';
import type { FieldType } from '../connector';

/** The parts of a HubSpot property definition that conversions need. */
export interface PropertyShape {
  name: string;
  type: string;
  fieldType: string;
  options?: { value: string }[];
  /** HubSpot computes the value; writes are refused. */
  readOnly?: boolean;
}

/** HubSpot's (type, fieldType) for each neutral field type. */
export function hubspotTypeOf(type: FieldType, hasOptions: boolean): { type: string; fieldType: string } {
  switch (type) {
    case 'string':
      return { type: 'string', fieldType: 'text' };
    case 'number':
      return { type: 'number', fieldType: 'number' };
    case 'boolean':
      return { type: 'bool', fieldType: 'booleancheckbox' };
    case 'date':
      return { type: 'date', fieldType: 'date' };
    case 'datetime':
      return { type: 'datetime', fieldType: 'date' };
    case 'enum':
      return { type: 'enumeration', fieldType: 'select' };
    case 'list':
      // A multi-checkbox needs every value declared up front; open-ended lists go in a text area.
      return hasOptions ? { type: 'enumeration', fieldType: 'checkbox' } : { type: 'string', fieldType: 'textarea' };
  }
}

/** True when an existing HubSpot property can hold values of the neutral type. */
export function isCompatible(type: FieldType, property: PropertyShape): boolean {
  switch (type) {
    case 'string':
      return ['string', 'enumeration', 'phone_number'].includes(property.type);
    case 'number':
      return property.type === 'number';
    case 'boolean':
      return property.type === 'bool' || (property.type === 'enumeration' && property.fieldType === 'booleancheckbox');
    case 'date':
      return property.type === 'date';
    case 'datetime':
      return property.type === 'datetime' || property.type === 'date';
    case 'enum':
      return property.type === 'enumeration' || property.type === 'string';
    case 'list':
      return (property.type === 'enumeration' && property.fieldType === 'checkbox') || property.type === 'string';
  }
}

const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function toEpochMs(value: FieldValue, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const trimmed = value.trim();
    if (/^-?\d+$/.test(trimmed)) return Number(trimmed);
    const date = ISO_DATE.exec(trimmed);
    if (date) return Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]));
    const parsed = Date.parse(trimmed);
    if (Number.isFinite(parsed)) return parsed;
  }
  throw new ValidationError(`"${field}": ${JSON.stringify(value)} is not a date`, {
    hint: 'send dates as YYYY-MM-DD, an ISO timestamp or epoch milliseconds',
  });
}

/** Encodes a neutral value for a HubSpot property. Throws `ValidationError` for a value the type cannot hold. */
export function encodeValue(property: PropertyShape | undefined, value: FieldValue): string {
  const field = property?.name ?? '?';
  if (value === null) return '';
  switch (property?.type) {
    case 'date':
      // HubSpot rejects a date that is not midnight UTC; truncating to the UTC day is what the user meant.
      return String(Math.floor(toEpochMs(value, field) / DAY_MS) * DAY_MS);
    case 'datetime':
      return String(toEpochMs(value, field));
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw new ValidationError(`"${field}": ${JSON.stringify(value)} is not a number`, { hint: 'send a finite number' });
      return String(n);
    }
    case 'bool':
      if (typeof value === 'boolean') return value ? 'true' : 'false';
      if (value === 'true' || value === 'false') return value;
      throw new ValidationError(`"${field}": ${JSON.stringify(value)} is not a boolean`, { hint: 'send true or false' });
    default:
      if (Array.isArray(value)) return value.map((v) => String(v)).join(';');
      if (typeof value === 'object') return JSON.stringify(value);
      return String(value);
  }
}

/** Decodes a HubSpot property string into a neutral value (`null` for empty). */
export function decodeValue(property: PropertyShape | undefined, raw: string | null | undefined): FieldValue {
  if (raw === null || raw === undefined || raw === '') return null;
  switch (property?.type) {
    case 'number': {
      const n = Number(raw);
      return Number.isFinite(n) ? n : raw;
    }
    case 'bool':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'date': {
      const ms = /^-?\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
      return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : raw;
    }
    case 'datetime': {
      const ms = /^-?\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
      return Number.isFinite(ms) ? new Date(ms).toISOString() : raw;
    }
    case 'enumeration':
      return property.fieldType === 'checkbox' ? splitMulti(raw) : raw;
    default:
      return raw;
  }
}

/**
 * Why HubSpot would refuse this encoded value for `name`, checked locally before sending so one bad
 * field costs no call: an unknown or read-only property, or an option the property does not declare.
 */
export function writeProblem(property: PropertyShape | undefined, name: string, encoded: string): string | undefined {
  if (!property) return `HubSpot has no contact property "${name}"`;
  if (property.readOnly) return `HubSpot property "${name}" is read-only`;
  if (property.type === 'enumeration' && encoded !== '') {
    const allowed = new Set((property.options ?? []).map((o) => o.value));
    const values = property.fieldType === 'checkbox' ? splitMulti(encoded) : [encoded];
    const bad = values.find((v) => !allowed.has(v));
    if (bad !== undefined) return `"${bad}" is not an option of HubSpot property "${name}"`;
  }
  return undefined;
}

/** Splits a multi-checkbox value (`a;b;c`) into its distinct, non-empty options. */
export function splitMulti(raw: string | null | undefined): string[] {
  if (!raw) return [];
  return [
    ...new Set(
      raw
        .split(';')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ];
}

/** Parses HubSpot's modification time (ISO string or epoch ms) to epoch ms. */
export function parseTime(raw: string | Date | null | undefined): number | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined;
  if (raw instanceof Date) return raw.getTime();
  const ms = /^-?\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  return Number.isFinite(ms) ? ms : undefined;
}
