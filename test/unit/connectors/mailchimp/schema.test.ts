import { deriveMergeTag, fromMergeValue, mergeFieldFor, toMergeValue } from '../../../../connectors/mailchimp/schema';
import { ValidationError } from '../../../../src/errors';

describe('deriveMergeTag', () => {
  it.each([
    ['plan', 'PLAN'],
    ['first_purchase_date', 'FIRST_PURC'],
    ['lifetime value (€)', 'LIFETIME_V'],
    ['2fa-enabled', 'F2FA_ENABL'],
    ['a__b', 'A_B'],
    ['abcdefghi_xyz', 'ABCDEFGHI'],
  ])('%s → %s', (name, tag) => {
    expect(deriveMergeTag(name)).toBe(tag);
  });
});

describe('mergeFieldFor', () => {
  it('gives each neutral type its Mailchimp type and options', () => {
    expect(mergeFieldFor({ name: 'plan', type: 'enum', options: ['a', 'b'] }, 'PLAN', 'MM/DD/YYYY')).toEqual({
      name: 'plan',
      type: 'dropdown',
      tag: 'PLAN',
      public: false,
      required: false,
      options: { choices: ['a', 'b'] },
    });
    expect(mergeFieldFor({ name: 'd', label: 'Signup', type: 'date' }, 'D', 'DD/MM/YYYY')).toMatchObject({
      name: 'Signup',
      type: 'date',
      options: { date_format: 'DD/MM/YYYY' },
    });
    expect(mergeFieldFor({ name: 'b', type: 'boolean' }, 'B', 'MM/DD/YYYY')).toMatchObject({ type: 'dropdown', options: { choices: ['true', 'false'] } });
    expect(mergeFieldFor({ name: 'n', type: 'number' }, 'N', 'MM/DD/YYYY').type).toBe('number');
    expect(mergeFieldFor({ name: 't', type: 'datetime' }, 'T', 'MM/DD/YYYY').type).toBe('text');
    expect(mergeFieldFor({ name: 'l', type: 'list' }, 'L', 'MM/DD/YYYY').type).toBe('text');
  });
});

describe('toMergeValue', () => {
  const text = { tag: 'T', type: 'text' };
  const bool = { tag: 'B', type: 'dropdown', options: { choices: ['true', 'false'] } };
  it('sends booleans as strings and clears with ""', () => {
    expect(toMergeValue('b', true, bool)).toBe('true');
    expect(toMergeValue('b', false, bool)).toBe('false');
    expect(toMergeValue('t', null, text)).toBe('');
  });

  it('writes dates in the field’s own format, from ISO dates, date-times and epoch ms', () => {
    const us = { tag: 'D', type: 'date', options: { date_format: 'MM/DD/YYYY' } };
    const eu = { tag: 'D', type: 'date', options: { date_format: 'DD/MM/YYYY' } };
    expect(toMergeValue('d', '2024-03-05', us)).toBe('03/05/2024');
    expect(toMergeValue('d', '2024-03-05', eu)).toBe('05/03/2024');
    expect(toMergeValue('d', '2024-03-05T23:30:00Z', us)).toBe('03/05/2024');
    expect(toMergeValue('d', Date.UTC(2024, 2, 5), us)).toBe('03/05/2024');
    expect(() => toMergeValue('d', 'next tuesday', us)).toThrow(ValidationError);
  });

  it('checks numbers and choices before sending', () => {
    expect(toMergeValue('n', '12.5', { tag: 'N', type: 'number' })).toBe(12.5);
    expect(() => toMergeValue('n', 'lots', { tag: 'N', type: 'number' })).toThrow(/not a number/);
    expect(() => toMergeValue('p', 'gold', { tag: 'P', type: 'dropdown', options: { choices: ['free', 'pro'] } })).toThrow(/not a choice/);
  });

  it('joins lists with commas', () => {
    expect(toMergeValue('l', ['a', 'b', 3], text)).toBe('a, b, 3');
  });
});

describe('fromMergeValue', () => {
  it('reads values back into neutral types', () => {
    expect(fromMergeValue('03/05/2024', { type: 'date', options: { date_format: 'MM/DD/YYYY' } }, 'date')).toBe('2024-03-05');
    expect(fromMergeValue('05/03/2024', { type: 'date', options: { date_format: 'DD/MM/YYYY' } }, 'date')).toBe('2024-03-05');
    expect(fromMergeValue('', { type: 'text' }, 'string')).toBeNull();
    expect(fromMergeValue('true', { type: 'dropdown' }, 'boolean')).toBe(true);
    expect(fromMergeValue(7, { type: 'number' }, 'number')).toBe(7);
    expect(fromMergeValue('a, b', { type: 'text' }, 'list')).toEqual(['a', 'b']);
  });
});
