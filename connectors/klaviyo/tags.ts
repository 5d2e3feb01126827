/**
 * Tags mirrored as static lists (optional; the list-valued property is always written by push).
 * List add/remove never changes consent, unlike the subscription jobs, which is why tags use it.
 */
import type { ListCreateQuery, ListMembersAddQuery, ListMembersDeleteQuery } from 'klaviyo-api';
import { EspPermanentError } from '../../src/errors';
import type { ContactChange } from '../connector';
import { splitChunks } from '../batching';
import type { KlaviyoContext } from './context';
import { LIST_MEMBERS_MAX } from './limits';
import type { FailItems } from './push';
import { listDocumentSchema, listPageSchema, parseAnswer } from './wire';

export interface MembershipItem {
  index: number;
  change: ContactChange;
  externalId: string | undefined;
}

/** The list name a tag is mirrored to. */
export function listNameFor(ctx: KlaviyoContext, tag: string): string {
  return `${ctx.options.listPrefix}${tag}`;
}

/** Finds or creates the list of each tag (when tags are mirrored as lists); returns the ones created. */
export async function ensureTagLists(ctx: KlaviyoContext, tags: string[]): Promise<{ created: string[]; existing: string[] }> {
  const created: string[] = [];
  const existing: string[] = [];
  const mode = ctx.options.tagLists;
  if (mode === false) return { created, existing };
  for (const tag of new Set(tags)) {
    if (typeof mode === 'object') {
      const id = mode[tag];
      if (id) ctx.tagLists.set(tag, id);
      continue;
    }
    if (ctx.tagLists.has(tag)) {
      existing.push(tag);
      continue;
    }
    const name = listNameFor(ctx, tag);
    const found = await ctx.client.call('lists', 'GET /api/lists', () => ctx.client.lists.getLists({ filter: `equals(name,${JSON.stringify(name)})` }));
    const page = parseAnswer(listPageSchema, found.data, 'GET /api/lists');
    const match = page.data.find((l) => l.attributes.name === name);
    if (match) {
      ctx.tagLists.set(tag, match.id);
      existing.push(tag);
      continue;
    }
    const made = await ctx.client.call(
      'listCreate',
      'POST /api/lists',
      () => ctx.client.lists.createList({ data: { type: 'list', attributes: { name } } } as unknown as ListCreateQuery),
      'not-idempotent',
    );
    ctx.tagLists.set(tag, parseAnswer(listDocumentSchema, made.data, 'POST /api/lists').data.id);
    created.push(tag);
  }
  return { created, existing };
}

/** Adds and removes profiles to/from the tag lists, ≤ 1,000 per call; failures are reported per contact. */
export async function applyListMembership(ctx: KlaviyoContext, items: MembershipItem[], fail: FailItems): Promise<void> {
  if (ctx.options.tagLists === false) return;
  const adds = new Map<string, MembershipItem[]>();
  const removes = new Map<string, MembershipItem[]>();
  for (const item of items) {
    if (item.change.addTags.length + item.change.removeTags.length === 0) continue;
    if (!item.externalId) {
      fail(
        [item],
        new EspPermanentError('klaviyo: the profile id is unknown, so its tag lists cannot be updated', {
          esp: 'klaviyo',
          hint: 'pull from Klaviyo to learn the id, then push again',
        }),
      );
      continue;
    }
    for (const tag of item.change.addTags) adds.set(tag, [...(adds.get(tag) ?? []), item]);
    for (const tag of item.change.removeTags) removes.set(tag, [...(removes.get(tag) ?? []), item]);
  }
  try {
    await ensureTagLists(ctx, [...adds.keys(), ...removes.keys()]);
  } catch (e) {
    fail([...adds.values(), ...removes.values()].flat(), e);
    return;
  }
  const calls: Promise<void>[] = [];
  for (const [direction, byTag] of [
    ['add', adds],
    ['remove', removes],
  ] as const) {
    for (const [tag, members] of byTag) {
      const listId = ctx.tagLists.get(tag);
      if (!listId) continue;
      for (const group of splitChunks(members, { maxItems: LIST_MEMBERS_MAX })) calls.push(changeMembers(ctx, listId, direction, group, fail));
    }
  }
  await Promise.all(calls);
}

async function changeMembers(ctx: KlaviyoContext, listId: string, direction: 'add' | 'remove', group: MembershipItem[], fail: FailItems): Promise<void> {
  const body = { data: group.map((i) => ({ type: 'profile', id: i.externalId! })) };
  try {
    if (direction === 'add') {
      await ctx.client.call('listMembers', 'POST /api/lists/{id}/relationships/profiles', () =>
        ctx.client.lists.addProfilesToList(listId, body as unknown as ListMembersAddQuery),
      );
    } else {
      await ctx.client.call('listMembers', 'DELETE /api/lists/{id}/relationships/profiles', () =>
        ctx.client.lists.removeProfilesFromList(listId, body as unknown as ListMembersDeleteQuery),
      );
    }
  } catch (e) {
    fail(group, e);
  }
}
