import fc from 'fast-check';
import { deriveEventId, stableStringify } from '../../../src/model/identity';

describe('deriveEventId', () => {
  // Ids derived by earlier versions are in users' stores: a changed recipe would let a re-import
  // double every event that came without an id. These values were produced by the first recipe.
  it('derives exactly the ids earlier versions derived', () => {
    expect(
      deriveEventId(' Ada@Example.COM ', 'Placed Order', 1775037600000, {
        value: 19.99,
        currency: 'EUR',
        items: [{ sku: 'S1', qty: 2 }, null],
        nested: { b: 1, a: 'é\u0000"' },
      }),
    ).toBe('5GtFenubLTJQ5kGrQJsPeyZovtXiHUjU');
    expect(deriveEventId('b@x.com', 'Viewed Product', 1775037600001, {})).toBe('nMqcd3dokDqiRRz43Lkr1XcRUDTqMI_F');
    expect(deriveEventId('c@x.com', 'Opened Email', 1775037600002, { z: [1, 'two', true, null, { y: 1, x: [] }], ü: 'ß', '': 0 })).toBe(
      'FxH5dPhGlEgffG_2gNdAtlDpWheph3Ri',
    );
  });

  it('does not depend on the order of property keys', () => {
    expect(deriveEventId('a@x.com', 'A', 1775037600000, { b: { d: 1, c: 2 }, a: 1 })).toBe(
      deriveEventId('A@x.com', 'A', 1775037600000, { a: 1, b: { c: 2, d: 1 } }),
    );
    expect(stableStringify({ b: [undefined, { y: 1, x: 2 }], a: 'x' })).toBe('{"a":"x","b":[null,{"x":2,"y":1}]}');
  });
});

describe('stableStringify', () => {
  it('orders keys exactly as a plain sort does, whatever the keys', () => {
    const reference = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
      if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
      const obj = value as Record<string, unknown>;
      return `{${Object.keys(obj)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`)
        .join(',')}}`;
    };
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 30 }), (a, b) => {
        expect(stableStringify(a)).toBe(reference(a));
        expect(stableStringify(b)).toBe(reference(b));
      }),
      { numRuns: 2_000 },
    );
  });
});
