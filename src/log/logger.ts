import { createHash } from 'node:crypto';
import pino from 'pino';
import type { Logger } from 'pino';
import { envSetting } from '../config/env';

export type { Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object: secrets never reach a log line. */
const REDACT = [
  '*.accessToken', '*.apiKey', '*.clientSecret', '*.webhookSecret', '*.trackToken', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'config.connectors.*.accessToken', 'config.connectors.*.apiKey',
];

/** The process logger: JSON lines on stderr (stdout is for command output), secrets redacted. */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    { level: options.level ?? envSetting('SEGSYNC_LOG_LEVEL') ?? 'warn', redact: { paths: REDACT, censor: '[redacted]' }, base: undefined },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** An email as logs show it: a short hash, so logs carry no personal data but still correlate. */
export function hashEmail(email: string): string {
  return `email:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 12)}`;
}
