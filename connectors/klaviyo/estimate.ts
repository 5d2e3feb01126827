/**
 * The requests `pushChanges` (push.ts, bulk.ts, tags.ts, consent.ts) and `eraseContact` make for a
 * planned push, decided the same way: below `bulkThreshold` sendable changes one write per profile,
 * at or above it one bulk job per chunk (its creation, one status read, and one profile lookup per 100
 * profiles whose id or consent the job does not answer); then list membership per tag and direction,
 * and subscription jobs. It decides through push.ts's and bulk.ts's own `toSendable`, `writeRoute`,
 * `planBulkChunks` and `needsLookup`, so the two cannot drift apart; test/integration/sync/dry-run-calls.test.ts
 * checks the counts against the sandbox.
 */
import type { EspLimits, PlannedPush, PushEstimate } from '../connector';
import { CallTally } from '../estimate';
import { needsLookup, planBulkChunks } from './bulk';
import { consentIntent } from './consent';
import type { ResolvedOptions } from './context';
import { LIST_MEMBERS_MAX, PROFILES_PAGE_MAX, SUBSCRIBE_MAX, UNSUBSCRIBE_MAX } from './limits';
import type { KlaviyoBucket } from './limits';
import type { Sendable } from './push';
import { toSendable, writeRoute } from './push';

/** Estimates the requests of a planned push on Klaviyo. */
export function estimateKlaviyoPush(options: ResolvedOptions, limits: EspLimits, plan: PlannedPush): PushEstimate {
  const tally = new CallTally();
  const add = (bucket: KlaviyoBucket, n = 1): void => tally.add(bucket, n);
  for (const batch of plan.batches) {
    const sendable = batch.map((c, i) => toSendable(c, i, options.tagProperty)).filter((s): s is Sendable => !('message' in s));
    if (writeRoute(sendable.length, options) === 'bulk') {
      for (const chunk of planBulkChunks(sendable, options.bulkMaxProfiles, options.bulkMaxBytes)) {
        add('bulkJobs', 2);
        const needed = chunk.filter((s) => needsLookup(s, options));
        add('profiles', Math.ceil(new Set(needed.map((s) => s.change.ref.email)).size / PROFILES_PAGE_MAX));
      }
      tally.assume('each bulk import job is complete at its first status read');
    } else {
      add('profiles', sendable.length);
    }
    if (options.tagLists !== false) {
      const members = new Map<string, number>();
      for (const s of sendable) {
        for (const [direction, tags] of [
          ['+', s.change.addTags],
          ['-', s.change.removeTags],
        ] as const) {
          for (const tag of tags) {
            if (typeof options.tagLists === 'object' && !options.tagLists[tag]) continue;
            members.set(`${direction}${tag}`, (members.get(`${direction}${tag}`) ?? 0) + 1);
          }
        }
      }
      for (const n of members.values()) add('listMembers', Math.ceil(n / LIST_MEMBERS_MAX));
    }
    const intents = sendable.map((s) => ({ intent: consentIntent(s.change), remote: s.change.remoteConsent }));
    // Klaviyo subscribes only profiles that never subscribed, and unsubscribes those it may still email
    // (subscribed, or never subscribed, as a profile segsync creates is): what segsync last knew decides.
    const subscribes = intents.filter((i) => i.intent === 'subscribe').length;
    const unsubscribes = intents.filter(
      (i) => i.intent === 'unsubscribe' && (i.remote === undefined || i.remote === 'subscribed' || i.remote === 'non-marketing'),
    ).length;
    if (subscribes > 0) tally.assume('profiles segsync subscribes have never subscribed on Klaviyo');
    add('subscriptions', Math.ceil(subscribes / SUBSCRIBE_MAX) + Math.ceil(unsubscribes / UNSUBSCRIBE_MAX));
  }
  add('dataPrivacy', plan.erasures.length);
  return tally.result(limits);
}
