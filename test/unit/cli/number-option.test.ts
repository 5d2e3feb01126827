import { numberOption } from '../../../src/cli/number-option';
import { UsageError } from '../../../src/errors';

describe('numberOption', () => {
  it('reads numbers within the rule and refuses the rest, naming the flag and what it takes', () => {
    const port = numberOption('--port', { integer: true, min: 0, max: 65_535 });
    expect(port('0')).toBe(0);
    expect(port('8787')).toBe(8787);
    for (const bad of ['', ' ', 'abc', '80.5', '-1', '65536', '1e9', 'Infinity']) expect(() => port(bad)).toThrow(UsageError);
    expect(() => port('70000')).toThrow('--port 70000 is not a whole number from 0 to 65535');
    const seconds = numberOption('--duration', { positive: true });
    expect(seconds('2.5')).toBe(2.5);
    expect(() => seconds('0')).toThrow('--duration 0 is not a positive number');
  });
});
