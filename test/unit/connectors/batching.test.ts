import { EspPermanentError, EspTransientError } from '../../../src/errors';
import { sendIsolating, splitChunks } from '../../../connectors/batching';
import type { IsolatedCall } from '../../../connectors/batching';

describe('splitChunks', () => {
  it('cuts by count, keeps order, and yields nothing for nothing', () => {
    expect(splitChunks([1, 2, 3, 4, 5], { maxItems: 2 })).toEqual([[1, 2], [3, 4], [5]]);
    expect(splitChunks([], { maxItems: 2 })).toEqual([]);
  });

  it('cuts by bytes with the envelope counted, and sends an oversized item alone', () => {
    const sizes = [40, 40, 30, 200, 10];
    expect(splitChunks(sizes, { maxItems: 10, maxBytes: 100, sizeOf: (n) => n, envelopeBytes: 20 })).toEqual([[40, 40], [30], [200], [10]]);
  });
});

const badRequest = (): EspPermanentError => new EspPermanentError('fake: the batch was refused', { esp: 'fake', status: 400 });

/** A vendor that refuses a whole call holding any item of `bad`, and records every call, answer and failure. */
function vendor(bad: Set<string>, overrides: Partial<IsolatedCall<string, string[]>> = {}) {
  const calls: string[][] = [];
  const written: string[] = [];
  const failed = new Map<string, unknown>();
  const steps: IsolatedCall<string, string[]> = {
    call: async (items) => {
      calls.push(items);
      if (items.some((i) => bad.has(i))) throw badRequest();
      return items.map((i) => `ok:${i}`);
    },
    then: (_items, answer) => void written.push(...answer),
    fail: (items, err) => items.forEach((i) => failed.set(i, err)),
    ...overrides,
  };
  return { steps, calls, written, failed };
}

describe('sendIsolating', () => {
  it('sends everything in one call when the vendor takes it', async () => {
    const v = vendor(new Set());
    await sendIsolating(['a', 'b', 'c'], v.steps);
    expect(v.calls).toEqual([['a', 'b', 'c']]);
    expect(v.written).toEqual(['ok:a', 'ok:b', 'ok:c']);
    await sendIsolating([], v.steps);
    expect(v.calls).toHaveLength(1);
  });

  it('halves a batch refused as a whole, in order, until the bad item fails alone', async () => {
    const v = vendor(new Set(['c']));
    await sendIsolating(['a', 'b', 'c', 'd', 'e'], v.steps);
    expect(v.calls).toEqual([['a', 'b', 'c', 'd', 'e'], ['a', 'b', 'c'], ['a', 'b'], ['c'], ['d', 'e']]);
    expect(v.written).toEqual(['ok:a', 'ok:b', 'ok:d', 'ok:e']);
    expect([...v.failed.keys()]).toEqual(['c']);
    expect(v.failed.get('c')).toBeInstanceOf(EspPermanentError);
  });

  it('fails the items a refusal names with their own errors and sends the rest again without halving', async () => {
    const own = new EspPermanentError('fake: d is not an email', { esp: 'fake', status: 400 });
    const v = vendor(new Set(['d']), { named: (_err, items) => new Map(items.includes('d') ? [[items.indexOf('d'), own]] : []) });
    await sendIsolating(['a', 'b', 'c', 'd', 'e'], v.steps);
    expect(v.calls).toEqual([
      ['a', 'b', 'c', 'd', 'e'],
      ['a', 'b', 'c', 'e'],
    ]);
    expect(v.failed).toEqual(new Map([['d', own]]));
    expect(v.written).toEqual(['ok:a', 'ok:b', 'ok:c', 'ok:e']);
  });

  it('fails every item of the call, unsplit, for any error but a 400', async () => {
    const down = new EspTransientError('fake: 503', { esp: 'fake', status: 503 });
    const refused = new EspPermanentError('fake: 403', { esp: 'fake', status: 403 });
    for (const err of [down, refused, new Error('socket hang up')]) {
      const v = vendor(new Set(), {
        call: async (items) => {
          v.calls.push(items);
          throw err;
        },
      });
      await sendIsolating(['a', 'b'], v.steps);
      expect(v.calls).toEqual([['a', 'b']]);
      expect(v.failed).toEqual(
        new Map([
          ['a', err],
          ['b', err],
        ]),
      );
    }
  });
});
