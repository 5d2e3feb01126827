import fc from 'fast-check';
import type { FieldValue } from '../../../src/model/types';
import { AnswerTable } from '../../../src/rules/answer-table';
import { isDefault, sameAnswer } from '../../../src/rules/answers';

const answer: fc.Arbitrary<FieldValue | undefined> = fc.oneof(
  fc.constantFrom<FieldValue | undefined>(undefined, null, false, true, 0, -0, '', 'lapsed', 'engaged', 1.5, -3),
  fc.double({ noNaN: true }),
  fc.string({ maxLength: 3 }),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 2 })), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }),
);

describe('AnswerTable', () => {
  it('answers `same` and `isMember` exactly as sameAnswer and isDefault do on the stored value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 40 }), answer), { maxLength: 60 }),
        fc.array(answer, { minLength: 1, maxLength: 10 }),
        (writes, probes) => {
          const table = new AnswerTable([true, false, true], 8);
          const model = new Map<string, FieldValue | undefined>();
          for (const [seg, id, v] of writes) {
            table.set(seg, id, v);
            model.set(`${seg}:${id}`, v);
          }
          for (let seg = 0; seg < 3; seg++) {
            for (let id = 0; id <= 45; id++) {
              const stored = model.get(`${seg}:${id}`);
              expect(sameAnswer(table.get(seg, id), stored)).toBe(true);
              expect(table.isMember(seg, id)).toBe(!isDefault(stored));
              for (const p of probes) if (p !== undefined) expect(table.same(seg, id, p)).toBe(sameAnswer(stored, p));
            }
          }
        },
      ),
    );
  });

  it('keeps strings past the dictionary cap as values, still compared exactly', () => {
    const table = new AnswerTable([true], 4);
    for (let id = 0; id < 70_000; id++) table.set(0, id, `v${id}`);
    expect(table.get(0, 69_999)).toBe('v69999');
    expect(table.same(0, 69_999, 'v69999')).toBe(true);
    expect(table.same(0, 69_999, 'v1')).toBe(false);
    table.set(0, 69_999, null);
    expect(table.get(0, 69_999)).toBeUndefined();
  });

  it('rebuilds a range from its dump (what a sweep worker receives)', () => {
    const table = new AnswerTable([true, false], 100);
    const values: FieldValue[] = [true, 3.25, 'engaged', { a: 1 }, ['x'], null, 'engaged', 0];
    values.forEach((v, k) => {
      table.set(0, 10 + k, v);
      table.set(1, 50 + k, v);
    });
    table.set(0, 70, { outside: true });
    const part = AnswerTable.fromDump(table.dumpRange(10, 60))!;
    expect(part.length).toBe(50);
    expect(part.get(0, 70)).toBeUndefined();
    for (let id = 0; id < 100; id++) {
      if (id < 10 || id >= 60) {
        expect(part.get(0, id)).toBeUndefined();
        continue;
      }
      expect(part.get(0, id)).toEqual(table.get(0, id));
      expect(part.get(1, id)).toEqual(table.get(1, id));
    }
    part.set(0, 12, 'new');
    expect(part.get(0, 12)).toBe('new');
    expect(table.get(0, 12)).toBe('engaged');
  });
});
