/** JSON:API documents as Klaviyo shapes them (revision 2026-07-15): resources, errors, cursor pages. */
import type { BulkJob, ImportError, Json, KlaviyoEvent, KlaviyoList, Metric, Profile, SandboxState } from './state';
import { klaviyoTime } from './state';

export interface ApiError {
  status: number;
  code: string;
  title: string;
  detail: string;
  pointer?: string;
  parameter?: string;
  meta?: Record<string, Json>;
}

/** A JSON:API error body. */
export function errorBody(errors: ApiError[], newId: () => string): { errors: Json[] } {
  return {
    errors: errors.map((e) => {
      const out: Record<string, Json> = { id: newId(), status: e.status, code: e.code, title: e.title, detail: e.detail };
      if (e.pointer !== undefined || e.parameter !== undefined) {
        out['source'] = e.pointer !== undefined ? { pointer: e.pointer } : { parameter: e.parameter! };
      }
      if (e.meta) out['meta'] = e.meta;
      return out;
    }),
  };
}

export function profileResource(p: Profile, base: string, withSubscriptions: boolean): Record<string, Json> {
  const attributes: Record<string, Json> = {
    email: p.email,
    phone_number: p.phone_number,
    external_id: p.external_id,
    first_name: p.first_name,
    last_name: p.last_name,
    organization: p.organization,
    locale: p.locale,
    title: p.title,
    image: p.image,
    created: p.created,
    updated: p.updated,
    last_event_date: null,
    location: p.location,
    properties: p.properties,
  };
  if (withSubscriptions) {
    const m = p.marketing;
    attributes['subscriptions'] = {
      email: {
        marketing: {
          can_receive_email_marketing: m.consent !== 'UNSUBSCRIBED' && m.suppression.length === 0,
          consent: m.consent,
          consent_timestamp: m.consent_timestamp,
          last_updated: m.consent_timestamp,
          method: m.method,
          method_detail: null,
          custom_method_detail: null,
          double_optin: null,
          suppression: m.suppression.map((s) => ({ reason: s.reason, timestamp: s.timestamp })),
          list_suppressions: [],
        },
      },
    };
  }
  return { type: 'profile', id: p.id, attributes, links: { self: `${base}/api/profiles/${p.id}/` } };
}

export function listResource(l: KlaviyoList, base: string): Record<string, Json> {
  return {
    type: 'list',
    id: l.id,
    attributes: { name: l.name, created: l.created, updated: l.updated, opt_in_process: 'single_opt_in' },
    links: { self: `${base}/api/lists/${l.id}/` },
  };
}

export function metricResource(m: Metric, base: string): Record<string, Json> {
  return {
    type: 'metric',
    id: m.id,
    attributes: {
      name: m.name,
      created: m.created,
      updated: m.created,
      integration: { object: 'integration', id: '0rG4eQ', name: 'Klaviyo', category: 'Internal' },
    },
    links: { self: `${base}/api/metrics/${m.id}/` },
  };
}

export function eventResource(e: KlaviyoEvent, base: string): Record<string, Json> {
  return {
    type: 'event',
    id: e.id,
    attributes: { timestamp: Math.floor(e.time / 1000), event_properties: e.properties, datetime: klaviyoTime(e.time), uuid: e.uuid },
    relationships: {
      profile: {
        data: { type: 'profile', id: e.profileId },
        links: { self: `${base}/api/events/${e.id}/relationships/profile/`, related: `${base}/api/events/${e.id}/profile/` },
      },
      metric: {
        data: { type: 'metric', id: e.metricId },
        links: { self: `${base}/api/events/${e.id}/relationships/metric/`, related: `${base}/api/events/${e.id}/metric/` },
      },
    },
    links: { self: `${base}/api/events/${e.id}/` },
  };
}

export function bulkJobResource(job: BulkJob, state: SandboxState, base: string): Record<string, Json> {
  const status = state.jobStatus(job);
  const done = status === 'complete';
  return {
    type: 'profile-bulk-import-job',
    id: job.id,
    attributes: {
      status,
      created_at: klaviyoTime(job.createdAt),
      total_count: job.items.length,
      completed_count: done ? job.items.length - job.errors.length : 0,
      failed_count: done ? job.errors.length : 0,
      completed_at: done ? klaviyoTime(job.completeAt) : null,
      expires_at: klaviyoTime(job.createdAt + 7 * 86_400_000),
      started_at: status === 'queued' ? null : klaviyoTime(job.startAt),
    },
    links: { self: `${base}/api/profile-bulk-import-jobs/${job.id}/` },
  };
}

export function importErrorResource(e: ImportError): Record<string, Json> {
  return {
    type: 'import-error',
    id: e.id,
    attributes: { code: e.code, title: e.title, detail: e.detail, source: { pointer: e.pointer }, original_payload: e.original },
  };
}

/** A stable keyset page: items sorted by (key, id); the cursor names the last item served. */
export function keysetPage<T>(
  items: T[],
  key: (item: T) => string | number,
  id: (item: T) => string,
  descending: boolean,
  size: number,
  cursor: string | undefined,
): { page: T[]; next: string | undefined } {
  const cmp = (a: T, b: T): number => {
    const ka = key(a);
    const kb = key(b);
    const c = ka < kb ? -1 : ka > kb ? 1 : id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0;
    return descending ? -c : c;
  };
  const sorted = [...items].sort(cmp);
  let start = 0;
  if (cursor) {
    const [ck, cid] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string | number, string];
    const marker = { k: ck, i: cid };
    start = sorted.findIndex((item) => {
      const k = key(item);
      const c = k < marker.k ? -1 : k > marker.k ? 1 : id(item) < marker.i ? -1 : id(item) > marker.i ? 1 : 0;
      return descending ? c < 0 : c > 0;
    });
    if (start < 0) start = sorted.length;
  }
  const page = sorted.slice(start, start + size);
  const last = page[page.length - 1];
  const next = start + size < sorted.length && last ? Buffer.from(JSON.stringify([key(last), id(last)])).toString('base64url') : undefined;
  return { page, next };
}
