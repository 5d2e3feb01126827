/** Contact property definitions in the sandbox: HubSpot's defaults plus what clients create, with value validation. */
import { conflict, notFound, validation } from './errors';

export interface OptionDef {
  label: string;
  value: string;
  hidden: boolean;
  displayOrder: number;
  description?: string;
}

export interface PropertyDef {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  description: string;
  options: OptionDef[];
  displayOrder: number;
  hasUniqueValue: boolean;
  hidden: boolean;
  formField: boolean;
  calculated: boolean;
  externalOptions: boolean;
  hubspotDefined: boolean;
  readOnlyValue: boolean;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

export interface GroupDef {
  name: string;
  label: string;
  displayOrder: number;
  archived: boolean;
}

const TYPES = ['bool', 'date', 'datetime', 'enumeration', 'number', 'phone_number', 'string'];
const FIELD_TYPES = [
  'booleancheckbox',
  'calculation_equation',
  'checkbox',
  'date',
  'file',
  'html',
  'number',
  'phonenumber',
  'radio',
  'select',
  'text',
  'textarea',
];
/** Which fieldTypes each type accepts (HubSpot refuses, e.g., a `number` shown as a `checkbox`). */
const FIELD_TYPES_OF: Record<string, string[]> = {
  bool: ['booleancheckbox', 'checkbox', 'radio', 'select', 'calculation_equation'],
  date: ['date'],
  datetime: ['date'],
  enumeration: ['booleancheckbox', 'checkbox', 'radio', 'select', 'calculation_equation'],
  number: ['number', 'calculation_equation'],
  phone_number: ['phonenumber'],
  string: ['text', 'textarea', 'html', 'file', 'phonenumber', 'calculation_equation'],
};

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DAY_MS = 86_400_000;

/** One invalid value, in HubSpot's "Property values were not valid" shape. */
export interface ValueProblem {
  isValid: false;
  message: string;
  error: string;
  name: string;
}

function def(name: string, label: string, type: string, fieldType: string, extra: Partial<PropertyDef> = {}): PropertyDef {
  const at = '2020-01-01T00:00:00.000Z';
  return {
    name,
    label,
    type,
    fieldType,
    groupName: 'contactinformation',
    description: '',
    options: [],
    displayOrder: -1,
    hasUniqueValue: false,
    hidden: false,
    formField: true,
    calculated: false,
    externalOptions: false,
    hubspotDefined: true,
    readOnlyValue: false,
    createdAt: at,
    updatedAt: at,
    archived: false,
    ...extra,
  };
}

/** HubSpot's default contact properties that segsync touches. */
export function defaultProperties(): PropertyDef[] {
  const yesNo: OptionDef[] = [
    { label: 'Yes', value: 'true', hidden: false, displayOrder: 0 },
    { label: 'No', value: 'false', hidden: false, displayOrder: 1 },
  ];
  const stages = ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer', 'evangelist', 'other'];
  return [
    def('email', 'Email', 'string', 'text', { hasUniqueValue: false }),
    def('firstname', 'First Name', 'string', 'text'),
    def('lastname', 'Last Name', 'string', 'text'),
    def('phone', 'Phone Number', 'string', 'phonenumber'),
    def('company', 'Company Name', 'string', 'text'),
    def('city', 'City', 'string', 'text'),
    def('state', 'State/Region', 'string', 'text'),
    def('zip', 'Postal Code', 'string', 'text'),
    def('country', 'Country/Region', 'string', 'text'),
    def('lifecyclestage', 'Lifecycle Stage', 'enumeration', 'radio', {
      options: stages.map((s, i) => ({ label: s, value: s, hidden: false, displayOrder: i })),
    }),
    def('createdate', 'Create Date', 'datetime', 'date', { readOnlyValue: true }),
    def('lastmodifieddate', 'Last Modified Date', 'datetime', 'date', { readOnlyValue: true }),
    def('hs_object_id', 'Record ID', 'number', 'number', { readOnlyValue: true }),
    def('hs_email_optout', 'Unsubscribed from all email', 'bool', 'booleancheckbox', { readOnlyValue: true, options: yesNo }),
    def('hs_merged_object_ids', 'Merged Contact IDs', 'enumeration', 'checkbox', { readOnlyValue: true }),
  ];
}

export class PropertyRegistry {
  private readonly props = new Map<string, PropertyDef>();
  private readonly groups = new Map<string, GroupDef>();

  constructor(private readonly now: () => number) {
    for (const p of defaultProperties()) this.props.set(p.name, p);
    this.groups.set('contactinformation', { name: 'contactinformation', label: 'Contact information', displayOrder: 0, archived: false });
  }

  list(): PropertyDef[] {
    return [...this.props.values()];
  }

  get(name: string): PropertyDef | undefined {
    return this.props.get(name);
  }

  require(name: string): PropertyDef {
    const p = this.props.get(name);
    if (!p) throw notFound(`Unable to find property ${name} for object type contacts`);
    return p;
  }

  /** Every definition and group, for the sandbox's state file. */
  snapshot(): { props: Map<string, PropertyDef>; groups: Map<string, GroupDef> } {
    return { props: this.props, groups: this.groups };
  }

  /** Replaces every definition and group with a snapshot's. */
  restore(s: { props: Map<string, PropertyDef>; groups: Map<string, GroupDef> }): void {
    this.props.clear();
    for (const [k, v] of s.props) this.props.set(k, v);
    this.groups.clear();
    for (const [k, v] of s.groups) this.groups.set(k, v);
  }

  groupList(): GroupDef[] {
    return [...this.groups.values()];
  }

  createGroup(input: { name: string; label: string; displayOrder?: number }): GroupDef {
    if (this.groups.has(input.name)) throw conflict(`A property group named '${input.name}' already exists.`);
    const g = { name: input.name, label: input.label, displayOrder: input.displayOrder ?? -1, archived: false };
    this.groups.set(g.name, g);
    return g;
  }

  create(input: Record<string, unknown>): PropertyDef {
    const name = String(input.name ?? '');
    const type = String(input.type ?? '');
    const fieldType = String(input.fieldType ?? '');
    const groupName = String(input.groupName ?? '');
    if (!/^[a-z][a-z0-9_]*$/.test(name))
      throw validation(`Property name '${name}' is invalid: use lower-case letters, digits and underscores, starting with a letter`);
    if (this.props.has(name)) throw conflict(`Property named '${name}' already exists.`);
    if (!TYPES.includes(type)) throw validation(`Invalid type '${type}'`);
    if (!FIELD_TYPES.includes(fieldType) || !FIELD_TYPES_OF[type]!.includes(fieldType))
      throw validation(`fieldType '${fieldType}' is not valid for type '${type}'`);
    if (!this.groups.has(groupName)) throw validation(`Property group '${groupName}' does not exist`);
    const options = parseOptions(input.options);
    if (type === 'enumeration' && input.options === undefined) throw validation(`Enumeration property '${name}' needs options`);
    const at = new Date(this.now()).toISOString();
    const p = def(name, String(input.label ?? name), type, fieldType, {
      groupName,
      description: String(input.description ?? ''),
      options,
      hasUniqueValue: Boolean(input.hasUniqueValue),
      hubspotDefined: false,
      formField: Boolean(input.formField ?? false),
      createdAt: at,
      updatedAt: at,
      displayOrder: typeof input.displayOrder === 'number' ? input.displayOrder : -1,
    });
    this.props.set(name, p);
    return p;
  }

  update(name: string, input: Record<string, unknown>): PropertyDef {
    const p = this.require(name);
    if (p.hubspotDefined && input.options !== undefined && p.readOnlyValue) throw validation(`Property '${name}' is read-only`);
    if (input.options !== undefined) p.options = parseOptions(input.options);
    if (typeof input.label === 'string') p.label = input.label;
    if (typeof input.description === 'string') p.description = input.description;
    if (typeof input.groupName === 'string') {
      if (!this.groups.has(input.groupName)) throw validation(`Property group '${input.groupName}' does not exist`);
      p.groupName = input.groupName;
    }
    if (typeof input.hidden === 'boolean') p.hidden = input.hidden;
    if (typeof input.fieldType === 'string') {
      if (!FIELD_TYPES_OF[p.type]!.includes(input.fieldType)) throw validation(`fieldType '${input.fieldType}' is not valid for type '${p.type}'`);
      p.fieldType = input.fieldType;
    }
    p.updatedAt = new Date(this.now()).toISOString();
    return p;
  }

  /** Checks and normalises one written value: '' clears; dates become midnight-UTC ms; returns a problem when invalid. */
  normalise(name: string, raw: unknown): { value: string } | { problem: ValueProblem } {
    const problem = (error: string, message: string): { problem: ValueProblem } => ({ problem: { isValid: false, message, error, name } });
    const p = this.props.get(name);
    if (!p) return problem('PROPERTY_DOESNT_EXIST', `Property "${name}" does not exist`);
    if (p.readOnlyValue) return problem('READ_ONLY_VALUE', `${name} is a read only property; its value cannot be set.`);
    if (raw === null || raw === '') return { value: '' };
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean')
      return problem('INVALID_VALUE', `${JSON.stringify(raw)} is not a valid value for ${name}`);
    const v = String(raw);
    switch (p.type) {
      case 'number':
        return Number.isFinite(Number(v)) && v.trim() !== '' ? { value: String(Number(v)) } : problem('INVALID_NUMBER', `${v} is not a valid number.`);
      case 'bool':
        return v === 'true' || v === 'false' ? { value: v } : problem('INVALID_BOOLEAN', `${v} is not a valid boolean; use true or false.`);
      case 'date': {
        const ms = /^\d+$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
        if (!Number.isFinite(ms)) return problem('INVALID_DATE', `${v} is not a valid date.`);
        if (ms % DAY_MS !== 0) return problem('INVALID_DATE', `${v} is at ${new Date(ms).toISOString()} which is not midnight!`);
        return { value: String(ms) };
      }
      case 'datetime': {
        const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
        return Number.isFinite(ms) ? { value: String(ms) } : problem('INVALID_DATETIME', `${v} is not a valid datetime.`);
      }
      case 'enumeration': {
        const allowed = new Set(p.options.map((o) => o.value));
        const values = p.fieldType === 'checkbox' ? v.split(';').filter((s) => s !== '') : [v];
        const bad = values.find((x) => !allowed.has(x));
        if (bad !== undefined) return problem('INVALID_OPTION', `${bad} was not one of the allowed options: [${[...allowed].join(', ')}]`);
        return { value: values.join(';') };
      }
      default:
        if (name === 'email' && !EMAIL.test(v)) return problem('INVALID_EMAIL', `Email address ${v} is invalid`);
        return { value: name === 'email' ? v.trim().toLowerCase() : v };
    }
  }

  /** How a stored value is shown in answers: dates as YYYY-MM-DD, datetimes as ISO. */
  present(name: string, stored: string): string {
    const p = this.props.get(name);
    if (!p || stored === '') return stored;
    if (p.type === 'date') return new Date(Number(stored)).toISOString().slice(0, 10);
    if (p.type === 'datetime') return new Date(Number(stored)).toISOString();
    return stored;
  }
}

function parseOptions(raw: unknown): OptionDef[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw validation('options must be an array');
  const seen = new Set<string>();
  return raw.map((o: Record<string, unknown>, i) => {
    if (typeof o?.value !== 'string' || typeof o.label !== 'string') throw validation(`options[${i}] needs a label and a value`);
    if (seen.has(o.value)) throw validation(`options[${i}]: duplicate option value '${o.value}'`);
    seen.add(o.value);
    return {
      label: o.label,
      value: o.value,
      hidden: Boolean(o.hidden),
      displayOrder: typeof o.displayOrder === 'number' ? o.displayOrder : i,
      ...(typeof o.description === 'string' ? { description: o.description } : {}),
    };
  });
}
