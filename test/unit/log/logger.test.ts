import { Writable } from 'node:stream';
import { createLogger } from '../../../src/log/logger';
import { prettyLine } from '../../../src/log/pretty';

/** A stream that keeps what is written, optionally claiming to be a terminal. */
function sink(isTTY: boolean): Writable & { text: string; isTTY: boolean } {
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.text += chunk.toString();
      done();
    },
  }) as Writable & { text: string; isTTY: boolean };
  out.text = '';
  out.isTTY = isTTY;
  return out;
}

describe('logs', () => {
  const saved = process.env.SEGSYNC_LOG_FORMAT;
  afterEach(() => {
    if (saved === undefined) delete process.env.SEGSYNC_LOG_FORMAT;
    else process.env.SEGSYNC_LOG_FORMAT = saved;
  });

  it('are readable lines on a terminal, without secrets', () => {
    delete process.env.SEGSYNC_LOG_FORMAT;
    const out = sink(true);
    process.env.NO_COLOR = '1';
    createLogger({ destination: out }).warn(
      { what: 'contacts.getPage', attempt: 2, connector: { apiKey: 'secret-value' }, note: 'two words' },
      'hubspot: transient failure',
    );
    delete process.env.NO_COLOR;
    expect(out.text).toMatch(
      /^\d\d:\d\d:\d\d WARN {2}hubspot: transient failure what=contacts\.getPage attempt=2 connector=\{"apiKey":"\[redacted\]"\} note="two words"\n$/,
    );
  });

  it('are JSON lines when not on a terminal, or when asked', () => {
    delete process.env.SEGSYNC_LOG_FORMAT;
    const pipe = sink(false);
    createLogger({ destination: pipe }).warn({ attempt: 1 }, 'x');
    expect(JSON.parse(pipe.text)).toMatchObject({ level: 40, msg: 'x', attempt: 1 });

    const tty = sink(true);
    createLogger({ destination: tty, format: 'json' }).warn('y');
    expect(JSON.parse(tty.text)).toMatchObject({ msg: 'y' });

    process.env.SEGSYNC_LOG_FORMAT = 'json';
    const env = sink(true);
    createLogger({ destination: env }).warn('z');
    expect(JSON.parse(env.text)).toMatchObject({ msg: 'z' });

    process.env.SEGSYNC_LOG_FORMAT = 'yaml';
    expect(() => createLogger({ destination: sink(true) })).toThrow('SEGSYNC_LOG_FORMAT=yaml is not a log format');
  });

  it("show an error's message under its line, and pass through text that is not a log record", () => {
    const line = JSON.stringify({ level: 50, time: Date.UTC(2026, 0, 1, 9, 30, 5), msg: 'push failed', err: { message: 'HTTP 500' } });
    expect(prettyLine(line, false)).toBe('09:30:05 ERROR push failed\n  HTTP 500\n');
    expect(prettyLine('not json', false)).toBe('not json');
  });
});
