/** Shaping helpers shared by the dialects' `shapeContext`. */
import type { FieldValue } from '../../model/types';
import type { ScenarioData } from './dialect';

/** The event that triggered the message (the scenario's last event), or undefined. */
export function triggerEvent(s: ScenarioData): ScenarioData['events'][number] | undefined {
  return s.events[s.events.length - 1];
}

/** Deep-merges `over` onto `base` (objects merge, everything else replaces). */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** Properties plus the segment values, which segsync pushes to ESPs as properties. */
export function profileFields(s: ScenarioData): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = { ...s.segments, ...s.properties };
  if (s.email !== undefined) out.email = s.email;
  return out;
}
