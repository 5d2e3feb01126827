/**
 * The rules' state beside the event cache, saved when a process stops cleanly so the next start
 * need not re-read it row by row: the contacts as rules read them, every stored answer and every
 * contact's next wake-up. The store drops it at the first write to any of them (see migration 85),
 * so a snapshot that exists matches the tables it stands for; the check part catches a torn write.
 */
import { AnswerTable } from './answer-table';
import { ContactCache } from './contact-cache';
import type { ContactColumns } from './contact-cache';
import type { RuleSet } from './ruleset';
import { packParts, unpackParts } from './snapshot-parts';
import type { PartsReader } from './snapshot-parts';

/** Bumped when the snapshot's bytes change meaning: an older snapshot is then ignored, never misread. */
const STATE_VERSION = 2;

/** What a snapshot holds. */
export interface RulesState {
  contacts: ContactCache;
  answers: AnswerTable;
  /** Per contact id: its next wake-up (Infinity: never; NaN: not known). */
  nextAt: Float64Array;
  /** The contacts as the snapshot packed them (ids ascending), for the sweep workers' first share. */
  columns?: ContactColumns;
}

interface Header {
  v: number;
  contacts: number;
  /** Bytes of the contacts' distinct values, their emails and the answers' JSON. */
  valuesJson: number;
  emailsJson: number;
  answersJson: number;
  answers: { valued: boolean[]; size: number; base: number };
  nextAt: number;
}

/** The snapshot's layout key: what the rules read (the segments in order, the property names kept). */
export function stateLayout(rules: RuleSet): string {
  const props = rules.needs.properties;
  return JSON.stringify({
    v: STATE_VERSION,
    segments: rules.segments.map((s) => [s.name, s.kind]),
    properties: props ? [...props].sort() : null,
    emails: rules.needs.email,
  });
}

/** The state as parts for the store. */
export function packState(state: RulesState): Uint8Array[] {
  const c = state.contacts.exportAll();
  const answers = state.answers.dump();
  const valuesJson = Buffer.from(c.values, 'utf8');
  const emailsJson = Buffer.from(c.emails ?? '[]', 'utf8');
  const answersJson = Buffer.from(answers.json, 'utf8');
  const header: Header = {
    v: STATE_VERSION,
    contacts: c.ids.length,
    valuesJson: valuesJson.length,
    emailsJson: emailsJson.length,
    answersJson: answersJson.length,
    answers: { valued: answers.valued, size: answers.size, base: answers.base },
    nextAt: state.nextAt.length,
  };
  return packParts(header, [
    c.ids,
    c.created,
    c.consent,
    c.records,
    c.tags,
    c.alive,
    valuesJson,
    emailsJson,
    answers.kinds,
    answers.nums,
    answersJson,
    state.nextAt,
  ]);
}

/** The state from stored parts for these rules, or undefined when they are not an intact snapshot of this layout. */
export function unpackState(rules: RuleSet, parts: Iterable<Uint8Array>): RulesState | undefined {
  const reader = unpackParts(parts);
  if (!reader) return undefined;
  try {
    return fromReader(rules, reader);
  } finally {
    reader.close();
  }
}

function fromReader(rules: RuleSet, reader: PartsReader): RulesState | undefined {
  const h = reader.header as Header | undefined;
  if (h?.v !== STATE_VERSION || h.answers?.valued?.length !== rules.segments.length) return undefined;
  const width = h.answers.valued.length;
  const numWidth = h.answers.valued.filter(Boolean).length;
  const n = h.contacts;
  let columns: ContactColumns;
  let rest: { kinds: Uint8Array; nums: Float64Array; answersJson: Uint8Array; nextAt: Float64Array };
  const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  try {
    columns = {
      ids: reader.take(Float64Array, n),
      created: reader.take(Float64Array, n),
      consent: reader.take(Int32Array, n),
      records: reader.take(Int32Array, n),
      tags: reader.take(Int32Array, n),
      alive: reader.take(Uint8Array, n),
      values: text(reader.take(Uint8Array, h.valuesJson)),
      emails: text(reader.take(Uint8Array, h.emailsJson)),
    };
    rest = {
      kinds: reader.take(Uint8Array, h.answers.size * width),
      nums: reader.take(Float64Array, h.answers.size * numWidth),
      answersJson: reader.take(Uint8Array, h.answersJson),
      nextAt: reader.take(Float64Array, h.nextAt),
    };
  } catch {
    // Parts that end early, or sizes no memory can hold: not a snapshot this code wrote.
    return undefined;
  }
  if (!reader.verify()) return undefined;
  const contacts = new ContactCache(rules.needs.properties, rules.needs.email);
  contacts.import(columns);
  const answers = AnswerTable.fromDump({ ...h.answers, kinds: rest.kinds, nums: rest.nums, json: text(rest.answersJson) });
  return answers && { contacts, answers, nextAt: rest.nextAt, columns };
}
