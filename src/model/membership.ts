/**
 * What makes a contact a member of a segment, defined once: it has an answer that is not false or
 * null (a value segment's 0 or '' is still its answer). `segments` and `status` count members this
 * way, `members` lists them and `push --segment` pushes them. A segment pushed as a tag is narrower:
 * only a member whose answer is true or a non-empty, non-zero value carries the tag.
 */
import type { FieldValue } from './types';

/** Whether a stored segment answer makes the contact a member. */
export function isMember(value: FieldValue | undefined): boolean {
  return value !== undefined && value !== null && value !== false;
}

/** `isMember` of a stored answer read off its JSON text, with no parse (`status` counts millions). */
export function isMemberJson(json: string): boolean {
  return json !== 'false' && json !== 'null';
}

/** Whether a member carries the segment's tag on an ESP: a score of 0 or an empty stage tags nobody. */
export function carriesSegmentTag(value: FieldValue | undefined): boolean {
  return isMember(value) && value !== '' && value !== 0;
}
