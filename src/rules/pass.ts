/**
 * The aggregate pass, generated as JS source for one plan: a `switch` on the event name whose cases
 * update exactly the aggregates that read that name, with every window, filter code, point value
 * and half-life written in as a literal and every result slot held in a local variable. A generic
 * loop over spec objects pays, per event and aggregate, for a dispatch on the kind, loads of the
 * spec's parameters and a store into the result array; the generated pass pays none of these, and
 * it is the hot loop of a full recompute.
 */
import type { EventColumns } from './aggregates';

/** One aggregate as the pass reads it. */
export interface PassSpec {
  /** 0 count, 1 sum, 2 max, 3 min, 4 first, 5 last, 6 firstAfter, 7 score, 8 firstAfter with ties not counting. */
  kind: number;
  window: number;
  /** Index into the numeric columns (sum, max, min); -1 otherwise. */
  numIdx: number;
  /** Filters: categorical column → accepted codes (AND across columns, OR within). */
  filters: [number, number[]][];
  /** Name code → points (score) or role bits (firstAfter: 1 = X, 2 = Y), else the name's position. */
  perName: Map<number, number>;
  halfLife: number;
}

/** Result slots per spec (their meaning per kind is in aggregates.ts). */
export const SLOTS = 4;

/**
 * Computes the aggregates over events [start, end) as of `now` into `out`. Slot 3 of every spec is
 * the earliest time after `now` it changes other than by a counted event leaving its window (which
 * the reader knows best: the oldest counted event for a count, the newest for `exists`): the first
 * future-dated event of a name it reads, or a score's next halving.
 */
export type Pass = (cols: EventColumns, start: number, end: number, now: number, out: Float64Array) => void;

/**
 * 0.5^k for the first few k, read instead of Math.pow per scored event (most events are a few
 * half-lives old). Powers of two are exact, so the table holds the very values Math.pow returns.
 */
const HALVINGS = Float64Array.from({ length: 64 }, (_, k) => Math.pow(0.5, k));

/** A number as a JS literal that reads back as the same double. */
export function num(x: number): string {
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (Number.isNaN(x)) return 'NaN';
  return Object.is(x, -0) ? '-0' : String(x);
}

/** Starting values of a spec's slots. */
function initial(kind: number): number[] {
  const times = (kind >= 4 && kind <= 6) || kind === 8;
  return [kind === 2 ? -Infinity : kind === 3 ? Infinity : times ? NaN : 0, kind === 6 || kind === 8 ? NaN : 0, NaN, Infinity];
}

/** The statements updating spec `s` for one event of name `code` at time `t`, index `i`. */
function update(spec: PassSpec, s: number, code: number): string {
  const x = (k: number): string => `s${s}_${k}`;
  const inWindow = spec.window === Infinity ? 'true' : `t > lo${s}`;
  switch (spec.kind) {
    case 0:
      return `if (${inWindow}) { if (${x(0)} === 0) ${x(2)} = t; ${x(0)}++; ${x(1)} = t; }`;
    case 1:
    case 2:
    case 3: {
      const fold = spec.kind === 1 ? `${x(0)} += v;` : `if (v ${spec.kind === 2 ? '>' : '<'} ${x(0)}) ${x(0)} = v;`;
      return `if (${inWindow}) { const v = num${spec.numIdx}[i]; if (v === v) { if (${x(1)} === 0) ${x(2)} = t; ${x(1)}++; ${fold} } }`;
    }
    case 4:
      return `if (${inWindow} && ${x(0)} !== ${x(0)}) ${x(0)} = t;`;
    case 5:
      return `if (${inWindow}) ${x(0)} = t;`;
    case 6:
    case 8: {
      // Slots: first X after the last Y, the last Y, the last X. Kind 6 counts an X at the same
      // millisecond as a Y as after it, whichever was stored first; kind 8 does not.
      const role = spec.perName.get(code)!;
      const tie = spec.kind === 6;
      let out = '';
      if (role & 2) out += tie ? `${x(1)} = t; ${x(0)} = ${x(2)} === t ? t : NaN; ` : `${x(1)} = t; ${x(0)} = NaN; `;
      if (role & 1) out += `${x(2)} = t; if (${x(0)} !== ${x(0)} && ${x(1)} === ${x(1)}${tie ? '' : ` && t > ${x(1)}`}) ${x(0)} = t;`;
      return out;
    }
    default: {
      const points = num(spec.perName.get(code)!);
      const add =
        spec.halfLife === Infinity
          ? `${x(0)} += ${points};`
          : `const steps = Math.floor((now - t) / ${num(spec.halfLife)}); ${x(0)} += ${points} * (steps < ${HALVINGS.length} ? halvings[steps] : Math.pow(0.5, steps)); ` +
            `const step = t + (steps + 1) * ${num(spec.halfLife)}; if (step < ${x(3)}) ${x(3)} = step;`;
      return `if (${inWindow}) { if (${x(2)} !== ${x(2)}) ${x(2)} = t; ${add} }`;
    }
  }
}

function filterTest(spec: PassSpec): string {
  return spec.filters.map(([col, codes]) => `(${codes.length ? codes.map((c) => `cat${col}[i] === ${c}`).join(' || ') : 'false'})`).join(' && ');
}

/** Generates the pass for these specs. */
export function compilePass(specs: PassSpec[]): Pass {
  const lines: string[] = [];
  const numCols = new Set(specs.filter((s) => s.numIdx >= 0).map((s) => s.numIdx));
  const catCols = new Set(specs.flatMap((s) => s.filters.map(([c]) => c)));
  for (const k of numCols) lines.push(`const num${k} = cols.numeric[${k}];`);
  for (const k of catCols) lines.push(`const cat${k} = cols.categorical[${k}];`);
  specs.forEach((spec, s) => {
    lines.push(
      `let ${initial(spec.kind)
        .map((v, k) => `s${s}_${k} = ${num(v)}`)
        .join(', ')};`,
    );
    // Same arithmetic as `t > now - window`, done once per pass.
    if (spec.window !== Infinity) lines.push(`const lo${s} = now - ${num(spec.window)};`);
  });
  const byName = new Map<number, number[]>();
  specs.forEach((spec, s) => {
    for (const code of spec.perName.keys()) {
      if (!byName.has(code)) byName.set(code, []);
      byName.get(code)!.push(s);
    }
  });
  lines.push('const names = cols.names, times = cols.times;', 'let i = start;', 'for (; i < end; i++) {');
  lines.push('  const t = times[i];', '  if (t > now) break;', '  switch (names[i]) {');
  for (const [code, list] of byName) {
    lines.push(`    case ${code}: {`);
    for (const s of list) {
      const spec = specs[s]!;
      const body = update(spec, s, code);
      lines.push(spec.filters.length ? `      if (${filterTest(spec)}) { ${body} }` : `      { ${body} }`);
    }
    lines.push('      break;', '    }');
  }
  lines.push('  }', '}');
  // Future-dated events: the first one of a name a spec reads is when that spec can next change
  // (filters are not applied: an early wake-up is harmless, a late one is not).
  lines.push('for (; i < end; i++) {', '  const t = times[i];', '  switch (names[i]) {');
  for (const [code, list] of byName) {
    lines.push(`    case ${code}: ${list.map((s) => `if (t < s${s}_3) s${s}_3 = t;`).join(' ')} break;`);
  }
  lines.push('  }', '}');
  specs.forEach((_, s) => {
    for (let k = 0; k < SLOTS; k++) lines.push(`out[${s * SLOTS + k}] = s${s}_${k};`);
  });
  // The source is built from numbers and fixed text only: nothing from rules or events is spliced in.
  const body = `return function pass(cols, start, end, now, out) {\n${lines.join('\n')}\n};`;
  return (new Function('halvings', body) as (halvings: Float64Array) => Pass)(HALVINGS);
}
