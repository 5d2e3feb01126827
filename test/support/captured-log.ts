/** A logger whose lines are kept for a test to read. */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/logger';
import type { Logger } from '../../src/log/logger';

/** A JSON-lines logger at `level` and everything it has written so far. */
export function capturedLogger(level: 'debug' | 'info' | 'warn' | 'error'): { logger: Logger; text(): string } {
  let text = '';
  const logger = createLogger({
    level,
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString('utf8');
        done();
      },
    }),
  });
  return { logger, text: () => text };
}
