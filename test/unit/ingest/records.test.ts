import fc from 'fast-check';
import { commonEventShape, parseEventRecord, toIncomingEvent } from '../../../src/ingest/records';

const KEYS = ['email', 'name', 'event', 'time', 'timestamp', 'id', 'eventId', 'messageId', 'properties', 'traits', 'context', 'other'] as const;

// Values of every kind the keys could carry, weighted towards the ones the common shape accepts.
const value = fc.oneof(
  fc.string(),
  fc.constantFrom('', 'ada@example.com', 'Placed Order', '2026-04-01T10:00:00Z'),
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, true, Number.NaN, Number.POSITIVE_INFINITY),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.constant(Object.create(null) as object),
  fc.constant(new Date(0)),
);
// A record of the common shape with one or two keys set to anything: the fast path's edges.
const common = fc.record(
  {
    id: fc.string({ minLength: 1 }),
    email: fc.constant('ada@example.com'),
    name: fc.string({ minLength: 1 }),
    time: fc.oneof(fc.constant('2026-04-01T10:00:00Z'), fc.constant(1775037600000)),
    properties: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  },
  { requiredKeys: [] },
);
const record = fc.tuple(common, fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 2 })).map(([base, edits]) => ({ ...base, ...edits }));

describe('commonEventShape (the import fast path)', () => {
  it('accepts nothing zod would refuse, and reads every accepted record as zod does', () => {
    fc.assert(
      fc.property(fc.oneof(record, fc.jsonValue({ maxDepth: 2 })), (raw) => {
        const fast = commonEventShape(raw);
        if (fast === undefined) return;
        const strict = parseEventRecord(raw);
        for (const key of KEYS) expect(fast[key as keyof typeof fast]).toEqual(strict[key as keyof typeof strict]);
      }),
      { numRuns: 5_000 },
    );
  });

  it('takes the common shape itself, so imports skip zod for it', () => {
    const raw = { id: 'e-1', email: 'Ada@Example.com', name: 'Placed Order', time: '2026-04-01T10:00:00Z', properties: { value: 19.99 } };
    expect(commonEventShape(raw)).toBe(raw);
    expect(toIncomingEvent(raw, 'import')).toEqual({
      email: 'ada@example.com',
      name: 'Placed Order',
      time: Date.UTC(2026, 3, 1, 10),
      properties: { value: 19.99 },
      source: 'import',
      eventId: 'e-1',
    });
  });

  it('leaves unusual records to zod and its messages', () => {
    expect(commonEventShape({ email: 'a@x.com', name: 'A', time: 1775037600000, properties: [] })).toBeUndefined();
    expect(() => toIncomingEvent({ email: 'a@x.com', name: 'A', time: 1775037600000, properties: [] }, 'import')).toThrow(/"properties"/);
    expect(() => toIncomingEvent({ email: 'a@x.com', name: '', time: 1775037600000 }, 'import')).toThrow(/"name"/);
    expect(toIncomingEvent({ event: 'A', timestamp: 1775037600000, context: { traits: { email: 'b@x.com' } } }, 'track').email).toBe('b@x.com');
  });

  it('names the time field the record gave, and "time" when it gave none', () => {
    expect(() => toIncomingEvent({ email: 'a@x.com', name: 'A' }, 'import')).toThrow('missing "time"');
    expect(() => toIncomingEvent({ email: 'a@x.com', name: 'A', timestamp: 'soon' }, 'import')).toThrow(/^"timestamp"/);
    expect(() => toIncomingEvent({ email: 'a@x.com', name: 'A', time: 'soon' }, 'import')).toThrow(/^"time"/);
  });
});
