/**
 * Bulk import jobs: chunks of up to 10,000 profiles / 5 MB, polled to completion, with each import
 * error attributed to its profile. A job Klaviyo refuses outright (one bad profile rejects the whole
 * body) is retried without the profiles its errors point at, or split in halves when they point at none
 * (`sendIsolating`).
 */
import type { ProfileImportJobCreateQuery } from 'klaviyo-api';
import { EspPermanentError, EspTransientError } from '../../src/errors';
import { normaliseEmail } from '../../src/model/identity';
import { sendIsolating, splitChunks } from '../batching';
import type { ContactChange } from '../connector';
import type { JobState } from '../unfinished-jobs';
import { listPages } from './pages';
import type { KlaviyoContext, ResolvedOptions } from './context';
import { errorObjects, profileGoneError } from './errors';
import { consentIntent } from './consent';
import { PROFILES_PAGE_MAX } from './limits';
import { existingProfileIds, lookUpProfiles } from './lookup';
import type { FailItems, Sendable, Written } from './push';
import { bulkJobSchema, importErrorPageSchema, parseAnswer, type WireBulkJob, type WireImportError, type WireProfile } from './wire';

/** Records what the job wrote for the change at `index`. */
type Done = (index: number, written: Written) => void;

/** Bytes of the job envelope around the profiles. */
const ENVELOPE_BYTES = 256;

/** Splits sendable changes into job-sized chunks by count and bytes (each profile plus its comma). */
export function planBulkChunks(items: Sendable[], maxProfiles: number, maxBytes: number): Sendable[][] {
  return splitChunks(items, { maxItems: maxProfiles, maxBytes, sizeOf: (s) => s.bytes + 1, envelopeBytes: ENVELOPE_BYTES });
}

/** True when a bulk job's answer (no ids, no consent) leaves the profile to be looked up: for its tag lists or its consent. */
export function needsLookup(s: Sendable, options: Pick<ResolvedOptions, 'tagLists'>): boolean {
  return (
    (options.tagLists !== false && !s.change.ref.externalId && s.change.addTags.length + s.change.removeTags.length > 0) ||
    consentIntent(s.change) !== undefined
  );
}

/** Pushes sendable changes through bulk jobs; records what was written and fails the rest. */
export async function pushBulk(ctx: KlaviyoContext, items: Sendable[], done: Done, fail: FailItems): Promise<void> {
  const chunks = planBulkChunks(items, ctx.options.bulkMaxProfiles, ctx.options.bulkMaxBytes);
  await Promise.all(chunks.map((chunk) => submitChunk(ctx, chunk, done, fail)));
}

/** The index into the job's profiles that a JSON pointer names (`/data/attributes/profiles/data/7/...`). */
export function profileIndexOf(pointer: string | null | undefined): number | undefined {
  const m = /^\/data\/attributes\/profiles\/data\/(\d+)(\/|$)/.exec(pointer ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Sends one chunk as a bulk job; a job refused outright goes again without the profiles its errors point at, or in halves. */
function submitChunk(ctx: KlaviyoContext, chunk: Sendable[], done: Done, fail: FailItems): Promise<void> {
  return sendIsolating<Sendable, WireBulkJob>(chunk, {
    call: (items) => startJob(ctx, items),
    named: (error, items) => pointedAt(error, items.length),
    fail,
    then: (items, job) => finishJob(ctx, items, job, done, fail),
  });
}

async function startJob(ctx: KlaviyoContext, chunk: Sendable[]): Promise<WireBulkJob> {
  const { client } = ctx;
  // Bulk items upsert by identifier; a known profile id goes along so an email change lands on it.
  const body = { data: { type: 'profile-bulk-import-job', attributes: { profiles: { data: chunk.map((s) => s.profile) } } } };
  const response = await client.call(
    'bulkJobs',
    'POST /api/profile-bulk-import-jobs',
    () => client.profiles.bulkImportProfiles(body as unknown as ProfileImportJobCreateQuery),
    'not-idempotent',
  );
  return parseAnswer(bulkJobSchema, response.data, 'POST /api/profile-bulk-import-jobs').data;
}

/** The profiles (positions in a job of `size`) a 400 for the whole job points at, each with its own error. */
function pointedAt(error: EspPermanentError, size: number): Map<number, EspPermanentError> {
  const pointed = new Map<number, EspPermanentError>();
  for (const e of errorObjects(error.cause)) {
    const i = profileIndexOf(e.source?.pointer);
    if (i === undefined || i >= size) continue;
    const detail = `${e.code ?? 'invalid'}: ${e.detail ?? e.title ?? ''}`;
    pointed.set(
      i,
      new EspPermanentError(`klaviyo: bulk import rejected the profile: ${detail}`, {
        esp: 'klaviyo',
        status: 400,
        hint: 'fix the contact locally; the other profiles were sent again without it',
      }),
    );
  }
  return pointed;
}

/** Waits for a started job and attributes its outcome: import errors to their profiles, what it wrote to the rest. */
async function finishJob(ctx: KlaviyoContext, chunk: Sendable[], job: WireBulkJob, done: Done, fail: FailItems): Promise<void> {
  // Noted before the wait: a process killed while it waits, or one that gives up, leaves the job running
  // at Klaviyo, and a later write to its profiles must wait for it (../unfinished-jobs.ts).
  ctx.unfinished.add(
    job.id,
    chunk.map((s) => jobKey(s.change)),
  );
  const finished = await waitForJob(ctx, job);
  if (finished) ctx.unfinished.forget(job.id);
  if (!finished) {
    const error = new EspTransientError(`klaviyo: bulk import job ${job.id} did not finish within ${ctx.options.jobTimeoutMs} ms`, {
      esp: 'klaviyo',
      hint: 'Klaviyo is slow to process imports; segsync sends these contacts again later',
    });
    fail(chunk, error);
    return;
  }
  const rejected = new Set<number>();
  if ((finished.attributes.failed_count ?? 0) > 0 || finished.attributes.status === 'cancelled') {
    const errors = new Map<number, WireImportError>();
    for (const importError of await listImportErrors(ctx, job.id)) {
      const position = positionOf(importError, chunk);
      if (position === undefined)
        ctx.logger.warn({ esp: 'klaviyo', job: job.id, code: importError.attributes.code }, 'import error names no profile of the job');
      else errors.set(position, importError);
    }
    for (const position of errors.keys()) rejected.add(position);
    const gone = await goneProfiles(
      ctx,
      [...errors.keys()].map((i) => chunk[i]!),
      fail,
    );
    for (const [position, importError] of errors) {
      const s = chunk[position]!;
      if (gone.has(s)) continue;
      const error = new EspPermanentError(`klaviyo: bulk import rejected the profile: ${importError.attributes.code}: ${importError.attributes.detail}`, {
        esp: 'klaviyo',
        vendorCode: importError.attributes.code,
        hint: `fix the value at ${importError.attributes.source.pointer ?? 'the profile'} locally; the other profiles of the job were imported`,
      });
      fail([s], error);
    }
  }
  const accepted = chunk.filter((_, i) => !rejected.has(i));
  if (finished.attributes.status === 'cancelled') {
    fail(
      accepted,
      new EspTransientError(`klaviyo: bulk import job ${job.id} was cancelled`, { esp: 'klaviyo', hint: 'segsync sends these contacts again later' }),
    );
    return;
  }
  // A bulk job answers no ids or consent: look up the profiles that need them (tag lists, consent).
  const needed = accepted.filter((s) => needsLookup(s, ctx.options));
  let profiles = new Map<string, WireProfile>();
  try {
    profiles = await lookUpProfiles(
      ctx,
      needed.map((s) => s.change.ref.email),
    );
  } catch (e) {
    fail(needed, e);
  }
  for (const s of accepted) {
    const profile = profiles.get(s.change.ref.email);
    const externalId = s.change.ref.externalId ?? profile?.id;
    const w: Written = {};
    if (externalId) w.externalId = externalId;
    if (profile) w.profile = profile;
    done(s.index, w);
  }
}

/**
 * Of the rejected profiles sent with an id, those Klaviyo no longer holds (deleted there since: the
 * import error does not say so), failed as gone; the ones it could not ask about fail with that error.
 * Returns every profile it settled.
 */
async function goneProfiles(ctx: KlaviyoContext, rejected: Sendable[], fail: FailItems): Promise<Set<Sendable>> {
  const withId = rejected.filter((s) => s.change.ref.externalId);
  if (!withId.length) return new Set();
  let existing: Set<string>;
  try {
    existing = await existingProfileIds(
      ctx,
      withId.map((s) => s.change.ref.externalId!),
    );
  } catch (e) {
    fail(withId, e);
    return new Set(withId);
  }
  const gone = withId.filter((s) => !existing.has(s.change.ref.externalId!));
  for (const s of gone) fail([s], profileGoneError(s.change.ref.externalId!));
  return new Set(gone);
}

/** The key a job notes a profile by: its email, as every write names it. */
export function jobKey(change: ContactChange): string {
  return normaliseEmail(change.ref.email);
}

/** Where a bulk import job stands. */
export async function bulkJobState(ctx: KlaviyoContext, id: string): Promise<JobState> {
  const response = await ctx.client.call('bulkJobs', 'GET /api/profile-bulk-import-jobs/{job_id}', () => ctx.client.profiles.getBulkImportProfilesJob(id));
  const { status } = parseAnswer(bulkJobSchema, response.data, 'GET /api/profile-bulk-import-jobs/{job_id}').data.attributes;
  return status === 'complete' || status === 'cancelled' ? 'finished' : 'running';
}

/** Polls the job until it is complete or cancelled; undefined when it takes longer than allowed. */
async function waitForJob(ctx: KlaviyoContext, job: WireBulkJob): Promise<WireBulkJob | undefined> {
  const deadline = ctx.clock.now() + ctx.options.jobTimeoutMs;
  let current = job;
  for (;;) {
    if (current.attributes.status === 'complete' || current.attributes.status === 'cancelled') return current;
    if (ctx.clock.now() >= deadline) return undefined;
    await ctx.clock.sleep(ctx.options.jobPollIntervalMs);
    const response = await ctx.client.call('bulkJobs', 'GET /api/profile-bulk-import-jobs/{job_id}', () =>
      ctx.client.profiles.getBulkImportProfilesJob(job.id),
    );
    current = parseAnswer(bulkJobSchema, response.data, 'GET /api/profile-bulk-import-jobs/{job_id}').data;
  }
}

async function listImportErrors(ctx: KlaviyoContext, jobId: string): Promise<WireImportError[]> {
  const out: WireImportError[] = [];
  const operation = 'GET /api/profile-bulk-import-jobs/{id}/import-errors';
  for await (const { page } of listPages(ctx.client, 'bulkJobs', operation, importErrorPageSchema, (p) =>
    ctx.client.profiles.getErrorsForBulkImportProfilesJob(jobId, { pageSize: PROFILES_PAGE_MAX, ...p }),
  )) {
    out.push(...page.data);
  }
  return out;
}

/** Which profile of the chunk an import error is about: by pointer, else by the email it echoes. */
function positionOf(error: WireImportError, chunk: Sendable[]): number | undefined {
  const byPointer = profileIndexOf(error.attributes.source.pointer);
  if (byPointer !== undefined && byPointer < chunk.length) return byPointer;
  const email = error.attributes.original_payload?.['email'];
  if (typeof email !== 'string') return undefined;
  const i = chunk.findIndex((s) => s.change.ref.email === email.trim().toLowerCase());
  return i >= 0 ? i : undefined;
}
