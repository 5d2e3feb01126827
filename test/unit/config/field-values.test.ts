/**
 * Values checked against the type segsync.yaml declares: text is read as the type it stands for, a
 * value that cannot be is refused with the field, the value and what to do.
 */
import { fitFieldValue, fitProperties } from '../../../src/config/field-values';
import type { FieldShape } from '../../../src/config/field-values';
import type { FieldValue } from '../../../src/model/types';

const fits = (field: FieldShape, value: FieldValue): FieldValue => {
  const fit = fitFieldValue('f', field, value);
  if (!fit.ok) throw new Error(`expected ${JSON.stringify(value)} to fit: ${fit.problem}`);
  return fit.value;
};
const refused = (field: FieldShape, value: FieldValue): string => {
  const fit = fitFieldValue('f', field, value);
  if (fit.ok) throw new Error(`expected ${JSON.stringify(value)} to be refused, got ${JSON.stringify(fit.value)}`);
  return `${fit.problem} | ${fit.hint}`;
};

describe('fitFieldValue', () => {
  it('lets empty values through for every type: they clear the field', () => {
    for (const type of ['string', 'number', 'boolean', 'date', 'datetime', 'enum', 'list'] as const) {
      expect(fits({ type, options: ['a'] }, null)).toBeNull();
      expect(fits({ type, options: ['a'] }, '')).toBe('');
    }
  });

  it('string: scalars become text; structured values are kept whole', () => {
    expect(fits({ type: 'string' }, 'x')).toBe('x');
    expect(fits({ type: 'string' }, 2134)).toBe('2134');
    expect(fits({ type: 'string' }, false)).toBe('false');
    expect(fits({ type: 'string' }, { addr1: 'Main St' })).toEqual({ addr1: 'Main St' });
  });

  it('number: numbers and numeric text; anything else is refused', () => {
    expect(fits({ type: 'number' }, 42)).toBe(42);
    expect(fits({ type: 'number' }, ' 3.5 ')).toBe(3.5);
    expect(fits({ type: 'number' }, '-1e3')).toBe(-1000);
    expect(refused({ type: 'number' }, 'abc')).toBe('"abc" is not a number | give "f" as a number such as 42 or 3.5');
    expect(refused({ type: 'number' }, '0x10')).toContain('is not a number');
    expect(refused({ type: 'number' }, '12 apples')).toContain('is not a number');
    expect(refused({ type: 'number' }, true)).toContain('is not a number');
  });

  it('boolean: true/false, yes/no, 1/0 in any case', () => {
    for (const t of [true, 'true', 'TRUE', 'yes', 'Yes', '1', 1]) expect(fits({ type: 'boolean' }, t)).toBe(true);
    for (const f of [false, 'false', 'No', '0', 0]) expect(fits({ type: 'boolean' }, f)).toBe(false);
    expect(refused({ type: 'boolean' }, 'maybe')).toContain('"maybe" is not true or false');
    expect(refused({ type: 'boolean' }, 2)).toContain('is not true or false');
  });

  it('date: a real calendar day; timestamps and epoch milliseconds give their UTC day', () => {
    expect(fits({ type: 'date' }, '2026-05-01')).toBe('2026-05-01');
    expect(fits({ type: 'date' }, '2026-05-01T23:30:00-02:00')).toBe('2026-05-02');
    expect(fits({ type: 'date' }, Date.UTC(2026, 4, 1, 12))).toBe('2026-05-01');
    expect(refused({ type: 'date' }, '2026-02-30')).toContain('is not a date');
    expect(refused({ type: 'date' }, '05/01/2026')).toContain('give "f" as YYYY-MM-DD');
    expect(refused({ type: 'date' }, 1_700_000_000)).toContain('is not a date');
  });

  it('datetime: ISO 8601 with a zone (a day alone is its midnight UTC) or epoch milliseconds, kept as an ISO instant', () => {
    expect(fits({ type: 'datetime' }, '2026-05-01T12:00:00Z')).toBe('2026-05-01T12:00:00.000Z');
    expect(refused({ type: 'datetime' }, '2026-05-01 12:00:00')).toContain('give "f" as ISO 8601 with a zone');
    expect(fits({ type: 'datetime' }, '1969-07-20T20:17:00Z')).toBe('1969-07-20T20:17:00.000Z');
    expect(fits({ type: 'datetime' }, '2026-05-01T14:00+0200')).toBe('2026-05-01T12:00:00.000Z');
    expect(fits({ type: 'datetime' }, '2026-05-01')).toBe('2026-05-01T00:00:00.000Z');
    expect(fits({ type: 'datetime' }, String(Date.UTC(2026, 4, 1)))).toBe('2026-05-01T00:00:00.000Z');
    expect(refused({ type: 'datetime' }, 'yesterday')).toContain('is not a date and time');
    expect(refused({ type: 'datetime' }, '2026-13-01T00:00:00Z')).toContain('is not a date and time');
  });

  it('enum: one of the options, as the option is written (case and surrounding spaces aside, when that names one)', () => {
    const plan: FieldShape = { type: 'enum', options: ['free', 'pro', '1', 'Team', 'team'] };
    expect(fits(plan, 'pro')).toBe('pro');
    expect(fits(plan, ' Pro ')).toBe('pro');
    expect(fits(plan, 1)).toBe('1');
    expect(fits(plan, 'team')).toBe('team');
    expect(refused(plan, 'TEAM')).toContain('is not one of');
    expect(refused(plan, 'gold')).toBe(
      `"gold" is not one of f's options (free, pro, 1, Team, team) | use one of them, or add it to fields.f.options in segsync.yaml`,
    );
  });

  it('list: a list of scalars or text split at ; and , (each item one of the options, when given)', () => {
    expect(fits({ type: 'list' }, ['a', 2])).toEqual(['a', '2']);
    expect(fits({ type: 'list' }, 'a; b,c')).toEqual(['a', 'b', 'c']);
    expect(refused({ type: 'list' }, [{ x: 1 }])).toContain('is not a list');
    expect(refused({ type: 'list', options: ['red', 'blue'] }, 'red;green')).toContain('"green" is not one of f\'s options (red, blue)');
    expect(fits({ type: 'list', options: ['red', 'blue'] }, ['Red', 'blue'])).toEqual(['red', 'blue']);
  });
});

describe('fitProperties', () => {
  it('fits declared fields, leaves undeclared ones alone and names each value left out', () => {
    const given = { plan: 'gold', score: '42', vip: 'yes', nickname: 7 };
    const fit = fitProperties({ plan: { type: 'enum', options: ['free', 'pro'] }, score: { type: 'number' }, vip: { type: 'boolean' } }, given);
    expect(fit.properties).toEqual({ score: 42, vip: true, nickname: 7 });
    expect(fit.problems).toEqual([{ field: 'plan', problem: expect.stringContaining('"gold" is not one of'), hint: expect.any(String) }]);
    expect(given).toEqual({ plan: 'gold', score: '42', vip: 'yes', nickname: 7 });
  });

  it('returns the same object when every value already fits', () => {
    const given = { score: 42 };
    expect(fitProperties({ score: { type: 'number' } }, given).properties).toBe(given);
  });
});
