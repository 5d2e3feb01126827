import { parseConfig } from '../../../src/config/load';
import { RuleSetError } from '../../../src/rules/check';
import type { Knowledge } from '../../../src/rules/check';
import { RuleSet, inlineSources, sourcesFromConfig } from '../../../src/rules/ruleset';

const knowledge: Knowledge = {
  eventNames: ['Placed Order', 'Added to Cart', 'Viewed Product'],
  eventProperties: new Map([['Placed Order', new Set(['value', 'currency'])]]),
  propertyNames: ['country', 'plan'],
};

function issues(yaml: string, k: Knowledge = knowledge): RuleSetError {
  const loaded = parseConfig(yaml, 'segsync.yaml', { env: {} });
  try {
    RuleSet.compile(sourcesFromConfig(loaded), k);
  } catch (err) {
    if (err instanceof RuleSetError) return err;
    throw err;
  }
  throw new Error('expected the rules not to compile');
}

describe('rule errors point at file, line and column in segsync.yaml', () => {
  it('locates a misspelt event name inside a block scalar and suggests the seen one', () => {
    const err = issues(
      ['version: 1', 'segments:', '  buyers:', '    rule: |', '      exists("Added to Cart")', '        && count("Placed Ordr", 7d) > 0', ''].join('\n'),
    );
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({
      location: { file: 'segsync.yaml', line: 6, column: 18 },
      message: 'unknown event "Placed Ordr"',
      hint: 'did you mean "Placed Order"?',
    });
  });

  it('maps positions after a duration literal back to the text as written', () => {
    const err = issues(['version: 1', 'segments:', '  x:', '    rule: count("Viewed Product", 48h) >= 3 && cuont("Placed Order") > 1', ''].join('\n'));
    expect(err.issues[0]).toMatchObject({ location: { line: 4, column: 48 }, message: 'segment "x": unknown function cuont()', hint: 'did you mean count()?' });
  });

  it('checks event properties against what the store has seen', () => {
    const err = issues(['version: 1', 'segments:', '  x:', '    rule: sum("Placed Order", "valeu") > 10.0', ''].join('\n'));
    expect(err.issues[0]).toMatchObject({ location: { line: 4, column: 31 }, hint: 'did you mean "value"?' });
  });

  it('checks contact properties against declared fields and stored names', () => {
    const err = issues(['version: 1', 'segments:', '  x:', '    rule: contact.contry == "DE"', ''].join('\n'));
    expect(err.issues[0]).toMatchObject({ message: 'unknown contact property "contry"', hint: 'did you mean "country"?' });
  });

  it('reports unknown segments, cycles, non-boolean flags and int/double mixing, all at once', () => {
    const err = issues(
      [
        'version: 1',
        'segments:',
        '  a:',
        '    rule: segments.b',
        '  b:',
        '    rule: segments.a',
        '  c:',
        '    rule: segments.vipp',
        '  vip:',
        '    rule: count("Placed Order")',
        '  ltv:',
        '    type: value',
        '    rule: sum("Placed Order", "value") + 1',
        '',
      ].join('\n'),
    );
    const messages = err.issues.map((i) => `${i.location.line}: ${i.message}`);
    expect(messages).toEqual([
      '4: segments refer to each other in a cycle: a → b → a',
      '8: unknown segment "vipp"',
      '10: segment "vip" is a flag but its rule gives int, not bool',
      '13: segment "ltv": no such overload: double + int',
    ]);
    expect(err.issues[1]!.hint).toBe('did you mean segments.vip?');
    expect(err.describe()).toContain('segsync.yaml:8:');
  });

  it('requires literal event names, windows and filters', () => {
    const err = issues(['version: 1', 'segments:', '  x:', '    rule: count("Placed " + "Order", duration(contact.plan)) > 1', ''].join('\n'));
    expect(err.issues.map((i) => i.message)).toEqual([
      'count(): the event name must be a string literal',
      'count(): the window must be a duration literal such as 24h or 7d',
    ]);
  });

  it('warns (without failing) about an event name nothing resembles yet', () => {
    const rs = RuleSet.compile(inlineSources({ x: 'exists("Subscribed to Webinar")' }), knowledge);
    expect(rs.warnings).toMatchObject([{ message: 'event "Subscribed to Webinar" has not been seen yet' }]);
  });

  it('rejects constructs outside the supported subset at their position', () => {
    expect(() => RuleSet.compile(inlineSources({ x: 'b"abc" == b"abc"' }))).toThrow(/a bytes literal is not supported/);
  });
});

describe('duration literals', () => {
  it('accepts 30m, 24h, 7d, 1h30m, 250ms and duration("7d")', () => {
    const rs = RuleSet.compile(
      inlineSources({ x: '30m + 24h + 7d + 1h30m + 250ms == duration("7d") + duration("25h") + duration("60m") + duration("250ms")' }),
    );
    expect(rs.segments[0]!.type).toBe('bool');
  });

  it('leaves durations inside strings alone', () => {
    const rs = RuleSet.compile(inlineSources({ x: { rule: '"24h" + \'7d\' + r"1h" + string(24h > 23h)', type: 'value' } }));
    const ev = rs.evaluate(
      { id: 1, email: 'e@x.io', properties: {}, tags: [], consent: '', createdAt: 0 },
      { names: new Int32Array(0), times: new Float64Array(0), numeric: [], categorical: [] },
      0,
      0,
      0,
    );
    expect(ev.values[0]).toBe('24h7d1htrue');
  });
});

describe('hints for the usual slips', () => {
  it("suggests segsync's event function for an abbreviation (cnt → count, not int)", () => {
    const err = issues(['version: 1', 'segments:', '  s:', '    rule: cnt("Placed Order") > 1', ''].join('\n'));
    expect(err.issues[0]).toMatchObject({ message: 'segment "s": unknown function cnt()', hint: 'did you mean count()?' });
    const near = issues(['version: 1', 'segments:', '  s:', '    rule: exist("Placed Order")', ''].join('\n'));
    expect(near.issues[0]!.hint).toBe('did you mean exists()?');
  });

  it('names a token the parser did not expect as it is written, not by its kind', () => {
    const missing = issues(['version: 1', 'segments:', '  s:', '    rule: count("Placed Order") >= && exists("Added to Cart")', ''].join('\n'));
    expect(missing.issues[0]).toMatchObject({
      location: { line: 4, column: 36 },
      message: 'segment "s": "&&" was not expected here',
      hint: expect.stringContaining('something is missing before it'),
    });
    const open = issues(['version: 1', 'segments:', '  s:', '    rule: (count("Placed Order") >= 2', ''].join('\n'));
    expect(open.issues[0]!.message).toBe('segment "s": expected ")", found the end of the rule');
    // cel-js stops inside the word ("Unexpected character"): the hint says how "and" is written.
    const word = issues(['version: 1', 'segments:', '  s:', '    rule: count("Placed Order") >= 2 and exists("Added to Cart")', ''].join('\n'));
    expect(word.issues[0]!.hint).toContain('and, or, not are written &&, ||, !');
  });

  it('says how durations are written when one is spelt with a unit word, pointing at it', () => {
    const err = issues(['version: 1', 'segments:', '  s:', '    rule: now - created_at < 180days', ''].join('\n'));
    expect(err.issues[0]).toMatchObject({ location: { line: 4, column: 30 }, hint: expect.stringContaining('durations are written 180d') });
    const months = issues(['version: 1', 'segments:', '  s:', '    rule: count("Placed Order", 6months) > 1', ''].join('\n'));
    expect(months.issues[0]!.hint).toContain('write 180d');
  });
});

describe('string() of a timestamp or duration', () => {
  it('type-checks, as CEL defines it', () => {
    expect(() => RuleSet.compile(inlineSources({ s: { rule: 'string(now) + " " + string(24h)', type: 'value' } }))).not.toThrow();
  });
});
