/**
 * The requests `pushBatch` (push.ts) and `eraseContact` make for a planned push, decided the same way
 * from what segsync last saw: a read of the remote tags where they are unknown, at most one batch
 * upsert and one batch update per batch, one membership call per tag list, and one unsubscribe call per
 * contact and subscription type. Keep it in step with push.ts; test/integration/sync/dry-run-calls.test.ts
 * checks the two against the sandbox.
 */
import { EMAIL_KEY } from '../connector';
import type { ContactChange, EspLimits, PlannedPush, PushEstimate } from '../connector';
import { CallTally } from '../estimate';
import { wantsUnsubscribe } from './consent';
import type { HubspotSettings } from './context';
import { BUCKET } from './limits';
import { nextTags, sameTags, wantsList } from './tags';

/** What the estimate knows besides the plan. */
export interface HubspotEstimateInput {
  settings: HubspotSettings;
  limits: EspLimits;
  /** Subscription types an unsubscribe covers, when known (configured, or read earlier in this process). */
  subscriptionTypes: number | undefined;
}

interface Write {
  byId: boolean;
  writesProperties: boolean;
  tags: string[];
  unsubscribe: boolean;
}

/** Estimates the requests of a planned push on HubSpot. */
export function estimateHubspotPush(input: HubspotEstimateInput, plan: PlannedPush): PushEstimate {
  const tally = new CallTally();
  let typesRead = input.subscriptionTypes !== undefined;
  for (const batch of plan.batches) {
    const writes = plannedWrites(batch, input.settings, tally);
    const upserts = writes.filter((w) => !w.byId && (w.writesProperties || w.tags.some((t) => wantsList(input.settings.tagLists, t))));
    const updates = writes.filter((w) => w.byId && w.writesProperties);
    tally.add(BUCKET.default, (upserts.length > 0 ? 1 : 0) + (updates.length > 0 ? 1 : 0));
    // Contacts that end with a record id (every written one, and known ones with nothing to write) change lists.
    const withId = writes.filter((w) => w.byId || upserts.includes(w));
    if (input.settings.tagLists !== false) tally.add(BUCKET.default, new Set(withId.flatMap((w) => w.tags).filter((t) => wantsList(input.settings.tagLists, t))).size);
    // Every write that succeeded is opted out, whether or not it has a record id (HubSpot addresses it by email).
    const unsubscribes = writes.filter((w) => w.unsubscribe).length;
    if (unsubscribes > 0) {
      if (!typesRead) {
        tally.add(BUCKET.default);
        typesRead = true;
      }
      if (input.subscriptionTypes === undefined) tally.assume('the account has one email subscription type (set connectors.hubspot.subscriptionIds to count exactly)');
      tally.add(BUCKET.default, unsubscribes * (input.subscriptionTypes ?? 1));
    }
  }
  tally.add(BUCKET.default, plan.erasures.length);
  return tally.result(input.limits);
}

/** The batch's writes, merged per record as push.ts merges them; counts the remote-tag reads it needs. */
function plannedWrites(batch: ContactChange[], settings: HubspotSettings, tally: CallTally): Write[] {
  const reads = { id: false, email: false };
  const writes = new Map<string, Write>();
  for (const change of batch) {
    // An email change without a record id fails before any call.
    if (EMAIL_KEY in change.set && !change.ref.externalId) continue;
    const byId = change.ref.externalId !== undefined;
    let writesProperties = Object.keys(change.set).length + change.clear.length > 0;
    const tagChange = change.addTags.length + change.removeTags.length > 0;
    if (tagChange) {
      if (!change.remoteTags) {
        reads[byId ? 'id' : 'email'] = true;
        tally.assume('contacts whose HubSpot tags were never read hold none yet');
      }
      const remote = change.remoteTags ?? [];
      if (!sameTags(remote, nextTags(remote, change.addTags, change.removeTags))) writesProperties = true;
    }
    const key = byId ? `id:${change.ref.externalId}` : `email:${change.ref.email}`;
    const tags = tagChange ? [...change.addTags, ...change.removeTags] : [];
    const seen = writes.get(key);
    if (seen) {
      seen.writesProperties ||= writesProperties;
      seen.tags.push(...tags);
      seen.unsubscribe ||= wantsUnsubscribe(change);
    } else {
      writes.set(key, { byId, writesProperties, tags, unsubscribe: wantsUnsubscribe(change) });
    }
  }
  tally.add(BUCKET.default, (reads.id ? 1 : 0) + (reads.email ? 1 : 0));
  return [...writes.values()];
}
