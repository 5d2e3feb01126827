/**
 * Which tags segsync may take off a contact on one ESP. Its namespace (the prefix and the configured
 * owned names) is its own wherever found; a segment tag named outside it (say `vip`) may also be a
 * user's own tag of the same name, so segsync removes it only from contacts it put it on, and a
 * contact that already carried it is reported as a collision, never merged into the segment.
 */
import type { EspName, FieldValue } from '../model/types';
import type { SyncFieldState } from '../store/store';
import type { SyncMapping } from './mapping';
import { asTags, tagList } from './values';

export { ADDED_TAGS_KEY } from '../store/store';

/** The tags segsync recorded putting on the contact. */
export function addedTags(state: SyncFieldState | undefined): Set<string> {
  return new Set(asTags(state?.pushedValue) ?? []);
}

/** Whether segsync may remove `tag` from this contact on `esp`. */
export function mayRemoveTag(mapping: SyncMapping, esp: EspName, tag: string, added: ReadonlySet<string>): boolean {
  const ownership = mapping.tagOwnership(esp, tag);
  return ownership === 'namespace' || (ownership === 'segment' && added.has(tag));
}

/**
 * Segment tags the contact should carry but already carries without segsync having put them there:
 * a user's tag of the same name. They are left alone (no add, and never removed) and reported.
 */
export function tagCollisions(mapping: SyncMapping, esp: EspName, wanted: Iterable<string>, held: Iterable<string>, added: ReadonlySet<string>): string[] {
  const have = new Set(held);
  return tagList([...wanted].filter((t) => have.has(t) && !added.has(t) && mapping.tagOwnership(esp, t) === 'segment'));
}

/** The record of tags segsync put on a contact after a confirmed write of `add` and `remove`. */
export function addedAfterWrite(before: ReadonlySet<string>, add: string[], remove: string[]): FieldValue {
  const gone = new Set(remove);
  return tagList([...before, ...add].filter((t) => !gone.has(t)));
}
