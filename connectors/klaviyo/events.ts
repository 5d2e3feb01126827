/**
 * Engagement events from `GET /api/events`, one metric at a time (`equals(metric_id,…)` with a
 * datetime window, sorted by datetime, profile included for its email). Each becomes a segsync event
 * whose idempotency id is Klaviyo's event id.
 */
import type { FieldValue } from '../../src/model/types';
import { normaliseEmail } from '../../src/model/identity';
import type { Cursor, EventPage, RemoteEvent } from '../connector';
import type { KlaviyoContext } from './context';
import { advance, decodeEventCursor, encodeCursor, type EventCursor, type TimeCursor } from './cursor';
import { EVENTS_PAGE_MAX } from './limits';
import { listPages } from './pages';
import { eventPageSchema, metricPageSchema, type WireEvent } from './wire';

/** Metric id → name for the metrics we pull, from `GET /api/metrics`. */
export async function wantedMetrics(ctx: KlaviyoContext): Promise<Map<string, string>> {
  const wanted = new Set(ctx.options.eventMetrics);
  const out = new Map<string, string>();
  for await (const { page } of listPages(ctx.client, 'metrics', 'GET /api/metrics', metricPageSchema, (p) => ctx.client.metrics.getMetrics(p))) {
    for (const m of page.data) if (m.attributes.name && wanted.has(m.attributes.name)) out.set(m.id, m.attributes.name);
  }
  return out;
}

/** The filter for one metric's events from `position` up to `until`. */
export function eventFilter(metricId: string, position: TimeCursor | undefined, until: Date): string {
  const parts = [`equals(metric_id,${JSON.stringify(metricId)})`];
  if (position) parts.push(`greater-or-equal(datetime,${new Date(Date.parse(position.at)).toISOString()})`);
  parts.push(`less-than(datetime,${until.toISOString()})`);
  return parts.join(',');
}

/** Converts a wire event to a segsync `RemoteEvent`. */
export function toRemoteEvent(event: WireEvent, metricName: string, emails: Map<string, string>): RemoteEvent {
  const profileId = event.relationships?.profile?.data?.id ?? undefined;
  const time = event.attributes.datetime ? Date.parse(event.attributes.datetime) : (event.attributes.timestamp ?? 0) * 1000;
  const out: RemoteEvent = {
    eventId: event.id,
    name: metricName,
    time,
    properties: (event.attributes.event_properties ?? {}) as Record<string, FieldValue>,
  };
  if (profileId) {
    out.externalId = profileId;
    const email = emails.get(profileId);
    if (email) out.email = normaliseEmail(email);
  }
  return out;
}

/** Events since the cursor, per metric, oldest first. */
export async function* pullEvents(ctx: KlaviyoContext, cursor: Cursor | undefined, until: Date): AsyncGenerator<EventPage> {
  const state: EventCursor = decodeEventCursor(cursor) ?? { v: 1, kind: 'klaviyo-events', metrics: {} };
  const metrics = await wantedMetrics(ctx);
  for (const [metricId, metricName] of metrics) {
    const start = state.metrics[metricId];
    const skip = new Set(start?.ids ?? []);
    const filter = eventFilter(metricId, start, until);
    const fetch = (p: { pageCursor?: string }) =>
      ctx.client.events.getEvents({ filter, sort: 'datetime', include: ['profile'], fieldsProfile: ['email'], pageSize: EVENTS_PAGE_MAX, ...p });
    for await (const { page } of listPages(ctx.client, 'events', 'GET /api/events', eventPageSchema, fetch)) {
      const emails = new Map<string, string>();
      for (const inc of page.included ?? []) {
        const email = inc.attributes?.['email'];
        if (inc.type === 'profile' && typeof email === 'string') emails.set(inc.id, email);
      }
      const events: RemoteEvent[] = [];
      for (const event of page.data) {
        if (skip.has(event.id)) continue;
        const remote = toRemoteEvent(event, metricName, emails);
        events.push(remote);
        state.metrics[metricId] = advance(state.metrics[metricId], new Date(remote.time).toISOString(), event.id);
      }
      if (events.length > 0) yield { events, next: encodeCursor(state) };
    }
  }
  yield { events: [], next: encodeCursor(state) };
}
