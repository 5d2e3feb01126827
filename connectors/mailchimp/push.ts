/**
 * Turns one batch of contact changes into Mailchimp calls without ever changing anyone's status
 * unless segsync was asked to (an opt-out that travels from another ESP or from local).
 *
 * The batch endpoint (`POST /lists/{id}`, 500 members) has no `status_if_new`, and with
 * `update_existing` the `status` it carries overwrites the member's, even when it changed on
 * Mailchimp since segsync last looked. So the batch endpoint is only ever used without
 * `update_existing`, to create members segsync has not seen; every existing member is written with
 * PATCH, which carries no `status` unless the change is an opt-out. PATCH goes one call per member,
 * or, from `batchOperationsFrom` members on, as PATCH operations of one `/3.0/batches` job
 * (batch-patch.ts: start + polls + results download, whatever the size). Calls measured on the
 * sandbox (test/integration/mailchimp/batch-patch.test.ts prints them): PATCH one by one costs one
 * call per member; the batch job 3 calls for 10 or 100 members and 3-5 for 1000. Below the default
 * of 10 members the synchronous PATCH is kept: its answer comes at once, a job's after polling (and
 * real Mailchimp may queue a job for minutes).
 * - members segsync has not seen on Mailchimp go in a batch with `update_existing: false`: new ones
 *   are created with the status their local consent allows, existing ones are left untouched and
 *   reported (`ERROR_CONTACT_EXISTS`), and only those are then PATCHed;
 * - any member named in a batch's `errors[]` is written again on its own, whose answer is a classified
 *   problem document (batch errors are free text with a generic code);
 * - a `cleaned` address is only ever updated (PATCH), never created.
 * Tags follow in bulk through static segments (tags.ts).
 */
import { EMAIL_KEY } from '../connector';
import type { ChangeResult, ConnectorNotes, ContactChange } from '../connector';
import { EspPermanentError, EspRecordGoneError, FieldValueError, ValidationError } from '../../src/errors';
import { splitChunks } from '../batching';
import { mergeChangesBy, runPush } from '../push-driver';
import type { PushIo, PushStrategy, PushUnit } from '../push-driver';
import { normaliseEmail, subscriberHash } from '../../src/model/identity';
import { isOptedOut } from '../../src/model/consent';
import type { ConsentStatus } from '../../src/model/types';
import type { Clock } from '../../src/model/clock';
import type { MailchimpClient } from './client';
import { patchInBatch } from './batch-patch';
import type { BatchPatchOptions } from './batch-patch';
import { MAILCHIMP_BATCH_DEFAULTS } from './definition';
import { RECHECK_MS, UnfinishedJobs } from '../unfinished-jobs';
import type { JobState } from '../unfinished-jobs';
import type { MergeSchema } from './schema';
import type { TagIndex } from './tags';
import { consentOf } from './pull';
import { applyTagPlans, planTagChanges } from './tags';
import { memberSchema } from './wire';
import type { BatchMember, MemberPatch, MemberStatus, MergeValue, WritableStatus } from './wire';

/** Largest `members[]` of one batch call. */
export const MEMBER_BATCH = 500;

/** How one member's fields are written. */
export type Route =
  /** Batch without `update_existing`: creates new members only; existing ones fall back to `upsert`. */
  | { kind: 'batch-new'; status: WritableStatus }
  /** PUT with `status_if_new`: creates the member if new, never touches an existing status. */
  | { kind: 'upsert'; statusIfNew: WritableStatus }
  /** PATCH: updates an existing member only; `status` only for an opt-out segsync was asked to carry. */
  | { kind: 'patch'; status?: 'unsubscribed' }
  /** Nothing to write: the member exists with a known status and only tags change. */
  | { kind: 'none' };

/** The status a new member gets from segsync's consent: never `subscribed` by default. */
export function statusIfNew(local: ConsentStatus | undefined): WritableStatus | undefined {
  switch (local) {
    case 'subscribed':
      return 'subscribed';
    case 'non-marketing':
      return 'transactional';
    case 'unsubscribed':
      return 'unsubscribed';
    case 'cleaned':
      return undefined;
    case 'pending':
    case undefined:
      return 'pending';
  }
}

/** Decides how a member is written, from what segsync knows of it on Mailchimp and what it was asked. */
export function routeFor(change: Pick<ContactChange, 'localConsent' | 'remoteConsent' | 'optOut'>, hasFields: boolean): Route {
  if (change.remoteConsent === undefined) {
    const status = statusIfNew(change.localConsent);
    return status ? { kind: 'batch-new', status } : { kind: 'patch', ...(change.optOut ? { status: 'unsubscribed' as const } : {}) };
  }
  // A known member: its status is Mailchimp's, whatever it became since the last pull, unless an
  // opt-out was asked for. Sending `pending` again would also mail the double opt-in once more. An
  // opted-out member has nothing left to do (Mailchimp refuses to change `cleaned`).
  if (change.optOut && !isOptedOut(change.remoteConsent)) return { kind: 'patch', status: 'unsubscribed' };
  return hasFields ? { kind: 'patch' } : { kind: 'none' };
}

interface Planned {
  email: string;
  hash: string;
  merges: Record<string, MergeValue>;
  route: Route;
  addTags: string[];
  removeTags: string[];
  /** An opt-out was asked for: the only time a write carries `status` to an existing member. */
  optOut: boolean;
}

/** A member on its way: its unit, its plan, and the route it takes were it found to exist after all. */
interface Member {
  u: PushUnit<ContactChange, Planned>;
  p: Planned;
  route: Route;
  fallback: () => Route;
}

type Io = PushIo<ContactChange, Planned>;

/** Changes of the same email merge so one member gets one write. */
export const mergeChanges = mergeChangesBy((change) => normaliseEmail(change.ref.email));

/**
 * One member's plan: merge values converted and a route. Values Mailchimp cannot hold throw one
 * `FieldValueError` naming each of their fields (the rest of the change can go without them).
 */
function plan(change: ContactChange, schema: MergeSchema): Planned {
  const email = normaliseEmail(change.ref.email);
  const merges: Record<string, MergeValue> = {};
  const refused: { key: string; error: ValidationError }[] = [];
  for (const [name, value] of Object.entries(change.set)) {
    try {
      const w = schema.toWire(name, value);
      merges[w.tag] = w.value;
    } catch (err) {
      refused.push({ key: name, error: err instanceof ValidationError ? err : new ValidationError(String(err)) });
    }
  }
  for (const name of change.clear) merges[schema.tagFor(name)] = '';
  if (refused.length)
    throw new FieldValueError(
      refused.map((r) => r.error.message).join('; '),
      refused.map((r) => r.key),
      { hint: [...new Set(refused.map((r) => r.error.hint ?? 'fix the value or the field type'))].join('; ') },
    );
  const route = routeFor(change, Object.keys(merges).length > 0);
  return { email, hash: subscriberHash(email), merges, route, optOut: change.optOut !== undefined, addTags: change.addTags, removeTags: change.removeTags };
}

/**
 * Which call writes each member: `MEMBER_BATCH` new members to a batch create, the known ones as one
 * batch job from `batchOperationsFrom` of them on, the rest one call each (`none` routes cost nothing).
 * push and estimate.ts both route through it, so the two decide alike.
 */
export function routeMembers<T extends { route: Route }>(members: T[], batchOperationsFrom: number): { creates: T[][]; job: T[]; single: T[] } {
  const fresh = members.filter((p) => p.route.kind === 'batch-new');
  const known = members.filter((p) => p.route.kind === 'patch');
  const asJob = known.length >= batchOperationsFrom;
  return {
    creates: splitChunks(fresh, { maxItems: MEMBER_BATCH }),
    job: asJob ? known : [],
    single: members.filter((p) => p.route.kind === 'upsert' || (p.route.kind === 'patch' && !asJob)),
  };
}

function lastChanged(text: string | undefined): number | undefined {
  const t = text ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

/** How known members are PATCHed: one by one, or from `batchOperationsFrom` members on as one batch job. */
export interface PatchOptions extends BatchPatchOptions {
  batchOperationsFrom: number;
  unfinished: UnfinishedJobs;
}

/** Where a batch job stands. */
async function batchState(client: MailchimpClient, id: string): Promise<JobState> {
  return (await client.batchStatus(id)).status === 'finished' ? 'finished' : 'running';
}

/** The defaults: batch jobs from 10 members on (below, a job's 3+ calls and its wait save little or nothing). */
export function defaultPatchOptions(clock: Clock, notes?: ConnectorNotes): PatchOptions {
  return { batchOperationsFrom: 10, ...MAILCHIMP_BATCH_DEFAULTS, clock, unfinished: new UnfinishedJobs('mailchimp', clock, notes) };
}

function patchBody(p: Planned, route: Extract<Route, { kind: 'patch' }>): MemberPatch {
  return { merge_fields: p.merges, ...(route.status ? { status: route.status } : {}) };
}

/** Settles a member as written, from the member as Mailchimp answered it. */
function written(io: Io, m: Member, answer: { last_changed?: string | undefined; status: MemberStatus }, created?: true): void {
  io.ok(m.u, { externalId: m.p.hash, created, modifiedAt: lastChanged(answer.last_changed), consent: consentOf(answer.status) }, m.p);
}

/** PATCHes known members as one batch job (see the file comment). */
async function patchMany(client: MailchimpClient, members: Member[], options: PatchOptions, io: Io): Promise<void> {
  const answers = await patchInBatch(
    client,
    members.map(({ p }) => ({ hash: p.hash, body: patchBody(p, p.route as Extract<Route, { kind: 'patch' }>) })),
    options,
  );
  for (const m of members) {
    const answer = answers.get(m.p.hash)!;
    if (!answer.ok) {
      io.fail(m.u, patchError(m.p.email, answer.error));
      continue;
    }
    const member = memberSchema.safeParse(answer.body);
    if (member.success) written(io, m, member.data);
    else
      io.fail(
        m.u,
        new EspPermanentError(`mailchimp: update member (batch): unexpected answer for ${m.p.email}`, {
          esp: 'mailchimp',
          hint: 'the batch job answered in a shape segsync does not know; report it with this message',
        }),
      );
  }
}

/** The per-member write (PUT with status_if_new, or PATCH). */
async function writeOne(client: MailchimpClient, m: Member, route: Route, io: Io): Promise<void> {
  const { p } = m;
  try {
    const statusIfNewValue = route.kind === 'upsert' ? route.statusIfNew : 'pending';
    const answer =
      route.kind === 'patch'
        ? await client.patchMember(p.hash, patchBody(p, route))
        : await client.setMember(p.hash, {
            email_address: p.email,
            status_if_new: statusIfNewValue,
            ...(Object.keys(p.merges).length ? { merge_fields: p.merges } : {}),
          });
    written(io, m, answer);
  } catch (err) {
    io.fail(m.u, route.kind === 'patch' ? patchError(p.email, err) : upsertError(p.email, err));
  }
}

/**
 * A PUT's error. An address permanently deleted from the audience cannot be added again through the
 * API: like a deleted member, the contact is unlinked there rather than failing every later push.
 */
function upsertError(email: string, err: unknown): unknown {
  if (!(err instanceof EspPermanentError && err.vendorCode === 'Forgotten Email Not Subscribed')) return err;
  return new EspRecordGoneError(`mailchimp: ${email} was permanently deleted from the audience, and Mailchimp does not let the API add it again`, {
    esp: 'mailchimp',
    status: err.status,
    vendorCode: err.vendorCode,
    cause: err,
    hint: 'segsync unlinks the contact from Mailchimp; the person can sign up again through a Mailchimp form, and the next pull links them',
  });
}

/**
 * A PATCH's error; a 404 means no active member: it is archived (or gone), and segsync never re-adds it.
 * Not taken for a deletion (gone): the member id is the hash of the email, so a member whose email was
 * changed in Mailchimp answers 404 at its old id too; the next pull follows the change, or lists the
 * member archived (and unlinks the contact, which drops this write).
 */
function patchError(email: string, err: unknown): unknown {
  if (!(err instanceof EspPermanentError && err.status === 404)) return err;
  return new EspPermanentError(`mailchimp: ${email} is not an active member of the audience (archived, deleted or never added); it was left as is`, {
    esp: 'mailchimp',
    status: 404,
    cause: err,
    hint: 'segsync never creates a cleaned address or restores an archived member; restore it in Mailchimp if it should be synced',
  });
}

/**
 * One batch call that only creates (`update_existing: false`). Members named in `errors[]` are written
 * again on their own (`fallback`): that is how members that turn out to exist are updated.
 */
async function writeBatch(client: MailchimpClient, members: Member[], io: Io): Promise<void> {
  const statusOf = (p: Planned): WritableStatus => (p.route as { status: WritableStatus }).status;
  const body: BatchMember[] = members.map(({ p }) => ({
    email_address: p.email,
    status: statusOf(p),
    ...(Object.keys(p.merges).length ? { merge_fields: p.merges } : {}),
  }));
  let result;
  try {
    result = await client.batchMembers(body);
  } catch (err) {
    io.fail(
      members.map((m) => m.u),
      err,
    );
    return;
  }
  const byEmail = new Map(members.map((m) => [m.p.email, m]));
  for (const n of result.new_members) {
    const m = byEmail.get(normaliseEmail(n.email_address));
    if (m) written(io, m, { last_changed: n.last_changed, status: n.status ?? statusOf(m.p) }, true);
  }
  await Promise.all(
    result.errors.map((e) => {
      const m = byEmail.get(normaliseEmail(e.email_address ?? ''));
      if (!m) return undefined;
      // Known to exist: update it without any chance of creating or restoring it.
      return writeOne(
        client,
        m,
        e.error_code === 'ERROR_CONTACT_EXISTS' ? { kind: 'patch', ...(m.p.optOut ? { status: 'unsubscribed' as const } : {}) } : m.fallback(),
        io,
      );
    }),
  );
}

/** Pushes one batch; one result per input, in input order. */
export function pushBatch(
  client: MailchimpClient,
  schema: MergeSchema,
  tags: TagIndex,
  batch: ContactChange[],
  patching: PatchOptions,
): Promise<ChangeResult[]> {
  return runPush(mailchimpStrategy(client, schema, tags, patching), batch);
}

/** Mailchimp's steps of the push driver (push-driver.ts): one unit per email, its status-safe routes, tags after writes. */
function mailchimpStrategy(client: MailchimpClient, schema: MergeSchema, tags: TagIndex, patching: PatchOptions): PushStrategy<ContactChange, Planned> {
  return {
    esp: 'mailchimp',
    async prepare(batch) {
      if (batch.some((c) => Object.keys(c.set).length > 0 || c.clear.length > 0)) await schema.load();
      return renameMembers(client, batch);
    },
    encode: withoutEmailChange,
    merge: mergeChanges,
    async write(units, io, batch) {
      const ready: Member[] = [];
      for (const u of units) {
        try {
          const p = plan(u.item, schema);
          // A member found to exist gets the status its latest change allows, were it new after all.
          const status = statusIfNew(batch[u.inputs[u.inputs.length - 1]!]!.localConsent);
          ready.push({ u, p, route: p.route, fallback: () => (status ? { kind: 'upsert', statusIfNew: status } : { kind: 'patch' }) });
        } catch (err) {
          io.fail(u, err);
        }
      }
      // Only a write of the member's fields could land before an older job's; tags go by other calls.
      const held = await patching.unfinished.holding(
        ready.filter((m) => m.route.kind !== 'none').map((m) => m.p.hash),
        (id) => batchState(client, id),
        Math.max(patching.pollMaxMs, RECHECK_MS),
      );
      for (const m of ready) if (held.has(m.p.hash)) io.fail(m.u, held.get(m.p.hash));
      const { creates, job, single } = routeMembers(
        ready.filter((m) => !held.has(m.p.hash)),
        patching.batchOperationsFrom,
      );
      const calls: Promise<void>[] = creates.map((members) => writeBatch(client, members, io));
      if (job.length > 0) calls.push(patchMany(client, job, patching, io));
      for (const m of single) calls.push(writeOne(client, m, m.route, io));
      await Promise.all(calls);
      // What no call settled stands as written: route `none` (only tags change: no call), and a member a batch
      // create's answer names neither as new nor in `errors[]`.
      for (const m of ready) io.ok(m.u, { externalId: m.p.hash }, m.p);
    },
    async memberships(units, io) {
      const tagged = units.filter((u) => u.answer && u.answer.addTags.length + u.answer.removeTags.length > 0);
      if (tagged.length === 0) return;
      const { failures, held } = await applyTagPlans(client, tags, planTagChanges(tagged.map((u) => u.answer!)));
      io.failEach(tagged, (u) => failures.get(u.answer!.email));
      for (const u of tagged) {
        const had = held.get(u.answer!.email);
        const tagsHeld = had ? u.answer!.addTags.filter((t) => had.has(t.toLowerCase())) : [];
        if (tagsHeld.length) io.learnt(u, { tagsHeld });
      }
    },
  };
}

/**
 * What an email change (`set[EMAIL_KEY]`) needs first: nothing (no change, or the member id already is
 * the new email's hash), a PATCH of the member at its old id to the new address, or a refusal (no
 * member id known). push and estimate.ts both ask it.
 */
export function renameOf(change: ContactChange): { kind: 'none' } | { kind: 'rename'; oldId: string; email: string } | { kind: 'refused' } {
  if (!(EMAIL_KEY in change.set)) return { kind: 'none' };
  const oldId = change.ref.externalId;
  const email = normaliseEmail(change.ref.email);
  if (!oldId) return { kind: 'refused' };
  return oldId === subscriberHash(email) ? { kind: 'none' } : { kind: 'rename', oldId, email };
}

/**
 * Changes the emails of members whose email changed, before the rest of the change is written at the
 * new email. Returns the failures by input index.
 */
async function renameMembers(client: MailchimpClient, batch: ContactChange[]): Promise<Map<number, unknown>> {
  const failed = new Map<number, unknown>();
  await Promise.all(
    batch.map(async (change, i) => {
      const rename = renameOf(change);
      if (rename.kind === 'refused') {
        failed.set(
          i,
          new ValidationError('mailchimp: an email change needs the member id (the hash of its old email)', {
            hint: 'run `segsync pull --esp mailchimp` so segsync learns the member, then push again',
          }),
        );
        return;
      }
      if (rename.kind === 'none') return;
      try {
        await client.patchMember(rename.oldId, { email_address: rename.email });
      } catch (err) {
        failed.set(i, patchError(rename.email, err));
      }
    }),
  );
  return failed;
}

function withoutEmailChange(change: ContactChange): ContactChange {
  if (!(EMAIL_KEY in change.set)) return change;
  const { [EMAIL_KEY]: _email, ...set } = change.set;
  return { ...change, set };
}
