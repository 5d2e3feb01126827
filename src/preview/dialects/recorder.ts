/**
 * What a render records: the branch each conditional block took, loop iteration counts, and
 * undefined variables printed without a fallback. One recorder per render; dialects whose engines
 * call back into segsync synchronously (liquidjs marker templates, Handlebars helpers, nunjucks
 * globals) reach it through `activeRecorder`, which is set only for the duration of a sync render.
 */
import type { RenderResult, UndefinedRead } from './dialect';

export class RenderRecorder {
  readonly branches = new Map<string, number[]>();
  readonly iterations = new Map<string, number>();
  readonly undefinedVariables: UndefinedRead[] = [];
  private readonly seenUndefined = new Set<string>();
  /** Line of the output being printed, or undefined while evaluating anything else (conditions). */
  outputLine: number | undefined;
  /** The output being printed has a fallback (`default`, `insert`, …): its undefined reads are fine. */
  outputHasFallback = false;

  /** Records that block `id` rendered branch `index`. */
  branch(id: string, index: number): void {
    const taken = this.branches.get(id);
    if (taken) taken.push(index);
    else this.branches.set(id, [index]);
  }

  /** Records one iteration of loop `id`. */
  iterate(id: string): void {
    this.iterations.set(id, (this.iterations.get(id) ?? 0) + 1);
  }

  /** Records an undefined read if it happens while printing an output without fallback. */
  miss(path: string, line = this.outputLine): void {
    if (line === undefined || this.outputHasFallback) return;
    const key = `${path}@${line}`;
    if (this.seenUndefined.has(key)) return;
    this.seenUndefined.add(key);
    this.undefinedVariables.push({ path, line });
  }

  result(html: string): RenderResult {
    return { html, branches: this.branches, iterations: this.iterations, undefinedVariables: this.undefinedVariables };
  }
}

let active: RenderRecorder | undefined;

/** The recorder of the render in progress (renders are synchronous, so there is at most one). */
export function activeRecorder(): RenderRecorder | undefined {
  return active;
}

/** Runs a synchronous render with `recorder` active. */
export function withRecorder<T>(recorder: RenderRecorder, fn: () => T): T {
  const previous = active;
  active = recorder;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

/** Keys Liquid resolves specially on arrays and strings (`size`, `first`, `last`). */
const ARRAY_PROBES = new Set(['size', 'first', 'last', 'length']);

/** Keys engines probe on every value (array size, iteration, coercion): never a template's variable. */
const PROBES = new Set(['next', 'toLiquid', 'valueOf', 'toString', 'toJSON', 'then', 'constructor', 'liquidMethodMissing', '__proto__']);

/** False for keys engines probe on their own (`size`, array `first`/`last`, iterator and coercion hooks). */
function isVariableKey(target: object, key: string): boolean {
  if (PROBES.has(key) || key in Object.prototype || key === 'size') return false;
  return !(Array.isArray(target) && ARRAY_PROBES.has(key));
}

/**
 * Wraps a context so that reading a missing key is reported to the active recorder with its full
 * dotted path. Why a Proxy: liquidjs and Handlebars resolve variables internally and expose no hook for
 * "this lookup found nothing"; the Proxy sees exactly the lookups the engine makes.
 */
export function watchUndefined<T extends object>(value: T, path = ''): T {
  return new Proxy(value, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return v;
      const child = path ? `${path}.${key}` : key;
      if (v === undefined) {
        if (isVariableKey(target, key)) activeRecorder()?.miss(child);
        return v;
      }
      return v !== null && typeof v === 'object' && !(v instanceof Date) ? watchUndefined(v as object, child) : v;
    },
    getOwnPropertyDescriptor(target, key) {
      const d = Reflect.getOwnPropertyDescriptor(target, key);
      if (!d && typeof key === 'string' && isVariableKey(target, key)) activeRecorder()?.miss(path ? `${path}.${key}` : key);
      return d;
    },
    has(target, key) {
      const found = Reflect.has(target, key);
      if (!found && typeof key === 'string' && !PROBES.has(key) && path === '') activeRecorder()?.miss(key);
      return found;
    },
  });
}
