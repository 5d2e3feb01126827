import { diffLines } from '../../../src/preview/text-diff';

describe('text diff between scenarios', () => {
  it('keeps common lines and marks what only one side has', () => {
    expect(diffLines('Hi Ada,\nVIP\nBye', 'Hi there,\nBye\nP.S.')).toEqual([
      { op: '-', text: 'Hi Ada,' },
      { op: '-', text: 'VIP' },
      { op: '+', text: 'Hi there,' },
      { op: ' ', text: 'Bye' },
      { op: '+', text: 'P.S.' },
    ]);
  });

  it('finds no change between equal texts', () => {
    expect(diffLines('a\nb', 'a\nb').every((l) => l.op === ' ')).toBe(true);
  });
});
