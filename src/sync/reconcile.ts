/**
 * Reconcile: read back what an ESP holds for the fields and tags segsync owns, in the vendor's bulk
 * listing (a full, cursorless pull: its largest pages, through the shared rate limiter), compare it
 * with what segsync believes the ESP holds, and repair the drift through the outbox. Drift is what no
 * incremental pull reports: a write lost in a crash, a value changed behind a cursor, an edit to a
 * field segsync writes but never reads in.
 */
import type { Connector, Cursor, RemoteContact } from '../../connectors/connector';
import type { Contact, EspName, FieldValue } from '../model/types';
import { applyRemoteContacts, applyTagMemberships, TAGS_KEY } from './inbound';
import type { InboundContext, InboundResult } from './inbound';
import { asTags, sameValue, tagList } from './values';

export interface ReconcileReport {
  esp: EspName;
  /** ESP records read. */
  contacts: number;
  /** Local contacts whose owned fields or tags on the ESP differ from what segsync believed. */
  drifted: number;
  /** Drifted contacts per field name, and `tags` for owned tags. */
  drift: Record<string, number>;
  /** Repair operations queued (0 on a dry run). */
  queued: number;
  dryRun: boolean;
  /** A sampled read that stopped before the end: where the next one goes on (see `ReconcileRead`). */
  next?: Cursor;
}

/** How much of the ESP one reconcile reads. */
export interface ReconcileRead {
  dryRun?: boolean;
  /**
   * Stop after the page that brings the records read to this many (a sample); the report's `next`
   * says where the next sampled read starts, so successive samples cover the whole account in turn.
   */
  limit?: number;
  /** Where to start (a previous sample's `next`); from the beginning when absent. */
  cursor?: Cursor;
}

export interface ReconcileDeps {
  inbound: InboundContext;
  connector: Connector;
  /** Queues what the contacts need on this ESP; returns the operations queued. */
  enqueue(contactIds: number[]): number;
  /** What a pull does after applying a page: re-evaluate changed contacts and fan them out. */
  afterInbound(result: InboundResult): number;
  /** A write transaction: a page's read-back and the repairs it calls for commit together. */
  atomically<T>(fn: () => T): T;
  /** True once the process is stopping: the read ends after the page it applied. */
  stopped?: () => boolean;
}

/** The ESP field names segsync writes and never reads in: its own values, so drift in them is segsync's to repair. */
export function ownedFields(inbound: InboundContext, esp: EspName): string[] {
  const m = inbound.mapping.perEsp.get(esp);
  if (!m) return [];
  return [...m.fields.filter((f) => f.out && !f.in).map((f) => f.remote), ...m.segments.filter((s) => s.as === 'property').map((s) => s.name)];
}

/** The local contact an ESP record stands for, if segsync knows it. */
export function localContactOf(inbound: InboundContext, esp: EspName, rc: RemoteContact): Contact | undefined {
  if (rc.deleted) return undefined;
  return inbound.store.findContactByExternalId(esp, rc.externalId) ?? (rc.email ? inbound.store.findContactByEmail(rc.email) : undefined);
}

/** The keys on which one ESP record differs from what segsync believed about it. */
function driftOf(inbound: InboundContext, esp: EspName, rc: RemoteContact, fields: string[]): { contactId: number; keys: string[] } | undefined {
  const { store, mapping } = inbound;
  const contact = localContactOf(inbound, esp, rc);
  if (!contact) return undefined;
  const state = new Map(store.getSyncState(contact.id, esp).map((s) => [s.key, s]));
  const believed = (key: string): FieldValue | undefined => {
    const s = state.get(key);
    return s ? (s.remoteValue !== undefined ? s.remoteValue : s.pushedValue) : undefined;
  };
  const keys = fields.filter((f) => f in rc.fields && !sameValue(believed(f), rc.fields[f]));
  if (rc.tags) {
    const owned = (tags: string[]): string[] => tagList(tags.filter((t) => mapping.tagOwnership(esp, t) !== 'user'));
    if (!sameValue(owned(asTags(believed(TAGS_KEY)) ?? []), owned(rc.tags))) keys.push('tags');
  }
  return keys.length ? { contactId: contact.id, keys } : undefined;
}

/** Reads an ESP back in full and repairs (or, on a dry run, only reports) drift in what segsync owns there. */
export async function reconcileEsp(deps: ReconcileDeps, esp: EspName, options: ReconcileRead = {}): Promise<ReconcileReport> {
  const { inbound, connector } = deps;
  const dryRun = options.dryRun === true;
  const report: ReconcileReport = { esp, contacts: 0, drifted: 0, drift: {}, queued: 0, dryRun };
  const fields = ownedFields(inbound, esp);
  const mapped = (inbound.mapping.perEsp.get(esp)?.fields ?? []).map((f) => f.remote);
  const drifted = new Set<number>();
  // Pulls stop at a whole-second bound; a read-back wants what the ESP holds now, this second included.
  const until = new Date(inbound.clock.now() + 1000);
  for await (const page of connector.pull({ cursor: options.cursor, until, fields: [...new Set([...mapped, ...fields])] })) {
    report.contacts += page.contacts.length;
    for (const rc of page.contacts) {
      const d = driftOf(inbound, esp, rc, fields);
      if (!d || drifted.has(d.contactId)) continue;
      drifted.add(d.contactId);
      for (const k of d.keys) report.drift[k] = (report.drift[k] ?? 0) + 1;
    }
    if (dryRun) continue;
    // What the ESP holds becomes what segsync believes, exactly as a pull would record it, and what
    // every record read still needs is queued in the same transaction: a crash in between would
    // otherwise leave the drift recorded as the truth and nothing queued to undo it. Every record,
    // not only the drifted ones: a belief that is right but differs from what the store wants (an
    // earlier read recorded it, and nothing queued the contact since) is repaired too.
    report.queued += deps.atomically(() => {
      deps.afterInbound(applyRemoteContacts(inbound, esp, page.contacts));
      if (page.tagMemberships?.length) deps.afterInbound(applyTagMemberships(inbound, esp, page.tagMemberships));
      const ids = [...new Set(page.contacts.map((rc) => localContactOf(inbound, esp, rc)?.id).filter((id): id is number => id !== undefined))];
      return ids.length ? deps.enqueue(ids) : 0;
    });
    // A stop (the daemon's) ends the read after a page: what it applied stays, and a sample goes on from there.
    if ((options.limit !== undefined && report.contacts >= options.limit) || deps.stopped?.()) {
      if (options.limit !== undefined) report.next = page.next;
      break;
    }
  }
  report.drifted = drifted.size;
  inbound.logger.info(
    { esp, contacts: report.contacts, drifted: report.drifted, drift: report.drift, queued: report.queued, dryRun, sampled: options.limit !== undefined },
    `${esp}: reconcile read ${report.contacts} records${options.limit !== undefined ? ' (a sample)' : ''}, ${report.drifted} drifted`,
  );
  return report;
}
