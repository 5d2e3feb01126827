import { createHash } from 'node:crypto';
import pino from 'pino';
import type { Logger } from 'pino';
import { envSetting } from '../config/env';
import { ConfigError } from '../errors';
import { prettyDestination } from './pretty';

export type { Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object: secrets never reach a log line. */
const REDACT = [
  '*.accessToken',
  '*.apiKey',
  '*.clientSecret',
  '*.webhookSecret',
  '*.trackToken',
  '*.writeKey',
  '*.serverKey',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'config.connectors.*.accessToken',
  'config.connectors.*.apiKey',
];

/**
 * How an `err` shows in a log line: its real class (`StoreError`, `SqliteError` …), code, message,
 * hint and stack. pino's default serializer names a plain object's class `Object`, so summaries
 * already made by the caller (plain objects) pass through as they are.
 */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as Error & { code?: unknown; hint?: unknown };
  return {
    type: e.name && e.name !== 'Error' ? e.name : e.constructor.name,
    message: e.message,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(typeof e.hint === 'string' ? { hint: e.hint } : {}),
    ...(e.cause instanceof Error ? { cause: serializeError(e.cause) } : {}),
    stack: e.stack,
  };
}

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
    {
      level: options.level ?? envSetting('SEGSYNC_LOG_LEVEL') ?? 'warn',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: undefined,
      serializers: { err: serializeError },
    },
    (format === 'pretty' ? prettyDestination(destination, color) : destination) as pino.DestinationStream,
  );
}

/** An email as logs show it: a short hash, so logs carry no personal data but still correlate. */
export function hashEmail(email: string): string {
  return `email:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 12)}`;
}
