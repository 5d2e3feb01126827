/**
 * Reading the time of an event or a change: epoch milliseconds, or ISO 8601 text with a zone. A
 * time must be real (no 30 February) and sane (from 1970 up to a year ahead), because a wrong one
 * moves a contact in and out of time-based segments and is pushed to every ESP.
 *
 * Hand-written rather than `Date.parse` (which reads a time without a zone as local time and rolls
 * 30 February over to 2 March) or luxon (which accepts many more formats than an API should).
 */
import { ValidationError } from '../errors';

/** Epoch ms below this are almost surely seconds: refused rather than read as 1970. */
const SMALLEST_MS = 100_000_000_000;

/** How far ahead of now a time may be. */
export const MAX_FUTURE_MS = 366 * 24 * 3_600_000;

/** `YYYY-MM-DD`, optionally `THH:MM[:SS[.fff]]` and then a zone (`Z` or `±HH[:MM]`). */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

const HINT = 'give epoch milliseconds or ISO 8601 with a zone, e.g. 2026-05-01T12:00:00Z';

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Reads ISO 8601 text strictly (any year); a date alone is midnight UTC. Throws `ValidationError` saying what is wrong. */
export function parseIso(text: string, field: string): number {
  const m = ISO.exec(text);
  if (!m) throw new ValidationError(`"${field}" is not a date in ISO 8601: ${JSON.stringify(text.slice(0, 60))}`, { hint: HINT });
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new ValidationError(`"${field}" ${JSON.stringify(text)} is not a real date`, { hint: 'check the month and the day (30 February does not exist)' });
  }
  if (h === undefined) return Date.UTC(year, month - 1, day);
  if (zone === undefined) {
    throw new ValidationError(`"${field}" ${JSON.stringify(text)} has no time zone`, {
      hint: 'add Z (UTC) or an offset such as +02:00; segsync never guesses the zone',
    });
  }
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (hour > 23 || minute > 59 || second > 59) {
    throw new ValidationError(`"${field}" ${JSON.stringify(text)} is not a real time of day`, { hint: 'hours 00-23, minutes and seconds 00-59' });
  }
  const ms = frac === undefined ? 0 : Math.trunc(Number(`0.${frac}`) * 1000);
  let offset = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 18 || om > 59)
      throw new ValidationError(`"${field}" ${JSON.stringify(text)} has an impossible zone offset`, { hint: 'offsets run from -18:00 to +18:00' });
    offset = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
}

function inWindow(t: number, field: string, now: number, shown: string): number {
  if (t < 0) throw new ValidationError(`"${field}" ${shown} is before 1970`, { hint: HINT });
  if (t > now + MAX_FUTURE_MS)
    throw new ValidationError(`"${field}" ${shown} is more than a year in the future`, {
      hint: 'check the clock and the unit of the sender; future times are refused',
    });
  return t;
}

/** Reads a timestamp given as ISO 8601 text with a zone or as epoch milliseconds, within 1970 .. now + 1 year. */
export function parseTime(value: unknown, field = 'time', now: number = Date.now()): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValidationError(`"${field}" is not a finite number`, { hint: HINT });
    if (Math.abs(value) < SMALLEST_MS) {
      throw new ValidationError(`"${field}" ${value} looks like epoch seconds`, { hint: 'give epoch milliseconds or an ISO 8601 date' });
    }
    return inWindow(Math.trunc(value), field, now, String(value));
  }
  if (typeof value === 'string' && value.trim() !== '') {
    const text = value.trim();
    if (/^-?\d+(\.\d+)?$/.test(text)) return parseTime(Number(text), field, now);
    return inWindow(parseIso(text, field), field, now, JSON.stringify(text));
  }
  throw new ValidationError(`missing "${field}"`, { hint: 'give the event time as ISO 8601 or epoch milliseconds' });
}
