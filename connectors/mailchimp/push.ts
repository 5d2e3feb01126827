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
import type { ChangeResult, ContactChange } from '../connector';
import type { SegsyncError } from '../../src/errors';
import { EspPermanentError, ValidationError, asEspError } from '../../src/errors';
import { resultOfError } from '../outcome';
import { normaliseEmail, subscriberHash } from '../../src/model/identity';
import type { ConsentStatus } from '../../src/model/types';
import type { Clock } from '../../src/model/clock';
import type { MailchimpClient } from './client';
import { patchInBatch } from './batch-patch';
import type { BatchPatchOptions, PatchAnswer } from './batch-patch';
import type { MergeSchema } from './schema';
import type { TagIndex } from './tags';
import { consentOf } from './pull';
import { applyTagPlans, planTagChanges } from './tags';
import { memberSchema } from './wire';
import type { BatchMember, MemberPatch, MergeValue, WritableStatus } from './wire';

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

/** Statuses an opt-out has nothing left to do for (Mailchimp refuses to change `cleaned`). */
const OPTED_OUT: ReadonlySet<ConsentStatus> = new Set(['unsubscribed', 'cleaned']);

/** Decides how a member is written, from what segsync knows of it on Mailchimp and what it was asked. */
export function routeFor(change: Pick<ContactChange, 'localConsent' | 'remoteConsent' | 'optOut'>, hasFields: boolean): Route {
  if (change.remoteConsent === undefined) {
    const status = statusIfNew(change.localConsent);
    return status ? { kind: 'batch-new', status } : { kind: 'patch', ...(change.optOut ? { status: 'unsubscribed' as const } : {}) };
  }
  // A known member: its status is Mailchimp's, whatever it became since the last pull, unless an
  // opt-out was asked for. Sending `pending` again would also mail the double opt-in once more.
  if (change.optOut && !OPTED_OUT.has(change.remoteConsent)) return { kind: 'patch', status: 'unsubscribed' };
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
  /** Indexes of the inputs this member stands for (an email twice in a batch is merged). */
  inputs: number[];
  error?: SegsyncError;
  created?: boolean;
  modifiedAt?: number;
  /** The member's status as the answer reported it. */
  consent?: ConsentStatus;
}

/** Merges changes of the same email (later values win) so one member gets one write. */
export function mergeByEmail(batch: ContactChange[]): Map<string, { change: ContactChange; inputs: number[] }> {
  const byEmail = new Map<string, { change: ContactChange; inputs: number[] }>();
  batch.forEach((change, i) => {
    const email = normaliseEmail(change.ref.email);
    const seen = byEmail.get(email);
    if (!seen) {
      byEmail.set(email, { change, inputs: [i] });
      return;
    }
    const c = seen.change;
    seen.change = {
      ...c,
      ...change,
      set: { ...c.set, ...change.set },
      clear: [...c.clear.filter((f) => !(f in change.set)), ...change.clear],
      addTags: [...c.addTags.filter((t) => !change.removeTags.includes(t)), ...change.addTags],
      removeTags: [...c.removeTags.filter((t) => !change.addTags.includes(t)), ...change.removeTags],
    };
    seen.inputs.push(i);
  });
  return byEmail;
}

/** Builds the per-member plan: merge values converted (bad values fail that member only) and a route. */
function plan(batch: ContactChange[], schema: MergeSchema): Planned[] {
  const out: Planned[] = [];
  for (const [email, { change, inputs }] of mergeByEmail(batch)) {
    const merges: Record<string, MergeValue> = {};
    let error: SegsyncError | undefined;
    try {
      for (const [name, value] of Object.entries(change.set)) {
        const w = schema.toWire(name, value);
        merges[w.tag] = w.value;
      }
      for (const name of change.clear) merges[schema.tagFor(name)] = '';
    } catch (err) {
      error = err instanceof ValidationError ? err : new ValidationError(String(err));
    }
    const route = routeFor(change, Object.keys(merges).length > 0);
    out.push({ email, hash: subscriberHash(email), merges, route, optOut: change.optOut !== undefined, addTags: change.addTags, removeTags: change.removeTags, inputs, ...(error ? { error } : {}) });
  }
  return out;
}

function lastChanged(text: string | undefined): number | undefined {
  const t = text ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

/** How known members are PATCHed: one by one, or from `batchOperationsFrom` members on as one batch job. */
export interface PatchOptions extends BatchPatchOptions {
  batchOperationsFrom: number;
}

/** The defaults: batch jobs from 10 members on (below, a job's 3+ calls and its wait save little or nothing). */
export function defaultPatchOptions(clock: Clock): PatchOptions {
  return { batchOperationsFrom: 10, pollMs: 1_000, pollMaxMs: 30_000, timeoutMs: 600_000, clock };
}

function patchBody(p: Planned, route: Extract<Route, { kind: 'patch' }>): MemberPatch {
  return { merge_fields: p.merges, ...(route.status ? { status: route.status } : {}) };
}

/** Applies one member's answer from a batch job to its plan. */
function notePatch(p: Planned, answer: PatchAnswer): void {
  if (!answer.ok) {
    p.error = answer.error instanceof EspPermanentError && answer.error.status === 404 ? notOnAudience(p.email, answer.error) : answer.error;
    return;
  }
  const m = memberSchema.safeParse(answer.body);
  if (!m.success) {
    p.error = new EspPermanentError(`mailchimp: update member (batch): unexpected answer for ${p.email}`, { esp: 'mailchimp', hint: 'the batch job answered in a shape segsync does not know; report it with this message' });
    return;
  }
  p.modifiedAt = lastChanged(m.data.last_changed);
  p.consent = consentOf(m.data.status);
}

/** PATCHes known members as one batch job (see the file comment). */
async function patchMany(client: MailchimpClient, members: Planned[], options: PatchOptions): Promise<void> {
  const answers = await patchInBatch(client, members.map((p) => ({ hash: p.hash, body: patchBody(p, p.route as Extract<Route, { kind: 'patch' }>) })), options);
  for (const p of members) notePatch(p, answers.get(p.hash)!);
}

/** The per-member write (PUT with status_if_new, or PATCH). */
async function writeOne(client: MailchimpClient, p: Planned, route: Route): Promise<void> {
  try {
    if (route.kind === 'patch') {
      const m = await client.patchMember(p.hash, patchBody(p, route));
      p.modifiedAt = lastChanged(m.last_changed);
      p.consent = consentOf(m.status);
      return;
    }
    const statusIfNewValue = route.kind === 'upsert' ? route.statusIfNew : 'pending';
    const m = await client.setMember(p.hash, { email_address: p.email, status_if_new: statusIfNewValue, ...(Object.keys(p.merges).length ? { merge_fields: p.merges } : {}) });
    p.modifiedAt = lastChanged(m.last_changed);
    p.consent = consentOf(m.status);
  } catch (err) {
    p.error = route.kind === 'patch' && err instanceof EspPermanentError && err.status === 404 ? notOnAudience(p.email, err) : asEspError(err, 'mailchimp');
  }
}

/** A PATCH found no active member: it is archived (or gone), and segsync never re-adds it. */
function notOnAudience(email: string, cause: EspPermanentError): EspPermanentError {
  return new EspPermanentError(`mailchimp: ${email} is not an active member of the audience (archived, deleted or never added); it was left as is`, {
    esp: 'mailchimp',
    status: 404,
    cause,
    hint: 'segsync never creates a cleaned address or restores an archived member; restore it in Mailchimp if it should be synced',
  });
}

/**
 * One batch call that only creates (`update_existing: false`). Members named in `errors[]` are written
 * again on their own (`fallback`): that is how members that turn out to exist are updated.
 */
async function writeBatch(client: MailchimpClient, members: Planned[], fallback: (p: Planned) => Route): Promise<void> {
  const body: BatchMember[] = members.map((p) => ({
    email_address: p.email,
    status: (p.route as { status: WritableStatus }).status,
    ...(Object.keys(p.merges).length ? { merge_fields: p.merges } : {}),
  }));
  let result;
  try {
    result = await client.batchMembers(body);
  } catch (err) {
    for (const p of members) p.error = asEspError(err, 'mailchimp');
    return;
  }
  const byEmail = new Map(members.map((p) => [p.email, p]));
  for (const m of result.new_members) {
    const p = byEmail.get(normaliseEmail(m.email_address));
    if (p) Object.assign(p, { created: true, modifiedAt: lastChanged(m.last_changed), consent: consentOf(m.status ?? (p.route as { status: WritableStatus }).status) });
  }
  await Promise.all(
    result.errors.map((e) => {
      const p = byEmail.get(normaliseEmail(e.email_address ?? ''));
      if (!p) return undefined;
      // Known to exist: update it without any chance of creating or restoring it.
      return writeOne(client, p, e.error_code === 'ERROR_CONTACT_EXISTS' ? { kind: 'patch', ...(p.optOut ? { status: 'unsubscribed' as const } : {}) } : fallback(p));
    }),
  );
}

/** Pushes one batch; one result per input, in input order. */
export async function pushBatch(
  client: MailchimpClient,
  schema: MergeSchema,
  tags: TagIndex,
  batch: ContactChange[],
  patching: PatchOptions,
): Promise<ChangeResult[]> {
  const needsSchema = batch.some((c) => Object.keys(c.set).length > 0 || c.clear.length > 0);
  if (needsSchema) {
    try {
      await schema.load();
    } catch (err) {
      return batch.map((c) => resultOfError(c.ref, err, 'mailchimp'));
    }
  }
  const renamed = await renameMembers(client, batch);
  const planned = plan(batch.map(withoutEmailChange), schema);
  for (const p of planned) {
    const error = p.inputs.map((i) => renamed.get(i)).find((e) => e !== undefined);
    if (error) p.error = error;
  }
  const consentOf = new Map(batch.map((c) => [normaliseEmail(c.ref.email), c.localConsent]));
  const fallback = (p: Planned): Route => {
    const status = statusIfNew(consentOf.get(p.email));
    return status ? { kind: 'upsert', statusIfNew: status } : { kind: 'patch' };
  };

  const ready = planned.filter((p) => !p.error);
  const fresh = ready.filter((p) => p.route.kind === 'batch-new');
  const known = ready.filter((p) => p.route.kind === 'patch');
  const asJob = known.length >= patching.batchOperationsFrom;
  const single = ready.filter((p) => p.route.kind === 'upsert' || (p.route.kind === 'patch' && !asJob));
  const calls: Promise<void>[] = [];
  for (let i = 0; i < fresh.length; i += MEMBER_BATCH) calls.push(writeBatch(client, fresh.slice(i, i + MEMBER_BATCH), fallback));
  if (asJob) calls.push(patchMany(client, known, patching));
  for (const p of single) calls.push(writeOne(client, p, p.route));
  await Promise.all(calls);

  const tagged = planned.filter((p) => !p.error && (p.addTags.length > 0 || p.removeTags.length > 0));
  if (tagged.length > 0) {
    const failures = await applyTagPlans(client, tags, planTagChanges(tagged));
    for (const p of tagged) {
      const e = failures.get(p.email);
      if (e) p.error = e;
    }
  }

  const results: ChangeResult[] = new Array<ChangeResult>(batch.length);
  for (const p of planned) {
    for (const i of p.inputs) {
      const ref = batch[i]!.ref;
      results[i] = p.error
        ? resultOfError(ref, p.error, 'mailchimp')
        : { ref, status: 'ok', externalId: p.hash, ...(p.created ? { created: true } : {}), ...(p.modifiedAt !== undefined ? { modifiedAt: p.modifiedAt } : {}), ...(p.consent ? { consent: p.consent } : {}) };
    }
  }
  return results;
}

/**
 * Changes the emails of members whose email changed (`set[EMAIL_KEY]`): PATCH of the member at its
 * old id (`ref.externalId`, the hash of the old email) with the new `email_address`, before the rest
 * of the change is written at the new email. Returns the failures by input index.
 */
async function renameMembers(client: MailchimpClient, batch: ContactChange[]): Promise<Map<number, SegsyncError>> {
  const failed = new Map<number, SegsyncError>();
  await Promise.all(
    batch.map(async (change, i) => {
      if (!(EMAIL_KEY in change.set)) return;
      const oldId = change.ref.externalId;
      const email = normaliseEmail(change.ref.email);
      if (!oldId) {
        failed.set(i, new ValidationError('mailchimp: an email change needs the member id (the hash of its old email)', { hint: 'run `segsync pull --esp mailchimp` so segsync learns the member, then push again' }));
        return;
      }
      if (oldId === subscriberHash(email)) return;
      try {
        await client.patchMember(oldId, { email_address: email });
      } catch (err) {
        failed.set(i, err instanceof EspPermanentError && err.status === 404 ? notOnAudience(email, err) : asEspError(err, 'mailchimp'));
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
