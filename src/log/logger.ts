import { createHash } from 'node:crypto';
import pino from 'pino';
import type { Logger } from 'pino';
import { envSetting } from '../config/env';
import { ConfigError } from '../errors';
import { prettyDestination } from './pretty';

export type { Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object: secrets never reach a log line. */
const REDACT = [
  '*.accessToken', '*.apiKey', '*.clientSecret', '*.webhookSecret', '*.trackToken', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'config.connectors.*.accessToken', 'config.connectors.*.apiKey',
];

export type LogFormat = 'json' | 'pretty';

/**
 * The format when none is asked for: readable lines on a terminal, JSON lines everywhere else (files,
 * pipes, journald, CI), where a machine reads them.
 */
export function defaultLogFormat(destination: NodeJS.WritableStream = process.stderr): LogFormat {
  return (destination as { isTTY?: boolean }).isTTY ? 'pretty' : 'json';
}

/** $SEGSYNC_LOG_FORMAT, checked. */
function envLogFormat(): LogFormat | undefined {
  const value = envSetting('SEGSYNC_LOG_FORMAT');
  if (value === undefined || value === 'json' || value === 'pretty') return value;
  throw new ConfigError(`SEGSYNC_LOG_FORMAT=${value} is not a log format`, { hint: 'set it to pretty or json, or unset it' });
}

/**
 * The process logger on stderr (stdout is for command output), secrets redacted: JSON lines, or
 * readable lines (`format: 'pretty'`, the default on a terminal).
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream; format?: LogFormat } = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const format = options.format ?? envLogFormat() ?? defaultLogFormat(destination);
  const color = format === 'pretty' && (destination as { isTTY?: boolean }).isTTY === true && !process.env.NO_COLOR;
  return pino(
    { level: options.level ?? envSetting('SEGSYNC_LOG_LEVEL') ?? 'warn', redact: { paths: REDACT, censor: '[redacted]' }, base: undefined },
    (format === 'pretty' ? prettyDestination(destination, color) : destination) as pino.DestinationStream,
  );
}

/** An email as logs show it: a short hash, so logs carry no personal data but still correlate. */
export function hashEmail(email: string): string {
  return `email:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 12)}`;
}
