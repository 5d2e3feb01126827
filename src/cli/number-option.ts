/** Parsing of numeric command-line options, one way for every command. */
import { UsageError } from '../errors';

export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean;
  /** Smallest value allowed (inclusive). */
  min?: number;
  /** Largest value allowed (inclusive). */
  max?: number;
  /** Above zero (0 refused). */
  positive?: boolean;
}

/** A commander parser for `flag`: the value as a number, or a usage error naming the flag and what it takes. */
export function numberOption(flag: string, rule: NumberRule): (value: string) => number {
  const kind = `${rule.positive ? 'positive ' : ''}${rule.integer ? 'whole number' : 'number'}`;
  const range =
    rule.min !== undefined && rule.max !== undefined ? ` from ${rule.min} to ${rule.max}` : rule.min !== undefined ? ` of at least ${rule.min}` : '';
  return (value) => {
    const n = value.trim() === '' ? Number.NaN : Number(value);
    const ok =
      Number.isFinite(n) &&
      (!rule.integer || Number.isInteger(n)) &&
      (!rule.positive || n > 0) &&
      (rule.min === undefined || n >= rule.min) &&
      (rule.max === undefined || n <= rule.max);
    if (!ok) throw new UsageError(`${flag} ${value} is not a ${kind}${range}`, { hint: `give ${flag} a ${kind}${range}` });
    return n;
  };
}
