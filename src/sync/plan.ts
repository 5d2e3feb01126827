/**
 * What a push would do, without doing it: per ESP, contacts created and updated, fields changed,
 * tags added and removed, the API calls it takes and the least time the rate limits allow.
 */
import type { Connector } from '../../connectors/connector';
import { minimumDurationMs } from '../../connectors/ratelimit';
import type { EspName } from '../model/types';
import type { OutboxInput, Store } from '../store/store';
import { formatDuration } from '../model/units';

export interface EspPlan {
  esp: EspName;
  contacts: number;
  /** Contacts the ESP does not know yet (no id there): created by the push. */
  creates: number;
  updates: number;
  fields: Record<string, number>;
  tagsAdded: Record<string, number>;
  tagsRemoved: Record<string, number>;
  erasures: number;
  /** Segment tags contacts already carry as their own tag (a user's tag of the same name): left alone. */
  collisions: Record<string, number>;
  calls: number;
  /** The least time the vendor's rate limits allow for these calls, ms. */
  minDurationMs: number;
}

/** Summarises operations (queued and new) per ESP. */
export function summarisePlan(store: Store, connectors: Map<EspName, Connector>, ops: OutboxInput[], collisions: Map<EspName, Map<string, number>> = new Map()): EspPlan[] {
  const plans: EspPlan[] = [];
  for (const [esp, connector] of connectors) {
    const mine = ops.filter((o) => o.esp === esp);
    const contacts = new Set<number>();
    const erasures = new Set<number>();
    const plan: EspPlan = { esp, contacts: 0, creates: 0, updates: 0, fields: {}, tagsAdded: {}, tagsRemoved: {}, erasures: 0, collisions: Object.fromEntries(collisions.get(esp) ?? []), calls: 0, minDurationMs: 0 };
    for (const o of mine) {
      if (o.op === 'erase') {
        erasures.add(o.contactId);
        continue;
      }
      contacts.add(o.contactId);
      const label = String(o.value ?? o.key);
      if (o.op === 'addTag') plan.tagsAdded[label] = (plan.tagsAdded[label] ?? 0) + 1;
      else if (o.op === 'removeTag') plan.tagsRemoved[label] = (plan.tagsRemoved[label] ?? 0) + 1;
      else plan.fields[o.key] = (plan.fields[o.key] ?? 0) + 1;
    }
    for (const id of contacts) {
      if (store.getContact(id)?.externalIds[esp]) plan.updates++;
      else plan.creates++;
    }
    plan.contacts = contacts.size;
    plan.erasures = erasures.size;
    const batch = Math.max(1, connector.limits.maxBatch.upsert);
    plan.calls = Math.ceil(contacts.size / batch) + erasures.size;
    const windows = (connector.limits.buckets.default ?? Object.values(connector.limits.buckets)[0] ?? []).map((w) => connector.limits.windows[w]!).filter(Boolean);
    plan.minDurationMs = minimumDurationMs(plan.calls, windows);
    plans.push(plan);
  }
  return plans;
}

/** The plan as a table for the terminal. */
export function formatPlan(plans: EspPlan[]): string {
  const lines: string[] = [];
  for (const p of plans) {
    const time = p.calls === 0 ? '' : p.minDurationMs < 1000 ? ', well within its rate limits' : `, at least ${formatDuration(p.minDurationMs)} under its rate limits`;
    lines.push(`${p.esp}: ${p.contacts} contacts (${p.creates} new, ${p.updates} existing), ${p.erasures} erasures, ${p.calls} batches${time}`);
    for (const [f, n] of Object.entries(p.fields).sort()) lines.push(`  field ${f}: ${n} changed`);
    for (const [t, n] of Object.entries(p.tagsAdded).sort()) lines.push(`  tag + ${t}: ${n}`);
    for (const [t, n] of Object.entries(p.tagsRemoved).sort()) lines.push(`  tag - ${t}: ${n}`);
    for (const [t, n] of Object.entries(p.collisions).sort()) {
      lines.push(`  tag ! ${t}: ${n} contacts already carry a tag of this name that segsync did not put there; left alone (give the segment's tag the owned prefix)`);
    }
    if (!p.contacts && !p.erasures) lines.push('  nothing to push');
  }
  return lines.join('\n');
}
