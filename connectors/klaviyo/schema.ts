/**
 * Klaviyo has no property definitions API: properties appear on first write. So `ensureSchema`
 * validates names and types locally, reports valid fields as existing, and (when tags are mirrored
 * as lists) finds or creates the tag lists.
 */
import type { FieldSpec, SchemaReport } from '../connector';
import type { KlaviyoContext } from './context';
import { placeOf } from './fields';
import { ensureTagLists, listNameFor } from './tags';
import { asEspError } from '../../src/errors';

/** The problem with a field definition, or undefined when Klaviyo can hold it. */
export function fieldSpecProblem(spec: FieldSpec, tagProperty: string): { message: string; hint: string } | undefined {
  if (spec.name === tagProperty)
    return { message: `"${spec.name}" is the tag property`, hint: 'map the field to another Klaviyo property name, or set connectors.klaviyo.tags.property' };
  const where = placeOf(spec.name);
  if (where.place === 'email') return { message: '"email" is the profile identifier, not a mapped field', hint: 'remove it from the Klaviyo mapping' };
  if (where.place === 'property') {
    if (spec.name.trim() === '' || spec.name.startsWith('$'))
      return { message: `property name "${spec.name}" is reserved or empty`, hint: 'Klaviyo reserves names starting with "$"; rename the property' };
    return undefined;
  }
  const numeric = where.place === 'location' && where.kind === 'number-or-string';
  const fits = spec.type === 'string' || spec.type === 'enum' || (numeric && spec.type === 'number');
  if (!fits) {
    return {
      message: `"${spec.name}" is a Klaviyo ${numeric ? 'number/text' : 'text'} attribute; it cannot hold a ${spec.type}`,
      hint: 'map this field to a custom property name instead',
    };
  }
  return undefined;
}

/** Validates fields locally and ensures tag lists; never deletes anything. */
export async function ensureKlaviyoSchema(ctx: KlaviyoContext, fields: FieldSpec[], tags: string[]): Promise<SchemaReport> {
  const report: SchemaReport = { created: [], existing: [], updated: [], problems: [] };
  for (const spec of fields) {
    const problem = fieldSpecProblem(spec, ctx.options.tagProperty);
    if (problem) report.problems.push({ field: spec.name, ...problem });
    else report.existing.push(spec.name);
  }
  if (ctx.options.tagLists !== false && tags.length > 0) {
    try {
      const lists = await ensureTagLists(ctx, tags);
      report.created.push(...lists.created.map((t) => `list:${listNameFor(ctx, t)}`));
      report.existing.push(...lists.existing.map((t) => `list:${listNameFor(ctx, t)}`));
    } catch (e) {
      const error = asEspError(e, 'klaviyo');
      report.problems.push({ field: `list:${ctx.options.listPrefix}*`, message: error.message, hint: error.hint ?? 'check the API key scopes (lists:write)' });
    }
  }
  return report;
}
