import fc from 'fast-check';
import { decodeValue, encodeValue, hubspotTypeOf, isCompatible, splitMulti } from '../../../../connectors/hubspot/values';

const P = (type: string, fieldType = 'text') => ({ name: 'f', type, fieldType });
const DAY = 86_400_000;

describe('HubSpot value conversion', () => {
  it('maps each neutral type to HubSpot type/fieldType (bool → booleancheckbox, datetime shown as date)', () => {
    expect(hubspotTypeOf('boolean', false)).toEqual({ type: 'bool', fieldType: 'booleancheckbox' });
    expect(hubspotTypeOf('date', false)).toEqual({ type: 'date', fieldType: 'date' });
    expect(hubspotTypeOf('datetime', false)).toEqual({ type: 'datetime', fieldType: 'date' });
    expect(hubspotTypeOf('enum', true)).toEqual({ type: 'enumeration', fieldType: 'select' });
    expect(hubspotTypeOf('list', true)).toEqual({ type: 'enumeration', fieldType: 'checkbox' });
    expect(hubspotTypeOf('list', false)).toEqual({ type: 'string', fieldType: 'textarea' });
  });

  it('sends dates as midnight-UTC epoch milliseconds, whatever time of day they carry', () => {
    expect(encodeValue(P('date', 'date'), '2024-03-05')).toBe(String(Date.UTC(2024, 2, 5)));
    expect(encodeValue(P('date', 'date'), '2024-03-05T23:59:59+00:00')).toBe(String(Date.UTC(2024, 2, 5)));
    expect(encodeValue(P('date', 'date'), Date.UTC(2024, 2, 5, 13))).toBe(String(Date.UTC(2024, 2, 5)));
    fc.assert(fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => Number(encodeValue(P('date', 'date'), ms)) % DAY === 0));
  });

  it('sends datetimes as epoch ms, numbers and booleans as strings, lists ;-joined, null as "" (clear)', () => {
    expect(encodeValue(P('datetime', 'date'), '2025-01-02T03:04:05.678Z')).toBe(String(Date.UTC(2025, 0, 2, 3, 4, 5, 678)));
    expect(encodeValue(P('number', 'number'), 12.5)).toBe('12.5');
    expect(encodeValue(P('number', 'number'), '7')).toBe('7');
    expect(encodeValue(P('bool', 'booleancheckbox'), false)).toBe('false');
    expect(encodeValue(P('enumeration', 'checkbox'), ['a', 'b'])).toBe('a;b');
    expect(encodeValue(P('string'), null)).toBe('');
  });

  it('refuses values the property type cannot hold, naming the field', () => {
    expect(() => encodeValue(P('number', 'number'), 'lots')).toThrow(/"f": "lots" is not a number/);
    expect(() => encodeValue(P('bool', 'booleancheckbox'), 'yes')).toThrow(/not a boolean/);
    expect(() => encodeValue(P('date', 'date'), 'soon')).toThrow(/not a date/);
  });

  it('reads values back into neutral types', () => {
    expect(decodeValue(P('number', 'number'), '12.5')).toBe(12.5);
    expect(decodeValue(P('bool', 'booleancheckbox'), 'true')).toBe(true);
    expect(decodeValue(P('date', 'date'), '2024-03-05')).toBe('2024-03-05');
    expect(decodeValue(P('date', 'date'), String(Date.UTC(2024, 2, 5)))).toBe('2024-03-05');
    expect(decodeValue(P('datetime', 'date'), '1735787045678')).toBe('2025-01-02T03:04:05.678Z');
    expect(decodeValue({ ...P('enumeration', 'checkbox') }, 'a;b;;a')).toEqual(['a', 'b']);
    expect(decodeValue(P('enumeration', 'select'), 'pro')).toBe('pro');
    expect(decodeValue(P('string'), '')).toBeNull();
    expect(decodeValue(undefined, 'raw')).toBe('raw');
  });

  it('round-trips dates and numbers', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), (d) => {
        const day = d.toISOString().slice(0, 10);
        return decodeValue(P('date', 'date'), encodeValue(P('date', 'date'), day)) === day;
      }),
    );
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        (n) => decodeValue(P('number', 'number'), encodeValue(P('number', 'number'), n)) === (Object.is(n, -0) ? 0 : n),
      ),
    );
  });

  it('judges which existing properties can hold a neutral type', () => {
    expect(isCompatible('number', P('number', 'number'))).toBe(true);
    expect(isCompatible('number', P('string'))).toBe(false);
    expect(isCompatible('boolean', P('bool', 'booleancheckbox'))).toBe(true);
    expect(isCompatible('date', P('datetime', 'date'))).toBe(false);
    expect(isCompatible('list', P('enumeration', 'checkbox'))).toBe(true);
  });

  it('splits multi-checkbox values into distinct options', () => {
    expect(splitMulti('a; b;;a')).toEqual(['a', 'b']);
    expect(splitMulti(undefined)).toEqual([]);
  });
});
