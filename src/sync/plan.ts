/**
 * What a push would do, without doing it: per ESP, contacts created and updated, fields changed,
 * tags added and removed, the HTTP requests it takes (the connector's own estimate, over the batches
 * the outbox would send) and the least time the rate limits allow.
 */
import type { Connector, ContactChange, ContactRef, PlannedPush } from '../../connectors/connector';
import type { EspName } from '../model/types';
import type { OutboxInput, Store } from '../store/store';
import { formatDuration } from '../model/units';
import { changeFor, drainSizes, groupPerContact, slices } from './changes';
import { eraseRef } from './erasure';

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
  /** `push` calls the outbox makes (batches of contacts, and erasures). */
  batches: number;
  /** HTTP requests those take, as the push summary counts them (the schema check is counted apart). */
  calls: number;
  /** The least time the vendor's rate limits allow for these calls, ms. */
  minDurationMs: number;
  /** What the estimate assumed about the ESP that segsync could not know. */
  assumptions: string[];
  /** segsync has never written to this ESP: the push first reads the account whole (not counted in `calls`). */
  readsAccountFirst: boolean;
  /** Old local changes of fields an edit there could win: the push pulls the ESP first (fresh-view.ts; not counted in `calls`). */
  pullsFirst: boolean;
}

/**
 * The batches and erasures the outbox would send for `ops` (in queue order): it takes `maxItems`
 * operations a round, groups each round's per contact and sends them `batchSize` contacts a call.
 */
export function plannedPush(store: Store, connector: Connector, ops: OutboxInput[]): PlannedPush {
  const { batchSize, maxItems } = drainSizes(connector);
  const plan: PlannedPush = { batches: [], erasures: [] };
  for (const round of slices(ops, maxItems)) {
    const changes: ContactChange[] = [];
    for (const [contactId, list] of groupPerContact(round.filter((o) => o.op !== 'erase'))) {
      const contact = store.getContact(contactId);
      if (contact) changes.push(changeFor(store, connector.esp, contact, list));
    }
    plan.batches.push(...slices(changes, batchSize));
    plan.erasures.push(...round.filter((o) => o.op === 'erase').map((o): ContactRef => eraseRef(o.value, o.contactId)));
  }
  return plan;
}

/**
 * Summarises operations (queued and new, in queue order) per ESP; `adopted` says which ESPs segsync
 * has written to before, `pullsFirst` which ESPs these operations need a pull of first.
 */
export function summarisePlan(
  store: Store,
  connectors: Map<EspName, Connector>,
  ops: OutboxInput[],
  collisions: Map<EspName, Map<string, number>> = new Map(),
  adopted: (esp: EspName) => boolean = () => true,
  pullsFirst: (esp: EspName, ops: OutboxInput[]) => boolean = () => false,
): EspPlan[] {
  const plans: EspPlan[] = [];
  for (const [esp, connector] of connectors) {
    const mine = ops.filter((o) => o.esp === esp);
    const contacts = new Set<number>();
    const erasures = new Set<number>();
    const plan: EspPlan = {
      esp,
      contacts: 0,
      creates: 0,
      updates: 0,
      fields: {},
      tagsAdded: {},
      tagsRemoved: {},
      erasures: 0,
      collisions: Object.fromEntries(collisions.get(esp) ?? []),
      batches: 0,
      calls: 0,
      minDurationMs: 0,
      assumptions: [],
      readsAccountFirst: mine.length > 0 && !adopted(esp),
      pullsFirst: mine.length > 0 && adopted(esp) && pullsFirst(esp, mine),
    };
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
    const push = plannedPush(store, connector, mine);
    plan.batches = push.batches.length + push.erasures.length;
    const estimate = connector.estimate(push);
    plan.calls = estimate.calls;
    plan.minDurationMs = estimate.minDurationMs;
    plan.assumptions = estimate.assumptions;
    plans.push(plan);
  }
  return plans;
}

/** The plan as a table for the terminal. */
export function formatPlan(plans: EspPlan[]): string {
  const lines: string[] = [];
  for (const p of plans) {
    const time =
      p.calls === 0 ? '' : p.minDurationMs < 1000 ? ', well within its rate limits' : `, at least ${formatDuration(p.minDurationMs)} under its rate limits`;
    const calls = `${p.assumptions.length ? 'about ' : ''}${p.calls} API calls in ${p.batches} batches`;
    lines.push(`${p.esp}: ${p.contacts} contacts (${p.creates} new, ${p.updates} existing), ${p.erasures} erasures, ${calls}${time}`);
    if (p.readsAccountFirst)
      lines.push(`  before its first write segsync reads the whole account (never writing over what it has not seen): more calls than these`);
    if (p.pullsFirst)
      lines.push(
        `  fields changed locally over a minute ago that an edit on ${p.esp} could win: the push pulls ${p.esp} first, so it never writes over an edit it has not seen (more calls than these)`,
      );
    for (const a of p.assumptions) lines.push(`  assumed: ${a}`);
    for (const [f, n] of Object.entries(p.fields).sort()) lines.push(`  field ${f}: ${n} changed`);
    for (const [t, n] of Object.entries(p.tagsAdded).sort()) lines.push(`  tag + ${t}: ${n}`);
    for (const [t, n] of Object.entries(p.tagsRemoved).sort()) lines.push(`  tag - ${t}: ${n}`);
    for (const [t, n] of Object.entries(p.collisions).sort()) {
      lines.push(
        `  tag ! ${t}: ${n} contacts already carry a tag of this name that segsync did not put there; left alone (give the segment's tag the owned prefix)`,
      );
    }
    if (!p.contacts && !p.erasures) lines.push('  nothing to push');
  }
  return lines.join('\n');
}
