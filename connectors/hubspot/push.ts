/**
 * push for HubSpot: one batch of contact changes becomes at most one batch upsert (by email, for
 * contacts without a HubSpot id) and one batch update (by id), each ≤ 100 inputs and carrying only the
 * changed properties; tags become the full multi-checkbox value `(remote ∪ add) ∖ remove`, read first
 * only when the last remote value is unknown. Results are attributed per contact, in input order.
 */
import type * as Contacts from '@hubspot/api-client/lib/codegen/crm/contacts';
import { EspPermanentError, EspTransientError, ValidationError } from '../../src/errors';
import type { SegsyncError } from '../../src/errors';
import { EMAIL_KEY } from '../connector';
import type { ChangeResult, ContactChange, ContactRef } from '../connector';
import { outcomeOfError, resultOfError } from '../outcome';
import type { Outcome } from '../outcome';
import type { BatchAnswer } from './client';
import type { HubspotContext } from './context';
import { classifyBatchError, toSegsyncError } from './errors';
import type { HubspotErrorBody } from './errors';
import { applyUnsubscribes, wantsUnsubscribe } from './consent';
import { applyMemberships, ensureTagOptions, nextTags, sameTags, wantsList } from './tags';
import type { PropertyShape } from './values';
import { encodeValue, parseTime, splitMulti, writeProblem } from './values';

/** One contact's write, after encoding: who, how it is addressed, and the properties to send. */
interface PlannedWrite {
  /** Positions in the input batch (several when the batch names one contact twice). */
  indexes: number[];
  ref: ContactRef;
  /** `id` for updates, `email` for upserts. */
  key: string;
  byId: boolean;
  properties: Record<string, string>;
  tagsAdded: string[];
  tagsRemoved: string[];
  /** Opt the contact out of email on HubSpot (segsync holds it as unsubscribed). */
  unsubscribe: boolean;
}


/** Encodes one change's properties; throws `ValidationError` for a value HubSpot would refuse. */
export function encodeChange(change: ContactChange, props: Map<string, PropertyShape>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(change.set)) {
    if (name === EMAIL_KEY) {
      // HubSpot changes a record's email through its `email` property, written by record id.
      if (!change.ref.externalId) throw new ValidationError('hubspot: an email change needs the HubSpot record id', { hint: 'run `segsync pull --esp hubspot` so segsync learns the record id, then push again' });
      out.email = String(value);
      continue;
    }
    out[name] = encodeValue(props.get(name) ?? { name, type: 'string', fieldType: 'text' }, value);
  }
  for (const name of change.clear) out[name] = '';
  for (const [name, encoded] of Object.entries(out)) {
    const problem = writeProblem(props.get(name), name, encoded);
    if (problem) throw new ValidationError(`hubspot: ${problem}`, { hint: 'run `segsync push` after `ensureSchema` creates it, or fix the mapping in segsync.yaml' });
  }
  return out;
}

/** True when the batch names a property or an option the cached schema does not know (it may be stale). */
function schemaLooksStale(batch: ContactChange[], props: Map<string, PropertyShape>): boolean {
  return batch.some((c) => {
    try {
      encodeChange(c, props);
      return false;
    } catch {
      return true;
    }
  });
}

/** Applies one batch; never throws for a per-contact problem, only returns it in that contact's result. */
export async function pushBatch(ctx: HubspotContext, batch: ContactChange[]): Promise<ChangeResult[]> {
  const results: (ChangeResult | undefined)[] = new Array(batch.length).fill(undefined);
  if (batch.length === 0) return [];
  const tagProperty = ctx.settings.tagProperty;
  try {
    let props = await ctx.properties.all();
    if (schemaLooksStale(batch, props)) {
      // Someone may have added the property or option on HubSpot since it was read: read once more.
      ctx.properties.invalidate();
      props = await ctx.properties.all();
    }
    const remoteTags = await knownRemoteTags(ctx, batch);

    const writes = new Map<string, PlannedWrite>();
    const newTags = new Set<string>();
    batch.forEach((change, i) => {
      try {
        const properties = encodeChange(change, props);
        let added: string[] = [];
        let removed: string[] = [];
        if (change.addTags.length > 0 || change.removeTags.length > 0) {
          const remote = remoteTags.get(i) ?? [];
          const next = nextTags(remote, change.addTags, change.removeTags);
          if (!sameTags(remote, next)) {
            properties[tagProperty] = next.join(';');
            for (const t of next) if (!remote.includes(t)) newTags.add(t);
          }
          // List membership changes are idempotent on HubSpot, so they follow the requested change as is.
          added = change.addTags;
          removed = change.removeTags;
        }
        const byId = change.ref.externalId !== undefined;
        const key = byId ? change.ref.externalId! : change.ref.email;
        const mapKey = `${byId ? 'id' : 'email'}:${key}`;
        const existing = writes.get(mapKey);
        if (existing) {
          // One contact twice in a batch: later changes win, both inputs share the result.
          existing.indexes.push(i);
          Object.assign(existing.properties, properties);
          existing.tagsAdded.push(...added);
          existing.tagsRemoved.push(...removed);
          existing.unsubscribe ||= wantsUnsubscribe(change);
        } else {
          writes.set(mapKey, { indexes: [i], ref: change.ref, key, byId, properties, tagsAdded: added, tagsRemoved: removed, unsubscribe: wantsUnsubscribe(change) });
        }
      } catch (err) {
        results[i] = failure(change.ref, err);
      }
    });

    if (newTags.size > 0) await ensureTagOptions(ctx, newTags);

    const toSend = [...writes.values()].filter((w) => Object.keys(w.properties).length > 0);
    for (const w of writes.values()) if (Object.keys(w.properties).length === 0 && w.byId) settle(results, w, { status: 'ok', externalId: w.key });
    const needsList = (w: PlannedWrite): boolean => [...w.tagsAdded, ...w.tagsRemoved].some((t) => wantsList(ctx.settings.tagLists, t));
    const noIdNoChange = [...writes.values()].filter((w) => Object.keys(w.properties).length === 0 && !w.byId);
    // A contact without a HubSpot id and nothing to write still needs an id for list membership: upsert its email.
    for (const w of noIdNoChange) if (!needsList(w)) settle(results, w, { status: 'ok' });
    const upserts = [...toSend.filter((w) => !w.byId), ...noIdNoChange.filter(needsList)];
    const updates = toSend.filter((w) => w.byId);

    await Promise.all([sendWrites(ctx, upserts, false, results), sendWrites(ctx, updates, true, results)]);
    rememberEchoes(ctx, [...upserts, ...updates], results);
    await syncLists(ctx, [...writes.values()], results);
    await syncConsent(ctx, [...writes.values()], results);
  } catch (err) {
    // A failure before any write (schema read, tag read, option update): the whole batch waits.
    batch.forEach((change, i) => {
      results[i] ??= failure(change.ref, err);
    });
  }
  return results.map((r, i) => r ?? { ref: batch[i]!.ref, status: 'retry', error: new EspTransientError('hubspot: no answer for this contact', { esp: 'hubspot' }) });
}

/** The last-known remote tags per input index: from `remoteTags`, else one batch read per address kind. */
async function knownRemoteTags(ctx: HubspotContext, batch: ContactChange[]): Promise<Map<number, string[]>> {
  const known = new Map<number, string[]>();
  const byId = new Map<string, number[]>();
  const byEmail = new Map<string, number[]>();
  batch.forEach((c, i) => {
    if (c.addTags.length === 0 && c.removeTags.length === 0) return;
    if (c.remoteTags) return void known.set(i, c.remoteTags);
    const [map, key] = c.ref.externalId !== undefined ? [byId, c.ref.externalId] : [byEmail, c.ref.email];
    map.set(key, [...(map.get(key) ?? []), i]);
  });
  const tagProperty = ctx.settings.tagProperty;
  for (const [map, idProperty] of [
    [byId, undefined],
    [byEmail, 'email'],
  ] as const) {
    if (map.size === 0) continue;
    const answer = await ctx.client.readContacts([...map.keys()], [tagProperty, 'email'], idProperty);
    for (const r of answer.results) {
      const key = idProperty ? r.properties.email?.toLowerCase() : r.id;
      for (const i of (key && map.get(key)) || []) known.set(i, splitMulti(r.properties[tagProperty]));
    }
    // Not found on HubSpot (new contact): its remote tag set is empty.
    for (const indexes of map.values()) for (const i of indexes) if (!known.has(i)) known.set(i, []);
  }
  return known;
}

/** Sends writes of one kind, bisecting a batch HubSpot rejects as a whole so one bad record cannot sink the rest. */
async function sendWrites(ctx: HubspotContext, writes: PlannedWrite[], byId: boolean, results: (ChangeResult | undefined)[]): Promise<void> {
  if (writes.length === 0) return;
  let answer: BatchAnswer<Contacts.SimplePublicObject | Contacts.SimplePublicUpsertObject>;
  try {
    answer = byId
      ? await ctx.client.updateContacts(writes.map((w) => ({ id: w.key, properties: w.properties, objectWriteTraceId: traceId(w) })))
      : await ctx.client.upsertContacts(writes.map((w) => ({ idProperty: 'email', id: w.key, properties: w.properties, objectWriteTraceId: traceId(w) })));
  } catch (err) {
    if (err instanceof EspPermanentError && err.status === 400 && writes.length > 1) {
      const half = Math.ceil(writes.length / 2);
      await sendWrites(ctx, writes.slice(0, half), byId, results);
      await sendWrites(ctx, writes.slice(half), byId, results);
      return;
    }
    for (const w of writes) settle(results, w, failureOf(err));
    return;
  }
  attribute(ctx, writes, byId, answer, results);
}

/** Matches a batch answer's results and `errors[]` back to the writes that caused them. */
function attribute(
  ctx: HubspotContext,
  writes: PlannedWrite[],
  byId: boolean,
  answer: BatchAnswer<Contacts.SimplePublicObject | Contacts.SimplePublicUpsertObject>,
  results: (ChangeResult | undefined)[],
): void {
  const byKey = new Map(writes.map((w) => [w.key, w]));
  const byTrace = new Map(writes.map((w) => [traceId(w), w]));
  const done = new Set<PlannedWrite>();
  for (const r of answer.results) {
    // The write trace id HubSpot echoes first; then the record id (update) or email (upsert).
    const key = byId ? r.id : r.properties.email?.toLowerCase();
    const w = (r.objectWriteTraceId !== undefined ? byTrace.get(r.objectWriteTraceId) : undefined) ?? (key !== undefined ? byKey.get(key) : undefined);
    if (!w || done.has(w)) continue;
    done.add(w);
    const modifiedAt = parseTime(r.properties.lastmodifieddate) ?? parseTime(r.updatedAt);
    const created = '_new' in r ? r._new : undefined;
    settle(results, w, { status: 'ok', externalId: r.id, ...(created !== undefined ? { created } : {}), ...(modifiedAt !== undefined ? { modifiedAt } : {}) });
  }
  const unattributed: HubspotErrorBody[] = [];
  for (const e of answer.errors ?? []) {
    const body = e as unknown as HubspotErrorBody;
    const ids = [...(body.context?.ids ?? []), ...(body.context?.id ?? []), ...(body.context?.emails ?? [])];
    const hit = ids.map((id) => byKey.get(byId ? id : id.toLowerCase())).filter((w): w is PlannedWrite => w !== undefined && !done.has(w));
    if (hit.length === 0) unattributed.push(body);
    for (const w of hit) {
      done.add(w);
      settle(results, w, batchErrorOutcome(ctx, body));
    }
  }
  for (const w of writes) {
    if (done.has(w)) continue;
    const body = unattributed[0];
    settle(results, w, body ? batchErrorOutcome(ctx, body) : { status: 'retry', error: new EspTransientError('hubspot: the batch answer named neither a result nor an error for this contact', { esp: 'hubspot' }) });
  }
}

/** The write's trace id: its first position in the input batch, unique within one call. */
function traceId(w: PlannedWrite): string {
  return String(w.indexes[0]);
}

function batchErrorOutcome(ctx: HubspotContext, body: HubspotErrorBody): Outcome {
  const now = ctx.clock.now();
  const { verdict } = classifyBatchError(body, now);
  const status = Number(body.status);
  const error = toSegsyncError('contact write', Number.isInteger(status) && status >= 400 ? status : 400, body, {}, now);
  if (verdict.kind === 'retry' || verdict.kind === 'rate-limited') return { status: 'retry', error, ...(verdict.kind === 'rate-limited' ? { retryAfterMs: verdict.afterMs } : {}) };
  return { status: 'failed', error };
}

function failureOf(err: unknown): Outcome {
  return outcomeOfError(err, 'hubspot');
}

function failure(ref: ContactRef, err: unknown): ChangeResult {
  return resultOfError(ref, err, 'hubspot');
}

function settle(results: (ChangeResult | undefined)[], w: PlannedWrite, outcome: Outcome): void {
  for (const i of w.indexes) results[i] = { ...outcome, ref: w.ref };
}

/** Records what was written so the propertyChange webhooks it triggers are recognised as echoes. */
function rememberEchoes(ctx: HubspotContext, writes: PlannedWrite[], results: (ChangeResult | undefined)[]): void {
  const now = ctx.clock.now();
  for (const w of writes) {
    const r = results[w.indexes[0]!];
    if (r?.status !== 'ok' || !r.externalId) continue;
    for (const [name, value] of Object.entries(w.properties)) ctx.echo.remember(r.externalId, name, value, now);
  }
}

/** Opts out, on HubSpot, the contacts segsync holds as unsubscribed (after their write succeeded). */
async function syncConsent(ctx: HubspotContext, writes: PlannedWrite[], results: (ChangeResult | undefined)[]): Promise<void> {
  const wanted = writes.filter((w) => w.unsubscribe && results[w.indexes[0]!]?.status === 'ok');
  if (wanted.length === 0) return;
  const failed = await applyUnsubscribes(ctx, wanted.map((w) => w.ref.email));
  for (const w of wanted) {
    const err = failed.get(w.ref.email);
    if (err) settle(results, w, failureOf(err));
  }
}

/** Mirrors tag changes into MANUAL lists for contacts whose write succeeded. */
async function syncLists(ctx: HubspotContext, writes: PlannedWrite[], results: (ChangeResult | undefined)[]): Promise<void> {
  if (ctx.settings.tagLists === false) return;
  const changes = writes
    .map((w) => ({ w, r: results[w.indexes[0]!] }))
    .filter(({ w, r }) => r?.status === 'ok' && r.externalId && (w.tagsAdded.length > 0 || w.tagsRemoved.length > 0))
    .map(({ w, r }) => ({ w, recordId: (r as { externalId: string }).externalId }));
  if (changes.length === 0) return;
  let failed: Map<string, SegsyncError>;
  try {
    failed = await applyMemberships(
      ctx,
      changes.map(({ w, recordId }) => ({ recordId, add: w.tagsAdded, remove: w.tagsRemoved })),
    );
  } catch (err) {
    // The tag lists could not be found or created: the property write stands, the membership is retried.
    for (const { w } of changes) settle(results, w, failureOf(err));
    return;
  }
  for (const { w, recordId } of changes) {
    const err = failed.get(recordId);
    if (err) settle(results, w, failureOf(err));
  }
}
