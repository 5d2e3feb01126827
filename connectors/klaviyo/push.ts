/**
 * Push: one batch of contact changes becomes Klaviyo calls, and Klaviyo's answers become one result
 * per change, in input order. Small batches go one profile at a time (`profile-import` upserts by
 * email; a known profile id is PATCHed); large ones go through bulk import jobs. Tags ride along as
 * atomic `patch_properties` edits; list membership and consent follow once the profiles exist.
 */
import type { ProfilePartialUpdateQuery, ProfileUpsertQuery } from 'klaviyo-api';
import { EspTransientError, ValidationError, asEspError } from '../../src/errors';
import type { SegsyncError } from '../../src/errors';
import { resultOfError } from '../outcome';
import type { ChangeResult, ContactChange } from '../connector';
import { pushBulk } from './bulk';
import { applyConsent, type ConsentItem } from './consent';
import type { KlaviyoContext } from './context';
import { toSdkProfile, type SdkProfile } from './fields';
import { applyListMembership } from './tags';
import { changeProblem, type ChangeProblem } from './validate';
import { parseAnswer, profileDocumentSchema, type WireProfile } from './wire';

/** A change that passed local validation, with its position in the batch and its SDK profile. */
export interface Sendable {
  index: number;
  change: ContactChange;
  profile: SdkProfile;
  /** JSON size of the profile as sent. */
  bytes: number;
}

/** What a write learnt about one profile. */
export interface Written {
  externalId?: string;
  created?: boolean;
  modifiedAt?: number;
  /** The wire profile when the answer carried it (with `subscriptions`). */
  profile?: WireProfile;
}

/** Applies one batch; one result per change, in input order. */
export async function pushChanges(ctx: KlaviyoContext, batch: ContactChange[]): Promise<ChangeResult[]> {
  const results: (ChangeResult | undefined)[] = new Array(batch.length);
  const sendable: Sendable[] = [];
  batch.forEach((change, index) => {
    const s = toSendable(change, index, ctx.options.tagProperty);
    if ('message' in s) {
      results[index] = { ref: change.ref, status: 'failed', error: new ValidationError(`klaviyo: ${change.ref.email || change.ref.externalId}: ${s.message}`, { hint: s.hint }) };
    } else {
      sendable.push(s);
    }
  });

  const written = new Map<number, Written>();
  const fail = (index: number, error: SegsyncError): void => {
    results[index] = failure(batch[index]!, error);
  };
  if (sendable.length >= ctx.options.bulkThreshold) {
    await pushBulk(ctx, sendable, written, fail);
  } else {
    await Promise.all(sendable.map((s) => writeOne(ctx, s).then((w) => written.set(s.index, w), (e: unknown) => fail(s.index, asSegsyncError(e)))));
  }

  const done = sendable.filter((s) => written.has(s.index));
  await applyListMembership(
    ctx,
    done.map((s) => ({ index: s.index, change: s.change, externalId: written.get(s.index)?.externalId })),
    fail,
  );
  const consentItems: ConsentItem[] = done
    .filter((s) => results[s.index] === undefined)
    .map((s) => ({ index: s.index, change: s.change, subscriptions: written.get(s.index)?.profile?.attributes.subscriptions ?? undefined }));
  await applyConsent(ctx, consentItems, fail);

  return batch.map((change, index) => {
    const result = results[index];
    if (result) return result;
    const w = written.get(index);
    if (!w) return failure(change, new EspTransientError('klaviyo: the change was not confirmed', { esp: 'klaviyo', hint: 'segsync retries it' }));
    const ok: ChangeResult = { ref: change.ref, status: 'ok' };
    if (w.externalId) ok.externalId = w.externalId;
    if (w.created !== undefined) ok.created = w.created;
    if (w.modifiedAt !== undefined) ok.modifiedAt = w.modifiedAt;
    return ok;
  });
}

/** The change as it would be sent, or why it cannot be (checked locally, before any call). */
export function toSendable(change: ContactChange, index: number, tagProperty: string): Sendable | ChangeProblem {
  const profile = toSdkProfile(change, tagProperty, change.ref.externalId);
  const bytes = Buffer.byteLength(JSON.stringify(profile));
  return changeProblem(change, tagProperty, bytes) ?? { index, change, profile, bytes };
}

/** Writes one profile: PATCH by id when known, else `profile-import` (an upsert by email). */
async function writeOne(ctx: KlaviyoContext, s: Sendable): Promise<Written> {
  const { client } = ctx;
  const id = s.change.ref.externalId;
  const response = id
    ? await client.call('profiles', 'PATCH /api/profiles/{id}', () =>
        client.profiles.updateProfile(id, { data: s.profile } as unknown as ProfilePartialUpdateQuery, { additionalFieldsProfile: ['subscriptions'] }),
      )
    : await client.call('profiles', 'POST /api/profile-import', () =>
        client.profiles.createOrUpdateProfile({ data: s.profile } as unknown as ProfileUpsertQuery, { additionalFieldsProfile: ['subscriptions'] }),
      );
  const doc = parseAnswer(profileDocumentSchema, response.data, id ? 'PATCH /api/profiles/{id}' : 'POST /api/profile-import');
  const updated = doc.data.attributes.updated ? Date.parse(doc.data.attributes.updated) : NaN;
  return {
    externalId: doc.data.id,
    created: id ? false : response.status === 201,
    modifiedAt: Number.isNaN(updated) ? undefined : updated,
    profile: doc.data,
  };
}

/** The result for a change that failed with `error`: retry or failed by the error's class. */
export function failure(change: ContactChange, error: unknown): ChangeResult {
  return resultOfError(change.ref, error, 'klaviyo');
}

/** Anything thrown by an operation as a typed error (one meaning for an unknown error: see `asEspError`). */
export function asSegsyncError(e: unknown): SegsyncError {
  return asEspError(e, 'klaviyo');
}
