import fc from 'fast-check';
import { missingOptions, nextTags, sameTags, wantsList } from '../../../../connectors/hubspot/tags';

describe('HubSpot tag sets', () => {
  it('computes (remote ∪ add) ∖ remove, keeping remote order and tags segsync does not own', () => {
    expect(nextTags(['partner', 'beta'], ['vip'], ['beta'])).toEqual(['partner', 'vip']);
    expect(nextTags([], ['a', 'a'], [])).toEqual(['a']);
    expect(nextTags(['a'], ['a'], ['a'])).toEqual([]);
  });

  it('holds the set laws for any inputs', () => {
    const tags = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 6 });
    fc.assert(
      fc.property(tags, tags, tags, (remote, add, remove) => {
        const next = new Set(nextTags(remote, add, remove));
        const expected = new Set([...remote, ...add].filter((t) => !remove.includes(t)));
        return next.size === expected.size && [...expected].every((t) => next.has(t));
      }),
    );
  });

  it('compares tag sets regardless of order', () => {
    expect(sameTags(['a', 'b'], ['b', 'a'])).toBe(true);
    expect(sameTags(['a'], ['a', 'b'])).toBe(false);
  });

  it('finds tags not yet declared as options', () => {
    expect(missingOptions({ name: 't', type: 'enumeration', fieldType: 'checkbox', options: [{ value: 'a' }] }, ['a', 'b', 'b'])).toEqual(['b']);
  });

  it('mirrors to lists all tags, some tags, or none', () => {
    expect(wantsList(true, 'x')).toBe(true);
    expect(wantsList(['vip'], 'vip')).toBe(true);
    expect(wantsList(['vip'], 'x')).toBe(false);
    expect(wantsList(false, 'x')).toBe(false);
  });
});
