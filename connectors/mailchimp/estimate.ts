/**
 * The requests `pushBatch` (push.ts) and `eraseMember` make for a planned push, decided the same way.
 * It decides through push.ts's own `renameOf`, `mergeChanges`, `routeFor` and `routeMembers`, so the
 * two cannot drift apart (test/integration/sync/dry-run-calls.test.ts checks the counts against the sandbox):
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
import type { ContactChange, EspLimits, PlannedPush, PushEstimate } from '../connector';
import { CallTally } from '../estimate';
import { mergeUnits } from '../push-driver';
import { normaliseEmail } from '../../src/model/identity';
import { mergeChanges, renameOf, routeFor, routeMembers } from './push';
import { chunkTagPlan, planTagChanges } from './tags';

/** The limiter bucket every Mailchimp call draws from. */
const BUCKET = 'default';

/** Estimates the requests of a planned push on Mailchimp. */
export function estimateMailchimpPush(limits: EspLimits, plan: PlannedPush, batchOperationsFrom: number): PushEstimate {
  const tally = new CallTally();
  for (const batch of plan.batches) {
    const refused = new Set<string>();
    for (const change of batch) {
      const rename = renameOf(change);
      if (rename.kind === 'refused') refused.add(normaliseEmail(change.ref.email));
      else if (rename.kind === 'rename') tally.add(BUCKET);
    }
    const merged = mergeUnits<ContactChange>(
      batch.map((change, index) => ({ index, item: change, change })),
      mergeChanges,
    );
    const members = merged.map((u) => ({ email: normaliseEmail(u.item.ref.email), change: u.item })).filter((m) => !refused.has(m.email));
    const routed = members.map((m) => ({
      route: routeFor(m.change, Object.keys(m.change.set).filter((k) => k !== EMAIL_KEY).length + m.change.clear.length > 0),
    }));
    const { creates, job, single } = routeMembers(routed, batchOperationsFrom);
    tally.add(BUCKET, creates.length + single.length);
    if (job.length > 0) {
      tally.add(BUCKET, 3);
      tally.assume('each batch job has finished at its first status read');
    }
    const tagged = members.filter((m) => m.change.addTags.length + m.change.removeTags.length > 0);
    for (const p of planTagChanges(tagged.map((m) => ({ email: m.email, addTags: m.change.addTags, removeTags: m.change.removeTags }))))
      tally.add(BUCKET, chunkTagPlan(p).length);
  }
  tally.add(BUCKET, plan.erasures.length);
  return tally.result(limits);
}
