/** How the sandbox shows its state in Mailchimp's response shapes, and the `fields` projection. */
import type { Audience, MemberState, MergeFieldState, SegmentState, WebhookState } from './audience';
import { mcTime } from './audience';

/** Mailchimp shows at most this many tags on a member. */
const MEMBER_TAGS_SHOWN = 50;

export function renderMember(a: Audience, m: MemberState): Record<string, unknown> {
  const tags = a.tagsOf(m.id);
  return {
    id: m.id,
    email_address: m.email,
    unique_email_id: m.uniqueEmailId,
    contact_id: m.uniqueEmailId,
    full_name: [m.merges.FNAME, m.merges.LNAME].filter((x) => typeof x === 'string' && x !== '').join(' '),
    web_id: m.webId,
    email_type: 'html',
    status: m.status,
    merge_fields: m.merges,
    stats: { avg_open_rate: 0, avg_click_rate: 0 },
    ip_signup: '',
    timestamp_signup: mcTime(m.signupAt),
    ip_opt: '',
    timestamp_opt: mcTime(m.optAt ?? m.signupAt),
    member_rating: 2,
    last_changed: mcTime(m.lastChanged),
    language: '',
    vip: false,
    email_client: '',
    location: { latitude: 0, longitude: 0, gmtoff: 0, dstoff: 0, country_code: '', timezone: '', region: '' },
    source: 'API - Generic',
    tags_count: tags.length,
    tags: tags.slice(0, MEMBER_TAGS_SHOWN).map((s) => ({ id: s.id, name: s.name })),
    list_id: a.id,
    _links: [],
  };
}

export function renderMergeField(a: Audience, f: MergeFieldState): Record<string, unknown> {
  return { ...f, list_id: a.id, _links: [] };
}

export function renderSegment(a: Audience, s: SegmentState): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    member_count: s.members.size,
    type: 'static',
    created_at: mcTime(s.createdAt),
    updated_at: mcTime(s.updatedAt),
    options: { match: 'any', conditions: [] },
    list_id: a.id,
    _links: [],
  };
}

export function renderWebhook(a: Audience, w: WebhookState): Record<string, unknown> {
  return { id: w.id, url: w.url, events: w.events, sources: w.sources, list_id: a.id, _links: [] };
}

export function renderList(a: Audience): Record<string, unknown> {
  const count = (s: string): number => [...a.members.values()].filter((m) => m.status === s).length;
  return {
    ...a.settings,
    id: a.id,
    web_id: 1,
    name: a.name,
    stats: { member_count: count('subscribed'), unsubscribe_count: count('unsubscribed'), cleaned_count: count('cleaned') },
    _links: [],
  };
}

/**
 * Mailchimp's `fields` parameter: keep only the dotted paths named (an array's items are projected
 * member-wise: `members.id` keeps `id` of each member).
 */
export function project(value: unknown, fields: string[] | undefined): unknown {
  if (!fields || fields.length === 0) return value;
  const tree: Record<string, unknown> = {};
  for (const f of fields) {
    let node = tree;
    const parts = f.split('.');
    parts.forEach((p, i) => {
      if (i === parts.length - 1) node[p] = true;
      else node = (node[p] === true ? node : (node[p] ??= {})) as Record<string, unknown>;
    });
  }
  return pick(value, tree);
}

function pick(value: unknown, tree: Record<string, unknown> | true): unknown {
  if (tree === true || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => pick(v, tree));
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(tree)) {
    if (k in (value as Record<string, unknown>)) out[k] = pick((value as Record<string, unknown>)[k], sub as Record<string, unknown> | true);
  }
  return out;
}
