/**
 * Consent: changed only through Klaviyo's subscription bulk jobs, never as a side effect of a profile
 * write. Subscribe only profiles Klaviyo says NEVER_SUBSCRIBED (and unsuppressed) whose local consent
 * is subscribed: the subscribe job lifts unsubscribe suppressions, so calling it for anyone else would
 * be a resubscribe. Unsubscribe only when segsync was asked to carry an opt-out, every profile Klaviyo
 * may still email (SUBSCRIBED, or NEVER_SUBSCRIBED with no suppression: Klaviyo's
 * `can_receive_email_marketing` is true for those too), and without a list: the job unsubscribes
 * globally when the profile is not on the list it names, so naming one would make the scope an
 * accident of list membership.
 */
import type { SubscriptionCreateJobCreateQuery, SubscriptionDeleteJobCreateQuery } from 'klaviyo-api';
import type { ConsentStatus } from '../../src/model/types';
import type { ContactChange } from '../connector';
import type { KlaviyoContext } from './context';
import { canReceiveMarketing, consentTimeOf, isNeverSubscribed } from './fields';
import { splitChunks } from '../batching';
import { noteKeyOfEmail } from '../notes';
import { SUBSCRIBE_MAX, UNSUBSCRIBE_MAX } from './limits';
import { lookUpProfiles } from './lookup';
import type { FailItems } from './push';
import type { WireSubscriptions } from './wire';

export interface ConsentItem {
  index: number;
  change: ContactChange;
  /** Klaviyo's subscriptions as the write answered them, when it did. */
  subscriptions?: WireSubscriptions;
}

/**
 * How long a subscribe job segsync sent is taken as possibly not applied yet (Klaviyo applies them
 * within minutes). The notes are the connector's (the store's under the sync engine): the push that
 * sent the job may be a `segsync push` long gone when the opt-out comes.
 */
const SUBSCRIBE_JOB_NOTE_MS = 3_600_000;
const SUBSCRIBE_JOB_NOTES = 'subscribe-job';

const SETTLED_ELSEWHERE: ReadonlySet<ConsentStatus | undefined> = new Set(['unsubscribed', 'cleaned']);

/** Whether a change may lead to a subscribe or unsubscribe call (before checking Klaviyo's state). */
export function consentIntent(change: ContactChange): 'subscribe' | 'unsubscribe' | undefined {
  if (change.localConsent === 'subscribed' && change.remoteConsent !== 'subscribed' && !SETTLED_ELSEWHERE.has(change.remoteConsent)) return 'subscribe';
  if (change.optOut && !SETTLED_ELSEWHERE.has(change.remoteConsent)) return 'unsubscribe';
  return undefined;
}

/** Brings Klaviyo's email consent in line where segsync may; failures are reported per contact. */
export async function applyConsent(ctx: KlaviyoContext, items: ConsentItem[], fail: FailItems): Promise<void> {
  const wanted = items.map((item) => ({ item, intent: consentIntent(item.change) })).filter((w) => w.intent !== undefined);
  if (wanted.length === 0) return;
  const unknown = wanted.filter((w) => w.item.subscriptions === undefined).map((w) => w.item);
  try {
    const looked = await lookUpProfiles(
      ctx,
      unknown.map((i) => i.change.ref.email),
    );
    for (const item of unknown) item.subscriptions = looked.get(item.change.ref.email)?.attributes.subscriptions ?? undefined;
  } catch (e) {
    fail(unknown, e);
    return;
  }
  const subscribe = wanted.filter((w) => w.intent === 'subscribe' && isNeverSubscribed(w.item.subscriptions)).map((w) => w.item);
  // A subscribe job segsync sent lately may not show on the profile yet: Klaviyo would apply it after this
  // read and subscribe someone who has since opted out. Their opt-out goes anyway, as a job after it.
  const optingOut = wanted.filter((w) => w.intent === 'unsubscribe').map((w) => w.item);
  const lately = subscribedLately(
    ctx,
    optingOut.map((i) => i.change.ref.email),
  );
  // A subscription Klaviyo stamped after the opt-out was made there since (the person signed up again
  // between segsync's read and this push): it stands, unless it may be segsync's own subscribe job.
  const unsubscribe = optingOut.filter((i) =>
    lately.has(noteKeyOfEmail(i.change.ref.email)) ? true : canReceiveMarketing(i.subscriptions) && !resubscribedSince(i),
  );
  await Promise.all([
    ...splitChunks(subscribe, { maxItems: SUBSCRIBE_MAX }).map((group) => runJob(ctx, group, 'subscribe', fail)),
    ...splitChunks(unsubscribe, { maxItems: UNSUBSCRIBE_MAX }).map((group) => runJob(ctx, group, 'unsubscribe', fail)),
  ]);
}

/** Whether Klaviyo holds a subscription stamped after the opt-out the change carries. */
function resubscribedSince(item: ConsentItem): boolean {
  const at = consentTimeOf(item.subscriptions);
  return item.subscriptions?.email?.marketing?.consent === 'SUBSCRIBED' && at !== undefined && item.change.optOut !== undefined && at > item.change.optOut.at;
}

/** Notes that segsync sent a subscribe job for `emails` now, for the next hour. */
function noteSubscribes(ctx: KlaviyoContext, emails: string[]): void {
  const now = ctx.clock.now();
  ctx.notes.put(
    SUBSCRIBE_JOB_NOTES,
    emails.map((e) => [noteKeyOfEmail(e), String(now)] as const),
    now + SUBSCRIBE_JOB_NOTE_MS,
  );
}

/** The note keys of those of `emails` segsync sent a subscribe job for within the hour. */
function subscribedLately(ctx: KlaviyoContext, emails: string[]): Set<string> {
  return emails.length ? new Set(ctx.notes.get(SUBSCRIBE_JOB_NOTES, emails.map(noteKeyOfEmail)).keys()) : new Set();
}

async function runJob(ctx: KlaviyoContext, group: ConsentItem[], kind: 'subscribe' | 'unsubscribe', fail: FailItems): Promise<void> {
  const { client, options } = ctx;
  const consent = kind === 'subscribe' ? 'SUBSCRIBED' : 'UNSUBSCRIBED';
  const profiles = group.map((i) => ({ type: 'profile', attributes: { email: i.change.ref.email, subscriptions: { email: { marketing: { consent } } } } }));
  try {
    if (kind === 'subscribe') {
      // Noted before the call: a process killed between Klaviyo's answer and the note would leave an
      // opt-out after it unsent; a note of a job that never went only costs an unsubscribe job the opt-out wants anyway.
      noteSubscribes(
        ctx,
        group.map((i) => i.change.ref.email),
      );
      const data: Record<string, unknown> = { type: 'profile-subscription-bulk-create-job', attributes: { profiles: { data: profiles } } };
      if (options.subscribeListId) data['relationships'] = { list: { data: { type: 'list', id: options.subscribeListId } } };
      await client.call('subscriptions', 'POST /api/profile-subscription-bulk-create-jobs', () =>
        client.profiles.bulkSubscribeProfiles({ data } as unknown as SubscriptionCreateJobCreateQuery),
      );
    } else {
      const data = { type: 'profile-subscription-bulk-delete-job', attributes: { profiles: { data: profiles } } };
      await client.call('subscriptions', 'POST /api/profile-subscription-bulk-delete-jobs', () =>
        client.profiles.bulkUnsubscribeProfiles({ data } as unknown as SubscriptionDeleteJobCreateQuery),
      );
      ctx.notes.drop(
        SUBSCRIBE_JOB_NOTES,
        group.map((i) => noteKeyOfEmail(i.change.ref.email)),
      );
    }
  } catch (e) {
    fail(group, e);
  }
}
