/**
 * PATCH of many known members as one Mailchimp batch job (`POST /3.0/batches`): one call to start it,
 * polls until it has finished, one download of its results. It costs 2 + polls calls whatever the
 * number of members, against one call per member for PATCH one by one, so push.ts uses it from
 * `batchOperationsFrom` members on. Every operation is a PATCH, so it can neither create a member nor
 * carry a status segsync was not asked to write, exactly like the PATCH it replaces.
 */
import type { SegsyncError } from '../../src/errors';
import type { Clock } from '../../src/model/clock';
import { EspTransientError, asEspError } from '../../src/errors';
import type { MailchimpClient } from './client';
import type { UnfinishedJobs } from '../unfinished-jobs';
import { classifyFailure } from './errors';
import type { BatchOperationResult, MemberPatch } from './wire';

export interface BatchPatchOptions {
  /** First wait before a status poll, ms; doubled after every poll that finds the job running. */
  pollMs: number;
  /** Longest wait between two polls, ms. */
  pollMaxMs: number;
  /** How long to wait for the job in all, ms; after that its members are retried later. */
  timeoutMs: number;
  clock: Clock;
  /** Where a job given up on is noted, so later writes to its members wait for it. */
  unfinished?: UnfinishedJobs;
}

/** One member's answer: the member as Mailchimp returned it, or the classified error. */
export type PatchAnswer = { ok: true; body: unknown } | { ok: false; error: SegsyncError };

/** PATCHes every member through one batch job; one answer per hash (an error for all when the job fails as a whole). */
export async function patchInBatch(
  client: MailchimpClient,
  patches: { hash: string; body: MemberPatch }[],
  options: BatchPatchOptions,
): Promise<Map<string, PatchAnswer>> {
  const answers = new Map<string, PatchAnswer>();
  const failAll = (error: SegsyncError): Map<string, PatchAnswer> => {
    for (const p of patches) answers.set(p.hash, { ok: false, error });
    return answers;
  };
  let results: BatchOperationResult[];
  try {
    const path = `/lists/${encodeURIComponent(client.listId)}/members/`;
    let job = await client.startBatch(patches.map((p) => ({ method: 'PATCH', path: `${path}${p.hash}`, body: JSON.stringify(p.body), operation_id: p.hash })));
    // Noted before the wait: a process killed while it waits, or one that gives up, leaves the job running
    // at Mailchimp, and a later write to its members must wait for it (../unfinished-jobs.ts).
    if (job.status !== 'finished')
      options.unfinished?.add(
        job.id,
        patches.map((p) => p.hash),
      );
    const deadline = options.clock.now() + options.timeoutMs;
    const longest = Math.max(options.pollMaxMs, options.pollMs);
    for (let wait = options.pollMs; job.status !== 'finished'; wait = Math.min(longest, wait * 2)) {
      if (options.clock.now() + wait > deadline) {
        return failAll(
          new EspTransientError(`mailchimp: batch ${job.id} did not finish within ${Math.round(options.timeoutMs / 1000)} s`, {
            esp: 'mailchimp',
            hint: 'Mailchimp queues batch jobs when it is busy; segsync sends these members again later',
          }),
        );
      }
      await options.clock.sleep(wait);
      job = await client.batchStatus(job.id);
    }
    options.unfinished?.forget(job.id);
    results = job.response_body_url ? await client.batchResults(job.response_body_url) : [];
  } catch (err) {
    return failAll(asEspError(err, 'mailchimp'));
  }
  for (const r of results) {
    if (!r.operation_id) continue;
    if (r.status_code < 400) {
      answers.set(r.operation_id, { ok: true, body: parse(r.response) });
      continue;
    }
    const problem = parse(r.response);
    answers.set(r.operation_id, {
      ok: false,
      error: classifyFailure({ status: r.status_code, response: { status: r.status_code, body: problem } }, 'update member (batch)', options.pollMs),
    });
  }
  const missing = patches.filter((p) => !answers.has(p.hash));
  for (const p of missing)
    answers.set(p.hash, {
      ok: false,
      error: new EspTransientError(`mailchimp: the batch results hold no answer for member ${p.hash}`, {
        esp: 'mailchimp',
        hint: 'segsync sends it again later',
      }),
    });
  return answers;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
