import { ValidationError } from '../../../src/errors';
import { emailProblem, requireEmail, reservedEventIdProblem } from '../../../src/model/identity';
import { MAX_NESTING, jsonDepth, serializeWithinLimits } from '../../../src/model/limits';
import { parseTime } from '../../../src/model/time';

const NOW = Date.UTC(2026, 11, 3, 12);

describe('emails', () => {
  it.each([
    ['ad\u0000min@x.com', /control character \(U\+0000\)/],
    ['ad\u200bmin@x.com', /\(U\+200B\)/],
    ['admin\u202e@x.com', /\(U\+202E\)/],
    ['\u2066admin@x.com', /\(U\+2066\)/],
    ['ad\u00admin@x.com', /\(U\+00AD\)/],
    ['<script>@x.com', /not a valid email/],
    ['🎉@🎉.com', /not a valid email/],
    ['a@b', /not a valid email/],
    ['a..b@x.com', /not a valid email/],
    ['.a@x.com', /not a valid email/],
    ['a@-x.com', /not a valid email/],
    ['a b@x.com', /not a valid email/],
    [`${'a'.repeat(65)}@x.com`, /not a valid email/],
  ])('refuses %j with a hint', (email, message) => {
    const problem = emailProblem(email.toLowerCase());
    expect(problem?.message).toMatch(message);
    expect(problem?.hint).toBeTruthy();
    expect(() => requireEmail(email)).toThrow(ValidationError);
  });

  it('accepts the addresses ESPs accept, punycode domains included', () => {
    for (const ok of ['a@x.com', 'first.last+tag@sub.example.co.uk', "o'brien@x.ie", 'x_y-z@xn--mnchen-3ya.de', '1@2.io'])
      expect(emailProblem(ok)).toBeUndefined();
    expect(requireEmail('  Ada@Example.COM ')).toBe('ada@example.com');
    expect(emailProblem('ü@münchen.de')?.hint).toMatch(/punycode/);
  });
});

describe('times', () => {
  it('reads ISO 8601 with a zone and epoch milliseconds', () => {
    expect(parseTime('2026-05-01T12:00:00Z', 'time', NOW)).toBe(Date.UTC(2026, 4, 1, 12));
    expect(parseTime('2026-05-01T14:00:00+02:00', 'time', NOW)).toBe(Date.UTC(2026, 4, 1, 12));
    expect(parseTime('2026-05-01 12:00:00.250-0130', 'time', NOW)).toBe(Date.UTC(2026, 4, 1, 13, 30, 0, 250));
    expect(parseTime('2024-02-29', 'time', NOW)).toBe(Date.UTC(2024, 1, 29));
    expect(parseTime(Date.UTC(2026, 0, 1), 'time', NOW)).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime(String(Date.UTC(2026, 0, 1)), 'time', NOW)).toBe(Date.UTC(2026, 0, 1));
  });

  it.each([
    [1e300, /more than a year in the future/],
    ['1e300', /not a date/],
    ['9999-01-01T00:00:00Z', /more than a year in the future/],
    [NOW + 367 * 86_400_000, /more than a year in the future/],
    [-1e12, /before 1970/],
    ['2026-02-30T10:00:00Z', /not a real date/],
    ['2025-02-29', /not a real date/],
    ['2026-13-01T00:00:00Z', /not a real date/],
    ['2026-05-01T24:00:00Z', /not a real time/],
    ['2026-05-01T10:00:00', /no time zone/],
    ['2026-05-01T10:00:00+19:00', /impossible zone offset/],
    ['May 1, 2026', /not a date/],
    [1767225600, /epoch seconds/],
    [Number.NaN, /not a finite number/],
  ])('refuses %j', (value, message) => {
    expect(() => parseTime(value, 'time', NOW)).toThrow(message);
  });
});

describe('limits', () => {
  const nested = (depth: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  };

  it('measures nesting without recursion, ignoring brackets inside strings', () => {
    expect(jsonDepth('{"a":"[[[[","b":[1,{"c":[]}]}')).toBe(4);
    expect(jsonDepth(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toBe(100_000);
    expect(jsonDepth('"\\"[["')).toBe(0);
  });

  it("refuses values nested too deep (even past JSON.stringify's stack) or too large, and serialises the rest", () => {
    expect(serializeWithinLimits({ a: nested(MAX_NESTING - 1) }, 'properties')).toBe(JSON.stringify({ a: nested(MAX_NESTING - 1) }));
    expect(() => serializeWithinLimits({ a: nested(MAX_NESTING) }, 'properties')).toThrow(/nested more than 32 levels/);
    expect(() => serializeWithinLimits(nested(50_000), 'properties')).toThrow(/nested too deeply/);
    expect(() => serializeWithinLimits({ s: 'é'.repeat(17_000) }, 'traits')).toThrow(/"traits" is 34 KB; at most 32 KB/);
    expect(serializeWithinLimits({ s: 'x'.repeat(30_000) }, 'traits')).toHaveLength(30_008);
  });
});

describe('event ids', () => {
  it("keeps the vendors' namespaces to the vendors", () => {
    expect(reservedEventIdProblem('klaviyo:EV1')?.message).toMatch(/reserved for klaviyo/);
    expect(reservedEventIdProblem('HubSpot:1')?.message).toMatch(/reserved for hubspot/);
    expect(reservedEventIdProblem('order-klaviyo:1')).toBeUndefined();
    expect(reservedEventIdProblem('b0b1c0de-0000-4000-8000-000000000000')).toBeUndefined();
  });
});
