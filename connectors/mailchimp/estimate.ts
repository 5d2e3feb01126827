/**
 * The requests `pushBatch` (push.ts) and `eraseMember` make for a planned push, decided the same way.
 * How it decides, per batch (keep it in step with push.ts; test/integration/sync/dry-run-calls.test.ts
 * checks the two against the sandbox):
 * - an email change whose member id is not the hash of the new email: one PATCH (the rename);
 * - changes of one email merge into one member; its route is `routeFor(change, hasFields)`:
 *   `batch-new` members (never seen on Mailchimp) go `MEMBER_BATCH` to a `POST /lists/{id}` call,
 *   taken to be new (one that turns out to exist costs one PATCH more); `upsert` members cost one
 *   call each; `patch` members one call each, or, from `batchOperationsFrom` of them on, one batch job
 *   (start, one status read, one download of its results: the job taken as finished at its first
 *   status read); `none` costs nothing;
 * - tags: one `POST /segments/{id}` call per `SEGMENT_BATCH` adds and removes of each tag (the tags
 *   exist: `ensureSchema` made them);
 * - one call per erasure.
 * The merge-field schema is taken as read by `ensureSchema`.
 */
import { EMAIL_KEY } from '../connector';
import type { EspLimits, PlannedPush, PushEstimate } from '../connector';
import { CallTally } from '../estimate';
import { subscriberHash, normaliseEmail } from '../../src/model/identity';
import { MEMBER_BATCH, mergeByEmail, routeFor } from './push';
import { chunkTagPlan, planTagChanges } from './tags';

/** The limiter bucket every Mailchimp call draws from. */
const BUCKET = 'default';

/** Estimates the requests of a planned push on Mailchimp. */
export function estimateMailchimpPush(limits: EspLimits, plan: PlannedPush, batchOperationsFrom: number): PushEstimate {
  const tally = new CallTally();
  for (const batch of plan.batches) {
    const refused = new Set<string>();
    for (const change of batch) {
      if (!(EMAIL_KEY in change.set)) continue;
      const email = normaliseEmail(change.ref.email);
      if (!change.ref.externalId) refused.add(email);
      else if (change.ref.externalId !== subscriberHash(email)) tally.add(BUCKET);
    }
    const members = [...mergeByEmail(batch)].filter(([email]) => !refused.has(email)).map(([email, { change }]) => ({ email, change }));
    let fresh = 0;
    let patches = 0;
    for (const { change } of members) {
      const fields = Object.keys(change.set).filter((k) => k !== EMAIL_KEY).length + change.clear.length;
      const route = routeFor(change, fields > 0);
      if (route.kind === 'batch-new') fresh++;
      else if (route.kind === 'patch') patches++;
      else if (route.kind !== 'none') tally.add(BUCKET);
    }
    tally.add(BUCKET, Math.ceil(fresh / MEMBER_BATCH));
    if (patches >= batchOperationsFrom) {
      tally.add(BUCKET, 3);
      tally.assume('each batch job has finished at its first status read');
    } else tally.add(BUCKET, patches);
    const tagged = members.filter((m) => m.change.addTags.length + m.change.removeTags.length > 0);
    for (const p of planTagChanges(tagged.map((m) => ({ email: m.email, addTags: m.change.addTags, removeTags: m.change.removeTags })))) tally.add(BUCKET, chunkTagPlan(p).length);
  }
  tally.add(BUCKET, plan.erasures.length);
  return tally.result(limits);
}
