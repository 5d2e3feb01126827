import { z } from 'zod';
import { readItems, sameSecret } from '../../../connectors/webhook-checks';

describe('sameSecret', () => {
  it('compares secrets and signatures of any length, empty included, without throwing', () => {
    expect(sameSecret('a', 'a')).toBe(true);
    expect(sameSecret('a', 'ab')).toBe(false);
    expect(sameSecret(Buffer.alloc(0), Buffer.from('c2lnbmVk', 'base64'))).toBe(false);
    expect(sameSecret(Buffer.from('c2lnbmVk', 'base64'), Buffer.from('signed'))).toBe(true);
  });
});

describe('readItems', () => {
  const schema = z.object({ id: z.number() });
  const read = (item: { id: number }): string => {
    if (item.id < 0) throw new Error('a negative id');
    return `#${item.id}`;
  };

  it('keeps the readable items and rejects each bad one alone, in item order, named by label and index', () => {
    const { read: ok, rejected } = readItems([{ id: 1 }, { id: 'x' }, { id: -1 }, 'junk', { id: 2 }], schema, 'fake webhook item', read);
    expect(ok).toEqual([
      { index: 0, value: '#1' },
      { index: 4, value: '#2' },
    ]);
    expect(rejected).toEqual([
      { index: 1, message: 'fake webhook item 1: id: Invalid input: expected number, received string' },
      { index: 2, message: 'fake webhook item 2: a negative id' },
      { index: 3, message: 'fake webhook item 3: : Invalid input: expected object, received string' },
    ]);
  });
});
