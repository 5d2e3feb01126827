/**
 * The requests `pushBatch` (push.ts) and `eraseContact` make for a planned push, decided the same way
 * from what segsync last saw: a read of the remote tags before any tag write, at most one batch
 * upsert and one batch update per batch, one membership call per tag list, and one unsubscribe call per
 * contact and subscription type. It plans and routes through push.ts's own `tagReadOf`, `planWrite`,
 * `mergeWrites` and `routeWrites`, so the two cannot drift apart; test/integration/sync/dry-run-calls.test.ts checks
 * the counts against the sandbox.
 */
import { EMAIL_KEY } from '../connector';
import type { ContactChange, EspLimits, PlannedPush, PushEstimate } from '../connector';
import { CallTally } from '../estimate';
import { mergeUnits } from '../push-driver';
import type { HubspotSettings } from './context';
import { BUCKET } from './limits';
import { mergeWrites, planWrite, routeWrites, tagReadOf } from './push';
import type { PlannedWrite } from './push';
import { wantsList } from './tags';

/** What the estimate knows besides the plan. */
export interface HubspotEstimateInput {
  settings: HubspotSettings;
  limits: EspLimits;
  /** Subscription types an unsubscribe covers, when known (configured, or read earlier in this process). */
  subscriptionTypes: number | undefined;
}

/** Estimates the requests of a planned push on HubSpot. */
export function estimateHubspotPush(input: HubspotEstimateInput, plan: PlannedPush): PushEstimate {
  const tally = new CallTally();
  let typesRead = input.subscriptionTypes !== undefined;
  for (const batch of plan.batches) {
    const units = plannedUnits(batch, input.settings, tally);
    const { upserts, updates } = routeWrites(units, input.settings.tagLists);
    tally.add(BUCKET.default, (upserts.length > 0 ? 1 : 0) + (updates.length > 0 ? 1 : 0));
    // Contacts that end with a record id (every written one, and known ones with nothing to write) change lists.
    const withId = units.filter((u) => u.item.byId || upserts.includes(u));
    if (input.settings.tagLists !== false)
      tally.add(
        BUCKET.default,
        new Set(withId.flatMap((u) => [...u.item.tagsAdded, ...u.item.tagsRemoved]).filter((t) => wantsList(input.settings.tagLists, t))).size,
      );
    // Every write that succeeded is opted out, whether or not it has a record id (HubSpot addresses it by email).
    const unsubscribes = units.filter((u) => u.item.unsubscribe).length;
    if (unsubscribes > 0) {
      if (!typesRead) {
        tally.add(BUCKET.default);
        typesRead = true;
      }
      if (input.subscriptionTypes === undefined)
        tally.assume('the account has one email subscription type (set connectors.hubspot.subscriptionIds to count exactly)');
      tally.add(BUCKET.default, unsubscribes * (input.subscriptionTypes ?? 1));
    }
  }
  tally.add(BUCKET.default, plan.erasures.length);
  return tally.result(input.limits);
}

/**
 * The batch's writes, planned and merged per record through push.ts's own `planWrite`, `mergeWrites`
 * (the values stand in as blanks: only which properties move counts); counts the remote-tag reads.
 */
function plannedUnits(batch: ContactChange[], settings: HubspotSettings, tally: CallTally): { item: PlannedWrite }[] {
  const reads = { id: false, email: false };
  const encoded: { index: number; item: PlannedWrite; change: ContactChange }[] = [];
  batch.forEach((change, index) => {
    // An email change without a record id fails before any call.
    if (EMAIL_KEY in change.set && !change.ref.externalId) return;
    const read = tagReadOf(change);
    if (read) reads[read] = true;
    if (read && !change.remoteTags) tally.assume('contacts whose HubSpot tags were never read hold none yet');
    const blanks = Object.fromEntries([...Object.keys(change.set), ...change.clear].map((name) => [name, '']));
    encoded.push({ index, item: planWrite(change, blanks, change.remoteTags ?? [], settings.tagProperty), change });
  });
  tally.add(BUCKET.default, (reads.id ? 1 : 0) + (reads.email ? 1 : 0));
  return mergeUnits(encoded, mergeWrites);
}
