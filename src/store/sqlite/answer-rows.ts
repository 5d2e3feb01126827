/**
 * A contact's segment answers as the store keeps them: one text per contact, each answer as segment,
 * value as JSON text and since, all joined by the unit separator (U+001F). One row per contact
 * instead of one per answer: a first full recompute at 1 M contacts stores about 9 M answers and
 * SQLite's cost is per row (migration 90). Not a JSON object: parsing a million of them took 4.7 s
 * where splitting takes a tenth of that. The separator cannot occur: segment names are letters,
 * digits and _, and JSON text escapes control characters.
 */
import { isMemberJson } from '../../model/membership';
import type { FieldValue } from '../../model/types';

/** One stored answer. */
export interface StoredAnswer {
  segment: string;
  value: FieldValue;
  since: number;
}

const US = '\x1f';

/** The stored text for these answers. */
export function packAnswers(answers: Iterable<StoredAnswer>): string {
  const parts: string[] = [];
  for (const a of answers) parts.push(a.segment, JSON.stringify(a.value), String(a.since));
  return parts.join(US);
}

/** The stored text's parts: segment, value's JSON text, since, segment, … */
export function answerParts(text: string): string[] {
  return text === '' ? [] : text.split(US);
}

/** The answers in a stored text, by segment name. */
export function unpackAnswers(text: string): StoredAnswer[] {
  const parts = answerParts(text);
  const out: StoredAnswer[] = [];
  for (let i = 0; i + 2 < parts.length; i += 3) out.push({ segment: parts[i]!, value: parseAnswer(parts[i + 1]!), since: Number(parts[i + 2]) });
  return out.sort((a, b) => (a.segment < b.segment ? -1 : a.segment > b.segment ? 1 : 0));
}

/**
 * Adds a stored text's answers to `members`, by segment: 1 for an answer that makes the contact a
 * member, 0 for one that does not. Walks the text by index: splitting it made a third of `status`'s
 * time at 1 M contacts.
 */
export function countMembers(text: string, members: Map<string, number>): void {
  for (let p = 0; p < text.length;) {
    const q = text.indexOf(US, p);
    const r = text.indexOf(US, q + 1);
    if (q < 0 || r < 0) return;
    const s = text.indexOf(US, r + 1);
    const segment = text.slice(p, q);
    members.set(segment, (members.get(segment) ?? 0) + (isMemberJson(text.slice(q + 1, r)) ? 1 : 0));
    p = s < 0 ? text.length : s + 1;
  }
}

/** `before` with each answer in `given` in place of its segment's (both stored texts). */
export function mergeAnswers(before: string, given: string): string {
  const parts = answerParts(before);
  const at = new Map<string, number>();
  for (let i = 0; i + 2 < parts.length; i += 3) at.set(parts[i]!, i);
  const more = answerParts(given);
  for (let i = 0; i + 2 < more.length; i += 3) {
    const j = at.get(more[i]!);
    if (j === undefined) {
      at.set(more[i]!, parts.length);
      parts.push(more[i]!, more[i + 1]!, more[i + 2]!);
    } else {
      parts[j + 1] = more[i + 1]!;
      parts[j + 2] = more[i + 2]!;
    }
  }
  return parts.join(US);
}

/** A stored answer's JSON text, the common scalars read without JSON.parse (a load reads millions). */
export function parseAnswer(json: string): FieldValue {
  if (json === 'true') return true;
  if (json === 'false') return false;
  if (json === 'null') return null;
  const c = json.charCodeAt(0);
  if ((c >= 48 && c <= 57) || c === 45) {
    const n = Number(json);
    if (!Number.isNaN(n)) return n;
  }
  return JSON.parse(json) as FieldValue;
}
