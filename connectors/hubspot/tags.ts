/**
 * Tags on HubSpot: a multi-checkbox property whose value is the whole tag set (`a;b;c`), and
 * optionally one MANUAL list per tag. Tag changes are set differences on the last-known remote value.
 */
import { asEspError } from '../../src/errors';
import type { SegsyncError } from '../../src/errors';
import type { HubspotContext } from './context';
import type { PropertyShape } from './values';

/** `(remote ∪ add) ∖ remove`, keeping the remote order and appending new tags in the order given. */
export function nextTags(remote: readonly string[], add: readonly string[], remove: readonly string[]): string[] {
  const removed = new Set(remove);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const tag of [...remote, ...add]) {
    if (removed.has(tag) || seen.has(tag)) continue;
    seen.add(tag);
    out.push(tag);
  }
  return out;
}

/** True when two tag lists hold the same set. */
export function sameTags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((t) => set.has(t));
}

/** Tags not yet declared as options of the tag property. */
export function missingOptions(property: PropertyShape | undefined, tags: Iterable<string>): string[] {
  const known = new Set((property?.options ?? []).map((o) => o.value));
  return [...new Set(tags)].filter((t) => !known.has(t));
}

/** Adds options for `tags` to the tag property, keeping every option already there (segsync's or not). */
export function ensureTagOptions(ctx: HubspotContext, tags: Iterable<string>): Promise<string[]> {
  const wanted = [...tags];
  // Serialised: two concurrent read-modify-write PATCHes of the option list would drop each other's options.
  return ctx.serial(() => addTagOptions(ctx, wanted));
}

async function addTagOptions(ctx: HubspotContext, tags: string[]): Promise<string[]> {
  const props = await ctx.properties.all();
  const name = ctx.settings.tagProperty;
  const current = props.get(name);
  const missing = missingOptions(current, tags);
  if (missing.length === 0 || !current) return [];
  // PATCH replaces the option list, so send the existing options (as HubSpot has them) plus the new ones.
  const existing = (await ctx.client.getProperty(name)).options;
  const have = new Set(existing.map((o) => o.value));
  const added = missing.filter((t) => !have.has(t));
  const options = [
    ...existing.map((o) => ({
      label: o.label,
      value: o.value,
      hidden: o.hidden,
      displayOrder: o.displayOrder,
      ...(o.description ? { description: o.description } : {}),
    })),
    ...added.map((t, i) => ({ label: t, value: t, hidden: false, displayOrder: existing.length + i })),
  ];
  const updated = added.length > 0 ? await ctx.client.updateProperty(name, { options }) : undefined;
  ctx.properties.put({
    name,
    type: updated?.type ?? current.type,
    fieldType: updated?.fieldType ?? current.fieldType,
    options: (updated?.options ?? options).map((o) => ({ value: o.value })),
  });
  return added;
}

/** True when `tag` is mirrored as a MANUAL list. */
export function wantsList(setting: boolean | string[], tag: string): boolean {
  return setting === true || (Array.isArray(setting) && setting.includes(tag));
}

/** Finds or creates the MANUAL list of each tag; returns the tags whose list was created now. */
export async function ensureTagLists(ctx: HubspotContext, tags: Iterable<string>): Promise<string[]> {
  const created: string[] = [];
  for (const tag of new Set(tags)) {
    if (!wantsList(ctx.settings.tagLists, tag) || ctx.listIds.has(tag)) continue;
    const name = `${ctx.settings.listPrefix}${tag}`;
    const found = await ctx.client.findList(name);
    if (found) {
      ctx.listIds.set(tag, found.listId);
      continue;
    }
    const made = await ctx.client.createManualList(name);
    ctx.listIds.set(tag, made.list.listId);
    created.push(tag);
  }
  return created;
}

/** One contact's list changes. */
export interface MembershipChange {
  recordId: string;
  add: string[];
  remove: string[];
}

/** Applies list memberships, one add-and-remove call per list; returns the error per record id that failed. */
export async function applyMemberships(ctx: HubspotContext, changes: MembershipChange[]): Promise<Map<string, SegsyncError>> {
  const perTag = new Map<string, { add: string[]; remove: string[] }>();
  for (const c of changes) {
    for (const [tags, key] of [
      [c.add, 'add'],
      [c.remove, 'remove'],
    ] as const) {
      for (const tag of tags) {
        if (!wantsList(ctx.settings.tagLists, tag)) continue;
        const entry = perTag.get(tag) ?? { add: [], remove: [] };
        entry[key].push(c.recordId);
        perTag.set(tag, entry);
      }
    }
  }
  const failed = new Map<string, SegsyncError>();
  if (perTag.size === 0) return failed;
  await ensureTagLists(ctx, perTag.keys());
  for (const [tag, { add, remove }] of perTag) {
    const listId = ctx.listIds.get(tag)!;
    try {
      await ctx.client.changeMemberships(listId, add, remove);
    } catch (err) {
      for (const id of [...add, ...remove]) failed.set(id, asEspError(err, 'hubspot'));
    }
  }
  return failed;
}
