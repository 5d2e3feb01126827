import { filterProblem, matchTerm, parseFilter, FilterSyntaxError } from '../../../../connectors/klaviyo/sandbox/filter';

describe('Klaviyo filter language (sandbox)', () => {
  test('parses AND-ed terms with strings, lists and datetimes', () => {
    expect(parseFilter('equals(metric_id,"M1"),greater-than(datetime,2026-01-01T00:00:00Z),any(email,["a@x.com",\'b@x.com\'])')).toEqual([
      { op: 'equals', field: 'metric_id', value: 'M1' },
      { op: 'greater-than', field: 'datetime', value: '2026-01-01T00:00:00Z' },
      { op: 'any', field: 'email', value: ['a@x.com', 'b@x.com'] },
    ]);
  });

  test('reports syntax errors with their position', () => {
    expect(() => parseFilter('equals(email "x")')).toThrow(FilterSyntaxError);
    expect(() => parseFilter('equals(email,"x"')).toThrow(/expected \)/);
  });

  test('compares datetimes as instants and checks allowed operators', () => {
    const [t] = parseFilter('greater-than(updated,2026-01-01T00:00:00.999Z)');
    expect(matchTerm(t!, '2026-01-01T00:00:01+00:00')).toBe(true);
    expect(matchTerm(t!, '2026-01-01T00:00:00+00:00')).toBe(false);
    expect(filterProblem(parseFilter('greater-or-equal(updated,2026-01-01T00:00:00Z)'), { updated: ['greater-than', 'less-than'] })).toMatch(/not allowed/);
  });
});
