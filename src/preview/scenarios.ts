/**
 * Scenarios: named recipients to render a template for. From a YAML/JSON file (with `extends`), from
 * real contacts in the store (`--sample N`), or synthesized to cover every branch (synthesize.ts).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { YamlSource } from '../config/locate';
import { UsageError, ValidationError } from '../errors';
import type { FieldValue } from '../model/types';
import type { Store } from '../store/store';
import type { ScenarioData } from './dialects/dialect';

/** A scenario: a name, where it came from, and the data the dialects shape into a context. */
export interface Scenario extends ScenarioData {
  name: string;
  description?: string;
  origin: 'file' | 'cover' | 'store' | 'empty';
}

const fieldValue: z.ZodType<FieldValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(fieldValue), z.record(z.string(), fieldValue)]),
);

const scenarioSchema = z
  .object({
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    extends: z.string().optional(),
    email: z.string().optional(),
    properties: z.record(z.string(), fieldValue).optional(),
    tags: z.array(z.string()).optional(),
    segments: z.record(z.string(), fieldValue).optional(),
    events: z
      .array(
        z
          .object({ name: z.string().min(1), time: z.union([z.string(), z.number()]).optional(), properties: z.record(z.string(), fieldValue).optional() })
          .strict(),
      )
      .optional(),
    groups: z.record(z.string(), z.array(z.string())).optional(),
    context: z.record(z.string(), z.unknown()).optional(),
    now: z.union([z.string(), z.number()]).optional(),
  })
  .strict();
type RawScenario = z.infer<typeof scenarioSchema>;

const fileSchema = z
  .object({
    now: z.union([z.string(), z.number()]).optional(),
    scenarios: z.union([z.array(scenarioSchema), z.record(z.string(), scenarioSchema)]),
  })
  .strict();

/** The automatic "nobody filled anything in" scenario: it audits fallbacks. */
export function emptyScenario(now?: string | number): Scenario {
  return {
    name: '(empty profile)',
    origin: 'empty',
    description: 'no properties, tags, segments or events: shows every fallback',
    properties: {},
    tags: [],
    segments: {},
    events: [],
    groups: {},
    email: undefined,
    context: {},
    now,
  };
}

/** Parses a scenario file's text; errors name the file, line and field. */
export function parseScenarios(text: string, file: string): Scenario[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const src = new YamlSource(file, doc, lines, text);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ValidationError(`scenario file is not valid YAML: ${e.message.split('\n')[0]}`, { location: src.at(e.pos[0]), hint: 'fix the YAML syntax' });
  }
  const parsed = fileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    throw new ValidationError(`scenario file: ${path.join('.') || '(top)'}: ${issue.message}`, {
      location: src.locate(path),
      hint: 'a scenario has: name, extends, email, properties, tags, segments, events [{name, time, properties}], groups, context, now',
    });
  }
  const list: [string, RawScenario, (string | number)[]][] = Array.isArray(parsed.data.scenarios)
    ? parsed.data.scenarios.map((s, i) => [s.name ?? `scenario ${i + 1}`, s, ['scenarios', i]])
    : Object.entries(parsed.data.scenarios).map(([k, s]) => [s.name ?? k, s, ['scenarios', k]]);
  const byName = new Map<string, RawScenario>();
  for (const [name, s, path] of list) {
    if (byName.has(name))
      throw new ValidationError(`two scenarios are named "${name}"`, { location: src.locate(path), hint: 'give each scenario its own name' });
    byName.set(name, s);
  }
  const resolve = (name: string, s: RawScenario, path: (string | number)[], seen: string[]): RawScenario => {
    if (!s.extends) return s;
    if (seen.includes(s.extends))
      throw new ValidationError(`scenario "${name}" extends itself through ${[...seen, s.extends].join(' → ')}`, {
        location: src.locate([...path, 'extends']),
      });
    const base = byName.get(s.extends);
    if (!base)
      throw new ValidationError(`scenario "${name}" extends unknown scenario "${s.extends}"`, {
        location: src.locate([...path, 'extends']),
        hint: `known: ${[...byName.keys()].join(', ')}`,
      });
    const b = resolve(s.extends, base, path, [...seen, s.extends]);
    return {
      ...b,
      ...s,
      properties: { ...b.properties, ...s.properties },
      segments: { ...b.segments, ...s.segments },
      groups: { ...b.groups, ...s.groups },
      context: { ...b.context, ...s.context },
      tags: s.tags ?? b.tags,
      events: s.events ?? b.events,
    };
  };
  return list.map(([name, raw, path]) => {
    const s = resolve(name, raw, path, [name]);
    return {
      name,
      description: s.description,
      origin: 'file' as const,
      email: s.email,
      properties: s.properties ?? {},
      tags: s.tags ?? [],
      segments: s.segments ?? {},
      events: (s.events ?? []).map((e) => ({ name: e.name, time: e.time, properties: e.properties ?? {} })),
      groups: s.groups ?? {},
      context: s.context ?? {},
      now: s.now ?? parsed.data.now,
    };
  });
}

/** Reads a scenario file (YAML or JSON). */
export function loadScenarioFile(file: string): Scenario[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ValidationError(`cannot read scenario file ${file}`, { location: { file }, hint: 'check the path' });
  }
  return parseScenarios(text, file);
}

/**
 * A stored segment answer that makes the contact a member: true or a value (a stage, a score). The
 * same reading the push applies; kept here because preview does not depend on the sync layer.
 */
function isMemberValue(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false && value !== '' && value !== 0;
}

/** Ids of the contacts the store holds as members of `segment`, ascending. */
export function segmentMemberIds(store: Store, segment: string): number[] {
  const ids: number[] = [];
  for (const [contactId, name, value] of store.scanSegmentStates()) {
    if (name === segment && isMemberValue(JSON.parse(value) as unknown)) ids.push(contactId);
  }
  return ids.sort((a, b) => a - b);
}

function allContactIds(store: Store): number[] {
  const ids: number[] = [];
  for (let after = 0; ;) {
    const page = store.contactIds(after, 5000);
    if (!page.length) break;
    ids.push(...page);
    after = page[page.length - 1]!;
  }
  return ids;
}

/**
 * Up to `n` real contacts from the store, spread evenly over the id range, with events and segments;
 * with `segment`, only that segment's members (the people who will get the email).
 */
export function sampleFromStore(store: Store, n: number, opts: { segment?: string } = {}): Scenario[] {
  const ids = opts.segment === undefined ? allContactIds(store) : segmentMemberIds(store, opts.segment);
  if (opts.segment !== undefined && ids.length === 0) {
    // Never evaluated, or evaluated and empty: two different things to do.
    if (store.answersFingerprint() === undefined)
      throw new UsageError(`segment "${opts.segment}" has no members in the store: no segment was computed in it yet`, {
        hint: 'run `segsync segments` (or the daemon) first, then preview again',
      });
    throw new UsageError(`segment "${opts.segment}" has no members now`, {
      hint: 'preview another segment, or leave out --segment to sample any contacts',
    });
  }
  const step = ids.length / Math.max(1, n);
  const picked = ids.length <= n ? ids : Array.from({ length: n }, (_, i) => ids[Math.floor(i * step)]!);
  const out: Scenario[] = [];
  for (const id of picked) {
    const c = store.getContact(id);
    if (!c) continue;
    const properties: Record<string, FieldValue> = {};
    for (const [k, v] of Object.entries(c.properties)) properties[k] = v.value;
    const segments: Record<string, FieldValue> = {};
    for (const s of store.getSegmentStates(id)) segments[s.segment] = s.value;
    const events = store.eventsOf(id).map((e) => ({ name: e.name, time: new Date(e.time).toISOString(), properties: e.properties }));
    const value = opts.segment === undefined ? undefined : segments[opts.segment];
    const description = opts.segment === undefined ? undefined : `member of ${opts.segment}${value === true ? '' : ` (${JSON.stringify(value)})`}`;
    out.push({ name: c.email, description, origin: 'store', email: c.email, properties, tags: [...c.tags], segments, events, groups: {}, context: {} });
  }
  return out;
}
