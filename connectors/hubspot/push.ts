/**
 * push for HubSpot: one batch of contact changes becomes at most one batch upsert (by email, for
 * contacts without a HubSpot id) and one batch update (by id), each ≤ 100 inputs and carrying only the
 * changed properties; tags become the full multi-checkbox value `(remote ∪ add) ∖ remove`, with the
 * remote value read just before the write. Results are attributed per contact, in input order.
 */
import type * as Contacts from '@hubspot/api-client/lib/codegen/crm/contacts';
import { EspRecordGoneError, EspTransientError, FieldValueError, ValidationError } from '../../src/errors';
import type { SegsyncError } from '../../src/errors';
import { EMAIL_KEY } from '../connector';
import type { ChangeResult, ContactChange } from '../connector';
import { sendIsolating } from '../batching';
import { confirmedId, runPush } from '../push-driver';
import type { MergeRule, PushIo, PushStrategy, PushUnit } from '../push-driver';
import type { BatchAnswer } from './client';
import type { HubspotContext } from './context';
import { batchError } from './errors';
import type { HubspotErrorBody } from './errors';
import { applyUnsubscribes, wantsUnsubscribe } from './consent';
import { applyMemberships, ensureTagOptions, nextTags, sameTags, wantsList } from './tags';
import type { PropertyShape } from './values';
import { encodeValue, parseTime, splitMulti, writeProblem } from './values';

/** One contact's write, after encoding: how it is addressed, the properties to send, and what follows it. */
export interface PlannedWrite {
  /** `id` for updates, `email` for upserts. */
  key: string;
  byId: boolean;
  email: string;
  properties: Record<string, string>;
  tagsAdded: string[];
  tagsRemoved: string[];
  /** Options the tag property must offer before the write (tags new to this contact). */
  newTags: string[];
  /** Opt the contact out of email on HubSpot (segsync holds it as unsubscribed). */
  unsubscribe: boolean;
  /** Tags to add that the read just before the write found already there (a user's own). */
  tagsHeld: string[];
}

type Unit = PushUnit<PlannedWrite>;

/**
 * One change's write from its encoded properties and its remote tags: the full tag value when it moves.
 * push and estimate.ts both plan through it, so the two decide alike.
 */
export function planWrite(change: ContactChange, properties: Record<string, string>, remoteTags: string[], tagProperty: string): PlannedWrite {
  let tagsAdded: string[] = [];
  let tagsRemoved: string[] = [];
  let tagsHeld: string[] = [];
  const newTags: string[] = [];
  if (change.addTags.length > 0 || change.removeTags.length > 0) {
    const next = nextTags(remoteTags, change.addTags, change.removeTags);
    if (!sameTags(remoteTags, next)) {
      properties[tagProperty] = next.join(';');
      newTags.push(...next.filter((t) => !remoteTags.includes(t)));
    }
    // List membership changes are idempotent on HubSpot, so they follow the requested change as is.
    tagsAdded = change.addTags;
    tagsRemoved = change.removeTags;
    tagsHeld = change.addTags.filter((t) => remoteTags.includes(t));
  }
  const byId = change.ref.externalId !== undefined;
  return {
    key: byId ? change.ref.externalId! : change.ref.email,
    byId,
    email: change.ref.email,
    properties,
    tagsAdded,
    tagsRemoved,
    newTags,
    unsubscribe: wantsUnsubscribe(change),
    tagsHeld,
  };
}

/** One record twice in a batch: later properties win, tag and list changes add up. */
export const mergeWrites: MergeRule<PlannedWrite> = {
  key: (w) => `${w.byId ? 'id' : 'email'}:${w.key}`,
  merge: (into, next) => {
    Object.assign(into.properties, next.properties);
    into.tagsAdded = [...into.tagsAdded, ...next.tagsAdded];
    into.tagsRemoved = [...into.tagsRemoved, ...next.tagsRemoved];
    into.newTags.push(...next.newTags);
    into.unsubscribe ||= next.unsubscribe;
    into.tagsHeld = [...into.tagsHeld, ...next.tagsHeld];
    return into;
  },
};

/**
 * Which call writes each record: a batch upsert by email, a batch update by id, or none (nothing to
 * write; a contact without an id that needs a list still upserts its email to learn its id).
 */
export function routeWrites<U extends { item: PlannedWrite }>(units: U[], tagLists: boolean | string[]): { upserts: U[]; updates: U[]; unwritten: U[] } {
  const needsList = (w: PlannedWrite): boolean => [...w.tagsAdded, ...w.tagsRemoved].some((t) => wantsList(tagLists, t));
  const upserts: U[] = [];
  const updates: U[] = [];
  const unwritten: U[] = [];
  for (const u of units) {
    const writes = Object.keys(u.item.properties).length > 0;
    if (u.item.byId) (writes ? updates : unwritten).push(u);
    else (writes || needsList(u.item) ? upserts : unwritten).push(u);
  }
  return { upserts, updates, unwritten };
}

/**
 * Encodes one change's properties. Throws `FieldValueError` naming every property HubSpot would
 * refuse (the rest of the change can go without them), `ValidationError` for an email change it cannot make.
 */
export function encodeChange(change: ContactChange, props: Map<string, PropertyShape>): Record<string, string> {
  const out: Record<string, string> = {};
  const refused: { key: string; message: string; hint: string }[] = [];
  for (const [name, value] of Object.entries(change.set)) {
    if (name === EMAIL_KEY) {
      // HubSpot changes a record's email through its `email` property, written by record id.
      if (!change.ref.externalId)
        throw new ValidationError('hubspot: an email change needs the HubSpot record id', {
          hint: 'run `segsync pull --esp hubspot` so segsync learns the record id, then push again',
        });
      out.email = String(value);
      continue;
    }
    try {
      out[name] = encodeValue(props.get(name) ?? { name, type: 'string', fieldType: 'text' }, value);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      refused.push({ key: name, message: err.message, hint: err.hint ?? 'fix the value or the field type' });
    }
  }
  for (const name of change.clear) out[name] = '';
  for (const [name, encoded] of Object.entries(out)) {
    const problem = writeProblem(props.get(name), name, encoded);
    if (problem) refused.push({ key: name === 'email' ? EMAIL_KEY : name, message: problem, hint: writeHint(props.get(name)) });
  }
  if (refused.length)
    throw new FieldValueError(`hubspot: ${refused.map((r) => r.message).join('; ')}`, [...new Set(refused.map((r) => r.key))], {
      hint: [...new Set(refused.map((r) => r.hint))].join('; '),
    });
  return out;
}

/** What to do about a write `writeProblem` refused, by what the property is. */
function writeHint(property: PropertyShape | undefined): string {
  if (!property) return 'run `segsync push` (it creates the properties the mapping needs), or fix the mapping in segsync.yaml';
  if (property.readOnly) return 'HubSpot computes this property: map the field to another one in segsync.yaml';
  return "add the option to the field's options in segsync.yaml (the next push adds it to the HubSpot property) or on HubSpot, or fix the value";
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
export function pushBatch(ctx: HubspotContext, batch: ContactChange[]): Promise<ChangeResult[]> {
  return runPush(hubspotStrategy(ctx), batch);
}

/** HubSpot's steps of the push driver (push-driver.ts). */
function hubspotStrategy(ctx: HubspotContext): PushStrategy<PlannedWrite> {
  const tagProperty = ctx.settings.tagProperty;
  let props = new Map<string, PropertyShape>();
  let remoteTags = new Map<number, string[]>();
  return {
    esp: 'hubspot',
    async prepare(batch) {
      props = await ctx.properties.all();
      if (schemaLooksStale(batch, props)) {
        // Someone may have added the property or option on HubSpot since it was read: read once more.
        ctx.properties.invalidate();
        props = await ctx.properties.all();
      }
      remoteTags = await knownRemoteTags(ctx, batch);
    },
    encode: (change, i) => planWrite(change, encodeChange(change, props), remoteTags.get(i) ?? [], tagProperty),
    merge: mergeWrites,
    async write(units, io) {
      const newTags = new Set(units.flatMap((u) => u.item.newTags));
      if (newTags.size > 0) await ensureTagOptions(ctx, newTags);
      const { upserts, updates, unwritten } = routeWrites(units, ctx.settings.tagLists);
      for (const u of unwritten) io.ok(u, { ...(u.item.byId ? { externalId: u.item.key } : {}), ...heldOf(u) });
      await Promise.all([sendWrites(ctx, upserts, false, io), sendWrites(ctx, updates, true, io)]);
    },
    echo: (units) => rememberEchoes(ctx, units),
    memberships: (units, io) => syncLists(ctx, units, io),
    consent: (units, io) => syncConsent(ctx, units, io),
  };
}

/**
 * Which read a change's remote tags need first (by record id or by email), if any: every tag change.
 * The write replaces the whole value, so it is read just before rather than taken from the last value
 * segsync saw: a tag a HubSpot user added since then (no webhook, or one not delivered yet) would be
 * wiped. One batch read per 100 contacts is the price of never losing a user's tag.
 */
export function tagReadOf(change: ContactChange): 'id' | 'email' | undefined {
  if (change.addTags.length + change.removeTags.length === 0) return undefined;
  return change.ref.externalId !== undefined ? 'id' : 'email';
}

/** The remote tags per input index of the batch's tag changes: one batch read per address kind. */
async function knownRemoteTags(ctx: HubspotContext, batch: ContactChange[]): Promise<Map<number, string[]>> {
  const known = new Map<number, string[]>();
  const byId = new Map<string, number[]>();
  const byEmail = new Map<string, number[]>();
  batch.forEach((c, i) => {
    const read = tagReadOf(c);
    if (!read) return;
    const [map, key] = read === 'id' ? [byId, c.ref.externalId!] : [byEmail, c.ref.email];
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
    // Not found on HubSpot: a new contact holds no tags; a record that moved (merged) keeps the last value seen.
    for (const indexes of map.values()) for (const i of indexes) if (!known.has(i)) known.set(i, batch[i]!.remoteTags ?? []);
  }
  return known;
}

/** Sends writes of one kind; a batch HubSpot refuses as a whole is halved so one bad record cannot sink the rest. */
function sendWrites(ctx: HubspotContext, units: Unit[], byId: boolean, io: PushIo<PlannedWrite>): Promise<void> {
  return sendIsolating(units, {
    call: (us) =>
      byId
        ? ctx.client.updateContacts(us.map((u) => ({ id: u.item.key, properties: u.item.properties, objectWriteTraceId: traceId(u) })))
        : ctx.client.upsertContacts(us.map((u) => ({ idProperty: 'email', id: u.item.key, properties: u.item.properties, objectWriteTraceId: traceId(u) }))),
    then: (us, answer: BatchAnswer<Contacts.SimplePublicObject | Contacts.SimplePublicUpsertObject>) => attribute(ctx, us, byId, answer, io),
    fail: (us, err) => io.fail(us, err),
  });
}

/** Matches a batch answer's results and `errors[]` back to the writes that caused them. */
function attribute(
  ctx: HubspotContext,
  units: Unit[],
  byId: boolean,
  answer: BatchAnswer<Contacts.SimplePublicObject | Contacts.SimplePublicUpsertObject>,
  io: PushIo<PlannedWrite>,
): void {
  const byKey = new Map(units.map((u) => [u.item.key, u]));
  const byTrace = new Map(units.map((u) => [traceId(u), u]));
  const done = new Set<Unit>();
  for (const r of answer.results) {
    // The write trace id HubSpot echoes first; then the record id (update) or email (upsert).
    const key = byId ? r.id : r.properties.email?.toLowerCase();
    const u = (r.objectWriteTraceId !== undefined ? byTrace.get(r.objectWriteTraceId) : undefined) ?? (key !== undefined ? byKey.get(key) : undefined);
    if (!u || done.has(u)) continue;
    done.add(u);
    io.ok(u, {
      externalId: r.id,
      created: '_new' in r ? r._new : undefined,
      modifiedAt: parseTime(r.properties.lastmodifieddate) ?? parseTime(r.updatedAt),
      ...heldOf(u),
    });
  }
  const now = ctx.clock.now();
  let unattributed: SegsyncError | undefined;
  for (const e of answer.errors ?? []) {
    const body = e as unknown as HubspotErrorBody;
    const ids = [...(body.context?.ids ?? []), ...(body.context?.id ?? []), ...(body.context?.emails ?? [])];
    const hit = ids.map((id) => byKey.get(byId ? id : id.toLowerCase())).filter((u): u is Unit => u !== undefined && !done.has(u));
    // An update by id that names no record: the contact was deleted there (or merged away) since segsync last read it.
    const error = byId && body.category === 'OBJECT_NOT_FOUND' && hit.length > 0 ? recordGone(hit, body) : batchError('contact write', body, now);
    if (hit.length === 0) unattributed ??= error;
    hit.forEach((u) => done.add(u));
    io.fail(hit, error);
  }
  const missing = unattributed ?? new EspTransientError('hubspot: the batch answer named neither a result nor an error for this contact', { esp: 'hubspot' });
  io.fail(
    units.filter((u) => !done.has(u)),
    missing,
  );
}

/** The unit's tags HubSpot held before the write, for its result (none: nothing to say). */
function heldOf(u: Unit): { tagsHeld?: string[] } {
  return u.item.tagsHeld.length ? { tagsHeld: [...new Set(u.item.tagsHeld)] } : {};
}

/** The records `hit` names are gone from HubSpot: their contacts are unlinked there (never created again). */
function recordGone(hit: Unit[], body: HubspotErrorBody): EspRecordGoneError {
  return new EspRecordGoneError(`hubspot: contact ${hit.map((u) => u.item.key).join(', ')} no longer exists there (deleted or merged): ${body.message ?? ''}`, {
    esp: 'hubspot',
    status: 404,
    vendorCode: body.category,
    hint: "segsync unlinks the contact there and does not create it again; restore it from HubSpot's recycle bin (or the person signs up again) and the next pull links it",
  });
}

/** The write's trace id: its first position in the input batch, unique within one call. */
function traceId(u: Unit): string {
  return String(u.inputs[0]);
}

/** Records what was written so the propertyChange webhooks it triggers are recognised as echoes. */
function rememberEchoes(ctx: HubspotContext, units: Unit[]): void {
  const now = ctx.clock.now();
  for (const u of units) {
    const externalId = confirmedId(u);
    if (!externalId) continue;
    for (const [name, value] of Object.entries(u.item.properties)) ctx.echo.remember(externalId, name, value, now);
  }
}

/** Opts out, on HubSpot, the contacts segsync holds as unsubscribed (after their write succeeded). */
async function syncConsent(ctx: HubspotContext, units: Unit[], io: PushIo<PlannedWrite>): Promise<void> {
  const wanted = units.filter((u) => u.item.unsubscribe);
  if (wanted.length === 0) return;
  const failed = await applyUnsubscribes(
    ctx,
    wanted.map((u) => u.item.email),
  );
  io.failEach(wanted, (u) => failed.get(u.item.email));
}

/** Mirrors tag changes into MANUAL lists for contacts whose write succeeded. */
async function syncLists(ctx: HubspotContext, units: Unit[], io: PushIo<PlannedWrite>): Promise<void> {
  if (ctx.settings.tagLists === false) return;
  const changed = units.filter((u) => confirmedId(u) !== undefined && u.item.tagsAdded.length + u.item.tagsRemoved.length > 0);
  if (changed.length === 0) return;
  let failed: Map<string, SegsyncError>;
  try {
    failed = await applyMemberships(
      ctx,
      changed.map((u) => ({ recordId: confirmedId(u)!, add: u.item.tagsAdded, remove: u.item.tagsRemoved })),
    );
  } catch (err) {
    // The tag lists could not be found or created: the property write stands, the membership is retried.
    io.fail(changed, err);
    return;
  }
  io.failEach(changed, (u) => failed.get(confirmedId(u)!));
}
