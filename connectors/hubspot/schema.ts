/**
 * ensureSchema for HubSpot: create missing custom contact properties in segsync's property group with
 * the right type/fieldType, add missing enumeration options, and keep the tag property's options (and
 * tag lists, when configured) in step with the tags in use. Never deletes or retypes anything.
 */
import type * as Properties from '@hubspot/api-client/lib/codegen/crm/properties';
import { SegsyncError } from '../../src/errors';
import type { FieldSpec, SchemaReport } from '../connector';
import type { HubspotContext } from './context';
import { ensureTagLists, ensureTagOptions, wantsList } from './tags';
import { hubspotTypeOf, isCompatible } from './values';

function optionInputs(values: string[], from = 0): Properties.OptionInput[] {
  return values.map((v, i) => ({ label: v, value: v, hidden: false, displayOrder: from + i }));
}

/** The create request for a field segsync needs. */
export function propertyCreateFor(field: FieldSpec, groupName: string): Properties.PropertyCreate {
  const { type, fieldType } = hubspotTypeOf(field.type, (field.options?.length ?? 0) > 0);
  const create: Properties.PropertyCreate = {
    name: field.name,
    label: field.label ?? field.name,
    type: type as Properties.PropertyCreateTypeEnum,
    fieldType: fieldType as Properties.PropertyCreateFieldTypeEnum,
    groupName,
  };
  if (type === 'enumeration') create.options = optionInputs(field.options ?? []);
  if (type === 'bool')
    create.options = [
      { label: 'Yes', value: 'true', hidden: false, displayOrder: 0 },
      { label: 'No', value: 'false', hidden: false, displayOrder: 1 },
    ];
  return create;
}

/** Creates what is missing for `fields` and `tags`; reports problems per field instead of failing them all. */
export async function ensureSchema(ctx: HubspotContext, fields: FieldSpec[], tags: string[]): Promise<SchemaReport> {
  const report: SchemaReport = { created: [], existing: [], updated: [], problems: [] };
  ctx.properties.invalidate();
  const props = await ctx.properties.all();
  const tagProperty = ctx.settings.tagProperty;
  const groupName = ctx.settings.propertyGroup;
  const toCreate = fields.filter((f) => f.name !== tagProperty && !props.has(f.name));
  if (toCreate.length > 0 || !props.has(tagProperty)) await ensureGroup(ctx, groupName);

  for (const field of fields) {
    if (field.name === tagProperty) continue;
    const existing = props.get(field.name);
    try {
      if (!existing) {
        const made = await ctx.client.createProperty(propertyCreateFor(field, groupName));
        ctx.properties.put({ name: made.name, type: made.type, fieldType: made.fieldType, options: made.options.map((o) => ({ value: o.value })) });
        report.created.push(field.name);
      } else if (!isCompatible(field.type, existing)) {
        report.problems.push({
          field: field.name,
          message: `HubSpot property "${field.name}" is ${existing.type}/${existing.fieldType}, which cannot hold a ${field.type}`,
          hint: `change the field's type in segsync.yaml, or map it to another HubSpot property`,
        });
      } else if (existing.type === 'enumeration' && field.options?.length) {
        const have = new Set((existing.options ?? []).map((o) => o.value));
        const missing = field.options.filter((o) => !have.has(o));
        if (missing.length > 0) {
          await ctx.serial(async () => {
            const current = (await ctx.client.getProperty(field.name)).options;
            const updated = await ctx.client.updateProperty(field.name, {
              options: [
                ...current,
                ...optionInputs(
                  missing.filter((m) => !current.some((c) => c.value === m)),
                  current.length,
                ),
              ],
            });
            ctx.properties.put({
              name: updated.name,
              type: updated.type,
              fieldType: updated.fieldType,
              options: updated.options.map((o) => ({ value: o.value })),
            });
          });
          report.updated.push(field.name);
        } else report.existing.push(field.name);
      } else report.existing.push(field.name);
    } catch (err) {
      if (!(err instanceof SegsyncError) || err.retryable) throw err;
      report.problems.push({ field: field.name, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    }
  }

  await ensureTagProperty(ctx, tags, report);
  if (ctx.settings.tagLists !== false)
    await ensureTagLists(
      ctx,
      tags.filter((t) => wantsList(ctx.settings.tagLists, t)),
    );
  return report;
}

async function ensureGroup(ctx: HubspotContext, name: string): Promise<void> {
  const groups = await ctx.client.getGroups();
  if (groups.results.some((g) => g.name === name)) return;
  await ctx.client.createGroup({ name, label: name, displayOrder: -1 });
}

async function ensureTagProperty(ctx: HubspotContext, tags: string[], report: SchemaReport): Promise<void> {
  const name = ctx.settings.tagProperty;
  const existing = (await ctx.properties.all()).get(name);
  if (!existing) {
    const made = await ctx.client.createProperty({
      name,
      label: 'segsync tags',
      type: 'enumeration' as Properties.PropertyCreateTypeEnum,
      fieldType: 'checkbox' as Properties.PropertyCreateFieldTypeEnum,
      groupName: ctx.settings.propertyGroup,
      description: 'Tags segsync keeps in sync; other options are left alone.',
      options: optionInputs([...new Set(tags)]),
    });
    ctx.properties.put({ name, type: made.type, fieldType: made.fieldType, options: made.options.map((o) => ({ value: o.value })) });
    report.created.push(name);
    return;
  }
  if (existing.type !== 'enumeration' || existing.fieldType !== 'checkbox') {
    report.problems.push({
      field: name,
      message: `the tag property "${name}" is ${existing.type}/${existing.fieldType}, not a multi-checkbox (enumeration/checkbox)`,
      hint: 'choose another tag property name in segsync.yaml (connectors.hubspot.tags.property)',
    });
    return;
  }
  const added = await ensureTagOptions(ctx, tags);
  (added.length > 0 ? report.updated : report.existing).push(name);
}
