import { createHash } from 'node:crypto';
import pino from 'pino';
import type { Logger } from 'pino';
import { envSetting } from '../config/env';

export type { Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log object: secrets never reach a log line. */
const REDACT = [
  '*.accessToken', '*.apiKey', '*.clientSecret', '*.webhookSecret', '*.trackToken', '*.writeKey', '*.serverKey', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'config.connectors.*.accessToken', 'config.connectors.*.apiKey',
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

/** The process logger: JSON lines on stderr (stdout is for command output), secrets redacted. */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? envSetting('SEGSYNC_LOG_LEVEL') ?? 'warn',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: undefined,
      serializers: { err: serializeError },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** An email as logs show it: a short hash, so logs carry no personal data but still correlate. */
export function hashEmail(email: string): string {
  return `email:${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 12)}`;
}
