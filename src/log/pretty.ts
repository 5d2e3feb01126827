/**
 * Log lines for a person at a terminal: `12:03:04 WARN  message  key=value …`. Written by hand (a dozen
 * lines) because pino-pretty is not a dependency, and pino's own options only shape JSON.
 */
import { styleText } from 'node:util';

const LEVELS: Record<number, { name: string; color: Parameters<typeof styleText>[0] }> = {
  10: { name: 'TRACE', color: 'gray' },
  20: { name: 'DEBUG', color: 'gray' },
  30: { name: 'INFO', color: 'green' },
  40: { name: 'WARN', color: 'yellow' },
  50: { name: 'ERROR', color: 'red' },
  60: { name: 'FATAL', color: 'red' },
};

function valueText(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** One pino JSON line as a human-readable line (the input unchanged when it is not a pino line). */
export function prettyLine(line: string, color: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, ...rest } = record;
  const lv = LEVELS[Number(level)] ?? { name: String(level), color: 'white' as const };
  const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '';
  const err = rest.err as { message?: unknown; stack?: unknown } | undefined;
  delete rest.err;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${valueText(v)}`)
    .join(' ');
  const paint = (format: Parameters<typeof styleText>[0], text: string): string => (color ? styleText(format, text) : text);
  const parts = [paint('dim', at), paint(lv.color, lv.name.padEnd(5)), typeof msg === 'string' ? msg : ''];
  if (fields) parts.push(paint('dim', fields));
  const detail = err?.message ? `\n  ${String(err.message)}` : '';
  return `${parts.filter(Boolean).join(' ')}${detail}\n`;
}

/** A destination for pino that writes each line to `out` in the pretty form. */
export function prettyDestination(out: NodeJS.WritableStream, color: boolean): { write(line: string): boolean } {
  return { write: (line) => out.write(prettyLine(line.trimEnd(), color)) };
}
