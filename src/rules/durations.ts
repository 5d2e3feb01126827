/**
 * Duration literals (`30m`, `24h`, `7d`, `1h30m`): segsync's one addition to CEL's syntax. CEL has no
 * such literal, so before parsing each one is rewritten to `duration("<seconds>s")`, and positions in
 * the rewritten text are mapped back to the rule as the user wrote it.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;

/** Milliseconds of a duration written as `1h30m`, `7d`, `90s`, `250ms` (also CEL's own `-1.5h`); undefined if malformed. */
export function parseDurationText(text: string): number | undefined {
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  if (!WHOLE.test(body)) return undefined;
  let ms = 0;
  PART.lastIndex = 0;
  for (let m = PART.exec(body); m; m = PART.exec(body)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(negative ? -ms : ms);
}

/** A duration in the shortest readable form (`1d2h`, `30m`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return sign + out;
}

interface Replacement {
  origStart: number;
  origEnd: number;
  newStart: number;
  newEnd: number;
}

/** The rule text CEL will parse, and the way back to positions in the original. */
export interface RewrittenRule {
  text: string;
  /** Maps an offset in `text` to the offset in the original rule. */
  originalOffset(offset: number): number;
}

const IDENT = /[A-Za-z0-9_]/;

/** Rewrites duration literals outside string literals to `duration("Ns")` calls. */
export function rewriteDurationLiterals(rule: string): RewrittenRule {
  const replacements: Replacement[] = [];
  let out = '';
  let i = 0;
  while (i < rule.length) {
    const ch = rule[i]!;
    const quoteEnd = stringLiteralEnd(rule, i);
    if (quoteEnd > i) {
      out += rule.slice(i, quoteEnd);
      i = quoteEnd;
      continue;
    }
    if (/\d/.test(ch) && (i === 0 || (!IDENT.test(rule[i - 1]!) && rule[i - 1] !== '.'))) {
      const m = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+/.exec(rule.slice(i));
      const after = m ? rule[i + m[0].length] : undefined;
      if (m && (after === undefined || !IDENT.test(after))) {
        const ms = parseDurationText(m[0])!;
        const call = `duration("${ms / 1000}s")`;
        replacements.push({ origStart: i, origEnd: i + m[0].length, newStart: out.length, newEnd: out.length + call.length });
        out += call;
        i += m[0].length;
        continue;
      }
      // A plain number: copy it whole so its digits are not mistaken for a literal's start.
      const num = /^[0-9A-Za-z_.]+/.exec(rule.slice(i))![0];
      out += num;
      i += num.length;
      continue;
    }
    out += ch;
    i++;
  }
  return {
    text: out,
    originalOffset(offset: number): number {
      let delta = 0;
      for (const r of replacements) {
        if (offset < r.newStart) break;
        if (offset < r.newEnd) return r.origStart + Math.min(offset - r.newStart, r.origEnd - r.origStart - 1);
        delta = r.newEnd - r.origEnd;
      }
      return offset - delta;
    },
  };
}

/** If a string literal (CEL quoting: ', ", triple quotes, r/b prefixes) starts at `i`, the index after it; else `i`. */
function stringLiteralEnd(s: string, i: number): number {
  let j = i;
  let raw = false;
  while (j < s.length && /[rRbB]/.test(s[j]!) && j - i < 2) {
    if (s[j] === 'r' || s[j] === 'R') raw = true;
    j++;
  }
  if (j > i && i > 0 && IDENT.test(s[i - 1]!)) return i;
  const q = s[j];
  if (q !== '"' && q !== "'") return i;
  const triple = s.startsWith(q.repeat(3), j);
  const close = triple ? q.repeat(3) : q;
  let k = j + close.length;
  while (k < s.length) {
    if (!raw && s[k] === '\\') {
      k += 2;
      continue;
    }
    if (s.startsWith(close, k)) return k + close.length;
    if (!triple && s[k] === '\n') return s.length;
    k++;
  }
  return s.length;
}
