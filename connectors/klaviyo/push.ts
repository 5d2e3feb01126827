/**
 * Push: one batch of contact changes becomes Klaviyo calls, and Klaviyo's answers become one result
 * per change, in input order. Small batches go one profile at a time (`profile-import` upserts by
 * email; a known profile id is PATCHed); large ones go through bulk import jobs. Tags ride along as
 * atomic `patch_properties` edits; list membership and consent follow once the profiles exist.
 */
import type { ProfilePartialUpdateQuery, ProfileUpsertQuery } from 'klaviyo-api';
import { EspPermanentError, ValidationError, asEspError } from '../../src/errors';
import type { ChangeResult, ContactChange } from '../connector';
import { confirmedId, runPush } from '../push-driver';
import type { PushIo, PushStrategy } from '../push-driver';
import { bulkJobState, jobKey, pushBulk } from './bulk';
import { deletionState, isDeletion } from './erase';
import { applyConsent, type ConsentItem } from './consent';
import type { KlaviyoContext, ResolvedOptions } from './context';
import { RECHECK_MS } from '../unfinished-jobs';
import { toSdkProfile, type SdkProfile } from './fields';
import { applyListMembership } from './tags';
import { changeProblem, type ChangeProblem } from './validate';
import { profileGoneError } from './errors';
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

/** How sendable changes are written: one call per profile, or bulk import jobs from `bulkThreshold` of them on. */
export function writeRoute(sendable: number, options: Pick<ResolvedOptions, 'bulkThreshold'>): 'bulk' | 'single' {
  return sendable >= options.bulkThreshold ? 'bulk' : 'single';
}

/** Applies one batch; one result per change, in input order. */
export function pushChanges(ctx: KlaviyoContext, batch: ContactChange[]): Promise<ChangeResult[]> {
  return runPush(klaviyoStrategy(ctx), batch);
}

/** Klaviyo's steps of the push driver (push-driver.ts): every change is its own unit. */
function klaviyoStrategy(ctx: KlaviyoContext): PushStrategy<Sendable, Written> {
  return {
    esp: 'klaviyo',
    encode(change, index) {
      const s = toSendable(change, index, ctx.options.tagProperty);
      if ('message' in s) throw new ValidationError(`klaviyo: ${change.ref.email || change.ref.externalId}: ${s.message}`, { hint: s.hint });
      return s;
    },
    async write(all, io) {
      const done = (index: number, w: Written): void =>
        io.ok(io.unitOf(index), { externalId: w.externalId || undefined, created: w.created, modifiedAt: w.modifiedAt }, w);
      const held = await ctx.unfinished.holding(
        all.map((u) => jobKey(u.item.change)),
        (id) => (isDeletion(id) ? deletionState(ctx, id) : bulkJobState(ctx, id)),
        Math.max(ctx.options.jobPollIntervalMs, RECHECK_MS),
      );
      for (const u of all) if (held.has(jobKey(u.item.change))) io.fail(u, held.get(jobKey(u.item.change)));
      const units = all.filter((u) => !held.has(jobKey(u.item.change)));
      if (writeRoute(units.length, ctx.options) === 'bulk')
        await pushBulk(
          ctx,
          units.map((u) => u.item),
          done,
          failer(io),
        );
      else
        await Promise.all(
          units.map((u) =>
            writeOne(ctx, u.item).then(
              (w) => done(u.item.index, w),
              (e: unknown) => io.fail(u, e),
            ),
          ),
        );
    },
    async memberships(units, io) {
      const items = units.map((u) => ({ index: u.item.index, change: u.item.change, externalId: confirmedId(u) }));
      await applyListMembership(ctx, items, failer(io));
    },
    async consent(units, io) {
      const items: ConsentItem[] = units.map((u) => ({
        index: u.item.index,
        change: u.item.change,
        subscriptions: u.answer?.profile?.attributes.subscriptions ?? undefined,
      }));
      await applyConsent(ctx, items, failer(io));
    },
  };
}

/** Fails the changes at the batch positions `items` name (the bulk job, list and consent steps speak in positions). */
export type FailItems = (items: { index: number }[], error: unknown) => void;

function failer(io: PushIo<Sendable, Written>): FailItems {
  return (items, error) =>
    io.fail(
      items.map((i) => io.unitOf(i.index)),
      error,
    );
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
    ? await client
        .call('profiles', 'PATCH /api/profiles/{id}', () =>
          client.profiles.updateProfile(id, { data: s.profile } as unknown as ProfilePartialUpdateQuery, { additionalFieldsProfile: ['subscriptions'] }),
        )
        .catch((e: unknown) => {
          // The path names the profile: a 404 here can only mean it is gone.
          const error = asEspError(e, 'klaviyo');
          throw error instanceof EspPermanentError && error.status === 404 ? profileGoneError(id, error) : error;
        })
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
