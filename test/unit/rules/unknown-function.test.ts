/**
 * A function the checker accepts but the compiler has no branch for is a compile error at its place in
 * segsync.yaml, never silently another function's meaning (the compiler's switch once gave any
 * unknown event function after/within/none_within behaviour).
 */
import type * as Functions from '../../../src/rules/functions';
import type * as Ruleset from '../../../src/rules/ruleset';
import type * as Load from '../../../src/config/load';
import type * as Check from '../../../src/rules/check';

describe('an event function with no compile branch', () => {
  it('is a located rule error, not after() in disguise', () => {
    jest.isolateModules(() => {
      // A function added to the list the checker reads, as a contributor might, without compiling it.
      jest.doMock('../../../src/rules/functions', () => {
        const real = jest.requireActual<typeof Functions>('../../../src/rules/functions');
        const after = real.EVENT_FUNCTIONS.find((f) => f.name === 'after')!;
        return { ...real, EVENT_FUNCTIONS: [...real.EVENT_FUNCTIONS, { ...after, name: 'sometime_after', doc: 'a function nobody compiled' }] };
      });
      const { parseConfig } = jest.requireActual<typeof Load>('../../../src/config/load');
      const { RuleSet, sourcesFromConfig } = jest.requireActual<typeof Ruleset>('../../../src/rules/ruleset');
      const { RuleSetError } = jest.requireActual<typeof Check>('../../../src/rules/check');
      const yaml = ['version: 1', 'segments:', '  odd:', '    rule: sometime_after("Placed Order", "Viewed Product")', ''].join('\n');
      const knowledge = { eventNames: ['Placed Order', 'Viewed Product'], eventProperties: new Map(), propertyNames: [] };
      let caught: unknown;
      try {
        RuleSet.compile(sourcesFromConfig(parseConfig(yaml, 'segsync.yaml', { env: {} })), knowledge);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(RuleSetError);
      const issue = (caught as InstanceType<typeof RuleSetError>).issues[0];
      expect(issue).toMatchObject({ message: expect.stringContaining('sometime_after() is not supported'), location: { file: 'segsync.yaml', line: 4 } });
    });
  });
});
