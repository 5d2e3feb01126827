/**
 * segsync's event functions as CEL sees them: names, overloads and what each argument means. The
 * checker registers these signatures with cel-js; the compiler turns each call into a shared
 * aggregate; docs/rules.md describes the same table for users.
 */

/** What an argument of an event function is (all must be literals, so they compile to aggregates). */
export type ParamRole = 'event' | 'property' | 'window' | 'filter' | 'points' | 'halfLife' | 'time';

export interface EventOverload {
  params: ParamRole[];
  returns: string;
}

export interface EventFunction {
  name: string;
  overloads: EventOverload[];
  /** One line for docs and `explain`. */
  doc: string;
}

export const DURATION = 'google.protobuf.Duration';
export const TIMESTAMP = 'google.protobuf.Timestamp';

const CEL_TYPE: Record<ParamRole, string> = {
  event: 'string',
  property: 'string',
  window: DURATION,
  filter: 'map<string, dyn>',
  points: 'map<string, dyn>',
  halfLife: DURATION,
  time: TIMESTAMP,
};

/** `name, [window], [filter]` in every combination. */
function windowed(lead: ParamRole[], returns: string): EventOverload[] {
  return [
    { params: [...lead], returns },
    { params: [...lead, 'window'], returns },
    { params: [...lead, 'filter'], returns },
    { params: [...lead, 'window', 'filter'], returns },
  ];
}

export const EVENT_FUNCTIONS: readonly EventFunction[] = [
  { name: 'count', overloads: windowed(['event'], 'int'), doc: 'number of events named E (in the window W: now - W < t <= now; matching the filter)' },
  { name: 'exists', overloads: windowed(['event'], 'bool'), doc: 'at least one event named E (in the window W: now - W < t <= now; matching the filter)' },
  { name: 'sum', overloads: windowed(['event', 'property'], 'double'), doc: 'exact decimal sum of property P over the events (0 when none)' },
  { name: 'avg', overloads: windowed(['event', 'property'], 'double'), doc: 'average of property P (an error when no event has it)' },
  { name: 'max', overloads: windowed(['event', 'property'], 'double'), doc: 'largest value of property P (an error when no event has it)' },
  { name: 'min', overloads: windowed(['event', 'property'], 'double'), doc: 'smallest value of property P (an error when no event has it)' },
  {
    name: 'first',
    overloads: windowed(['event'], TIMESTAMP),
    doc: 'time of the first event named E (in the window, matching the filter; an error when there is none)',
  },
  {
    name: 'last',
    overloads: windowed(['event'], TIMESTAMP),
    doc: 'time of the last event named E (in the window, matching the filter; an error when there is none)',
  },
  {
    name: 'since',
    overloads: [
      { params: ['event'], returns: DURATION },
      { params: ['event', 'filter'], returns: DURATION },
    ],
    doc: 'time elapsed since the last event named E: now - last(E) (an error when there is none)',
  },
  {
    name: 'after',
    overloads: [{ params: ['event', 'event'], returns: 'bool' }],
    doc: 'after(X, Y): an X happened at or after the last Y, a tie counting (false when there is no Y)',
  },
  {
    name: 'after_strict',
    overloads: [{ params: ['event', 'event'], returns: 'bool' }],
    doc: 'after_strict(X, Y): an X happened strictly after the last Y, a tie not counting (false when there is no Y)',
  },
  {
    name: 'within',
    overloads: [{ params: ['event', 'window', 'event'], returns: 'bool' }],
    doc: 'within(X, D, Y): an X happened in [last Y, last Y + D], a tie with Y counting',
  },
  {
    name: 'within_strict',
    overloads: [{ params: ['event', 'window', 'event'], returns: 'bool' }],
    doc: 'within_strict(X, D, Y): an X happened in (last Y, last Y + D], a tie with Y not counting',
  },
  {
    name: 'none_within',
    overloads: [{ params: ['event', 'window', 'event'], returns: 'bool' }],
    doc: 'none_within(X, D, Y): a Y happened, D has passed since the last Y, and no X came in [last Y, last Y + D]',
  },
  {
    name: 'none_within_strict',
    overloads: [{ params: ['event', 'window', 'event'], returns: 'bool' }],
    doc: 'none_within_strict(X, D, Y): a Y happened, D has passed since the last Y, and no X came in (last Y, last Y + D]',
  },
  {
    name: 'count_since',
    overloads: [
      { params: ['event', 'time'], returns: 'int' },
      { params: ['event', 'time', 'filter'], returns: 'int' },
    ],
    doc: 'count_since(E, T [, F]): number of events named E at or after the time T (a tie counting), up to now',
  },
  {
    name: 'count_since_strict',
    overloads: [
      { params: ['event', 'time'], returns: 'int' },
      { params: ['event', 'time', 'filter'], returns: 'int' },
    ],
    doc: 'count_since_strict(E, T [, F]): number of events named E strictly after the time T, up to now',
  },
  {
    name: 'score',
    overloads: [
      { params: ['points'], returns: 'double' },
      { params: ['points', 'window'], returns: 'double' },
      { params: ['points', 'window', 'halfLife'], returns: 'double' },
    ],
    doc: 'score({"Event": points, …}, [window], [half-life]): sum of points per event; an event\'s points halve for each full half-life of its age',
  },
];

/** cel-js signature strings for an event function's overloads. */
export function signatures(fn: EventFunction): string[] {
  return fn.overloads.map((o) => `${fn.name}(${o.params.map((p) => CEL_TYPE[p]).join(', ')}): ${o.returns}`);
}

/** Plain (non-event) functions segsync adds to CEL. */
export const EXTRA_FUNCTIONS = [
  {
    signature: 'tier(dyn, list<dyn>): int',
    doc: 'tier(x, [t1, t2, …]): 1 + how many thresholds x has reached (x ≥ t), e.g. an RFM score 1–5 from four thresholds',
  },
  {
    signature: 'tier_strict(dyn, list<dyn>): int',
    doc: 'tier_strict(x, [t1, t2, …]): 1 + how many thresholds x has passed (x > t)',
  },
  {
    signature: 'string(google.protobuf.Timestamp): string',
    doc: 'string(timestamp): RFC 3339 in UTC, e.g. "2026-03-01T09:00:00Z" (CEL defines it; cel-js lacks it)',
  },
  {
    signature: 'string(google.protobuf.Duration): string',
    doc: 'string(duration): seconds, e.g. "86400s" (CEL defines it; cel-js lacks it)',
  },
] as const;

/** The variables a rule can read. */
export const RULE_VARIABLES = [
  { name: 'contact', type: 'map<string, dyn>', doc: 'the contact\'s properties: contact.country, contact["Plan Name"]' },
  { name: 'email', type: 'string', doc: "the contact's normalised email" },
  { name: 'tags', type: 'list<string>', doc: 'the contact\'s tags: "vip" in tags' },
  { name: 'consent', type: 'string', doc: 'subscribed, unsubscribed, cleaned, pending, non-marketing, or "" when unknown' },
  { name: 'created_at', type: TIMESTAMP, doc: 'when the contact was created: `created_at` given on import, else when segsync first saw it' },
  { name: 'now', type: TIMESTAMP, doc: 'the evaluation time' },
] as const;
