/**
 * The sandbox's model of one Mailchimp audience: members, merge fields, static segments (tags),
 * webhooks and permanently deleted addresses, with Mailchimp's rules (status_if_new, compliance
 * state, forgotten emails, 500-per-call limits). No HTTP here: routes.ts maps requests onto it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../../src/model/clock';
import { replaceEntries } from '../../sandbox-state-file';
import { Problem, compliance, forgotten, invalid, notFound } from './problem';

export type Status = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional' | 'archived';
const WRITABLE = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'];

/** Where a change came from, as Mailchimp's webhook `sources` name it. */
export type Source = 'api' | 'admin' | 'user';

export interface MemberState {
  id: string;
  email: string;
  status: Status;
  /** The status an archived member had (it comes back with it). */
  statusBeforeArchive?: Status;
  merges: Record<string, unknown>;
  uniqueEmailId: string;
  webId: number;
  signupAt: number;
  /** When the member last became subscribed (Mailchimp's `timestamp_opt`; the signup time until then). */
  optAt?: number;
  lastChanged: number;
  /** Insertion order: a stable tie-break when sorting on whole-second times. */
  seq: number;
}

export interface MergeFieldState {
  merge_id: number;
  tag: string;
  name: string;
  type: string;
  required: boolean;
  public: boolean;
  display_order: number;
  default_value: string;
  help_text: string;
  options: { date_format?: string; choices?: string[]; size?: number; default_country?: number; phone_format?: string };
}

export interface SegmentState {
  id: number;
  name: string;
  members: Set<string>;
  createdAt: number;
  updatedAt: number;
}

export interface WebhookState {
  id: string;
  url: string;
  events: Record<string, boolean>;
  sources: Record<string, boolean>;
}

/** A webhook event the audience wants delivered. */
export interface WebhookEvent {
  type: 'subscribe' | 'unsubscribe' | 'profile' | 'cleaned' | 'upemail';
  source: Source;
  firedAt: number;
  data: Record<string, string | Record<string, string>>;
}

export const MAX_BATCH = 500;
export const MAX_TAG_LENGTH = 10;

export function hashOf(email: string): string {
  return createHash('md5').update(email.trim().toLowerCase()).digest('hex');
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Mailchimp's ISO form: whole seconds, `+00:00`. */
export function mcTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Everything an audience holds, for the sandbox's state file. */
export interface AudienceSnapshot {
  id: string;
  name: string;
  members: Map<string, MemberState>;
  mergeFields: MergeFieldState[];
  segments: Map<number, SegmentState>;
  webhooks: Map<string, WebhookState>;
  forgotten: Set<string>;
  settings?: Record<string, unknown>;
  seq: number;
  nextMergeId: number;
  nextSegmentId: number;
}

export class Audience {
  readonly members = new Map<string, MemberState>();
  readonly mergeFields: MergeFieldState[] = [];
  readonly segments = new Map<number, SegmentState>();
  readonly webhooks = new Map<string, WebhookState>();
  /** Hashes erased with delete-permanent: the API may never add them again. */
  readonly forgotten = new Set<string>();
  /** What `POST /lists` was given besides the name (contact, campaign defaults, permission reminder …), and `date_created`. */
  settings: Record<string, unknown> = {};
  private seq = 0;
  private nextMergeId = 1;
  private nextSegmentId = 1001;

  constructor(
    readonly id: string,
    readonly name: string,
    private readonly clock: Clock,
    private readonly emit: (event: WebhookEvent) => void,
  ) {
    for (const [tag, name, type, options] of [
      ['FNAME', 'First Name', 'text', { size: 25 }],
      ['LNAME', 'Last Name', 'text', { size: 25 }],
      ['ADDRESS', 'Address', 'address', { default_country: 164 }],
      ['PHONE', 'Phone Number', 'phone', { phone_format: 'none' }],
      ['BIRTHDAY', 'Birthday', 'birthday', { date_format: 'MM/DD' }],
    ] as const) {
      this.addMergeField({ tag, name, type, options });
    }
  }

  private now(): number {
    return Math.floor(this.clock.now() / 1000) * 1000;
  }

  /** Everything the audience holds (live objects: serialise before changing anything). */
  snapshot(): AudienceSnapshot {
    const { id, name, members, mergeFields, segments, webhooks, forgotten, settings, seq, nextMergeId, nextSegmentId } = this;
    return { id, name, members, mergeFields, segments, webhooks, forgotten, settings, seq, nextMergeId, nextSegmentId };
  }

  /** Replaces everything the audience holds with a snapshot (no webhooks: nothing happened). */
  restore(s: AudienceSnapshot): void {
    replaceEntries(this.members, s.members);
    this.mergeFields.splice(0, this.mergeFields.length, ...s.mergeFields);
    replaceEntries(this.segments, s.segments);
    replaceEntries(this.webhooks, s.webhooks);
    this.forgotten.clear();
    for (const h of s.forgotten) this.forgotten.add(h);
    this.settings = s.settings ?? {};
    this.seq = s.seq;
    this.nextMergeId = s.nextMergeId;
    this.nextSegmentId = s.nextSegmentId;
  }

  // ---- merge fields ----

  addMergeField(body: {
    tag?: string;
    name?: string;
    type?: string;
    options?: MergeFieldState['options'];
    required?: boolean;
    public?: boolean;
  }): MergeFieldState {
    if (!body.name || !body.type)
      throw invalid('The resource submitted could not be validated.', [{ field: body.name ? 'type' : 'name', message: 'This value should not be blank.' }]);
    const tag = (body.tag ?? `MMERGE${this.nextMergeId}`).toUpperCase();
    if (!/^[A-Z][A-Z0-9_]*$/.test(tag) || tag.length > MAX_TAG_LENGTH) {
      throw invalid('The resource submitted could not be validated.', [
        { field: 'tag', message: `Merge tags are at most ${MAX_TAG_LENGTH} letters, digits or underscores.` },
      ]);
    }
    if (this.mergeFields.some((f) => f.tag === tag)) throw invalid(`A Merge Field with the tag "${tag}" already exists for this list.`);
    if (['radio', 'dropdown'].includes(body.type) && !(body.options?.choices && body.options.choices.length > 0)) {
      throw invalid('The resource submitted could not be validated.', [{ field: 'options.choices', message: 'Choices are required for this field type.' }]);
    }
    const options = { ...(body.options ?? {}) };
    if (body.type === 'date' && !options.date_format) options.date_format = 'MM/DD/YYYY';
    if (body.type === 'date' && !['MM/DD/YYYY', 'DD/MM/YYYY'].includes(options.date_format!)) {
      throw invalid('The resource submitted could not be validated.', [{ field: 'options.date_format', message: 'Use MM/DD/YYYY or DD/MM/YYYY.' }]);
    }
    const field: MergeFieldState = {
      merge_id: this.nextMergeId++,
      tag,
      name: body.name,
      type: body.type,
      required: body.required ?? false,
      public: body.public ?? false,
      display_order: this.mergeFields.length + 1,
      default_value: '',
      help_text: '',
      options,
    };
    this.mergeFields.push(field);
    return field;
  }

  /** Checks and stores merge values the way Mailchimp does (strings; numbers; dates in the field's format). */
  private applyMerges(member: MemberState | undefined, merges: Record<string, unknown> | undefined): Record<string, unknown> {
    const out = { ...(member?.merges ?? this.emptyMerges()) };
    if (!merges) return out;
    const errors: { field: string; message: string }[] = [];
    for (const [tag, value] of Object.entries(merges)) {
      const field = this.mergeFields.find((f) => f.tag === tag);
      if (!field) {
        errors.push({ field: tag, message: `There is no merge field with the tag "${tag}".` });
        continue;
      }
      const problem = checkMergeValue(field, value);
      if (problem) errors.push({ field: tag, message: problem });
      else out[tag] = field.type === 'number' && value !== '' ? Number(value) : value;
    }
    if (errors.length > 0) throw invalid('Your merge fields were invalid.', errors);
    return out;
  }

  private emptyMerges(): Record<string, unknown> {
    return Object.fromEntries(this.mergeFields.map((f) => [f.tag, '']));
  }

  // ---- members ----

  member(hash: string): MemberState | undefined {
    return this.members.get(hash);
  }

  requireMember(hash: string, includeArchived = true): MemberState {
    const m = this.members.get(hash);
    if (!m || (!includeArchived && m.status === 'archived')) throw notFound(`member ${hash}`);
    return m;
  }

  /** The status an existing member may move to, or the compliance refusal. */
  private nextStatus(member: MemberState, wanted: string | undefined): Status {
    const current = member.status === 'archived' ? (member.statusBeforeArchive ?? 'subscribed') : member.status;
    if (wanted === undefined) return current;
    if (!WRITABLE.includes(wanted))
      throw invalid('The resource submitted could not be validated.', [{ field: 'status', message: `"${wanted}" is not a status.` }]);
    if (wanted === current) return current;
    if (wanted === 'cleaned')
      throw invalid('The resource submitted could not be validated.', [{ field: 'status', message: 'Members cannot be cleaned through the API.' }]);
    if ((current === 'unsubscribed' || current === 'cleaned') && (wanted === 'subscribed' || wanted === 'transactional')) throw compliance(member.email);
    return wanted as Status;
  }

  private create(email: string, status: string | undefined, merges: Record<string, unknown> | undefined, source: Source): MemberState {
    const hash = hashOf(email);
    if (this.forgotten.has(hash)) throw forgotten(email);
    if (!EMAIL.test(email))
      throw invalid(`${email} looks fake or invalid, please enter a real email address.`, [{ field: 'email_address', message: 'Invalid email address.' }]);
    if (status === undefined || !WRITABLE.includes(status)) {
      throw invalid('The resource submitted could not be validated.', [{ field: 'status', message: 'A valid status is required for new members.' }]);
    }
    if (status === 'cleaned')
      throw invalid('The resource submitted could not be validated.', [{ field: 'status', message: 'Members cannot be cleaned through the API.' }]);
    const now = this.now();
    const m: MemberState = {
      id: hash,
      email,
      status: status as Status,
      merges: this.applyMerges(undefined, merges),
      uniqueEmailId: randomBytes(5).toString('hex'),
      webId: 100000 + this.seq,
      signupAt: now,
      ...(status === 'subscribed' ? { optAt: now } : {}),
      lastChanged: now,
      seq: this.seq++,
    };
    this.members.set(hash, m);
    if (m.status === 'subscribed') this.fire('subscribe', source, m);
    return m;
  }

  private update(m: MemberState, status: string | undefined, merges: Record<string, unknown> | undefined, source: Source): MemberState {
    const next = this.nextStatus(m, status);
    const newMerges = this.applyMerges(m, merges);
    const before = m.status;
    const changedMerges = JSON.stringify(newMerges) !== JSON.stringify(m.merges);
    m.merges = newMerges;
    m.status = next;
    delete m.statusBeforeArchive;
    if (changedMerges || before !== next) {
      m.lastChanged = this.now();
      m.seq = this.seq++;
    }
    if (before !== next && next === 'subscribed') {
      m.optAt = this.now();
      this.fire('subscribe', source, m);
    } else if (before !== next && next === 'unsubscribed') this.fire('unsubscribe', source, m, { action: 'unsub', reason: 'manual' });
    else if (changedMerges) this.fire('profile', source, m);
    return m;
  }

  /** PUT: add or update; `status_if_new` only for new members, `status` always. */
  upsert(
    hash: string,
    body: { email_address?: string; status_if_new?: string; status?: string; merge_fields?: Record<string, unknown> },
    source: Source,
  ): MemberState {
    const email = body.email_address?.trim();
    if (!email) throw invalid('The resource submitted could not be validated.', [{ field: 'email_address', message: 'This value should not be blank.' }]);
    const existing = this.members.get(hash);
    if (existing) return this.update(existing, body.status, body.merge_fields, source);
    if (hashOf(email) !== hash) throw invalid('The subscriber hash does not match the email address.');
    return this.create(email, body.status ?? body.status_if_new, body.merge_fields, source);
  }

  /** PATCH: existing members only. */
  patch(hash: string, body: { email_address?: string; status?: string; merge_fields?: Record<string, unknown> }, source: Source): MemberState {
    let m = this.requireMember(hash, false);
    const email = body.email_address?.trim().toLowerCase();
    // PATCH with another email_address changes the member's email (its id follows: md5 of the new email).
    if (email !== undefined && email !== m.email) {
      if (!EMAIL.test(email))
        throw invalid(`${email} looks fake or invalid, please enter a real email address.`, [{ field: 'email_address', message: 'Invalid email address.' }]);
      if (this.members.has(hashOf(email)) || this.forgotten.has(hashOf(email)))
        throw invalid(`${email} is already a list member.`, [{ field: 'email_address', message: 'This email is already in use.' }]);
      m = this.changeEmail(hash, email, source);
    }
    return this.update(m, body.status, body.merge_fields, source);
  }

  /** DELETE: archives (the member keeps its data and comes back with its old status). */
  archive(hash: string, source: Source): void {
    const m = this.requireMember(hash, false);
    m.statusBeforeArchive = m.status;
    m.status = 'archived';
    m.lastChanged = this.now();
    m.seq = this.seq++;
    this.fire('unsubscribe', source, m, { action: 'delete', reason: 'manual' });
  }

  /** delete-permanent: gone, and never to be added through the API again. */
  erase(hash: string): void {
    this.requireMember(hash);
    this.members.delete(hash);
    this.forgotten.add(hash);
    for (const s of this.segments.values()) if (s.members.delete(hash)) s.updatedAt = this.now();
  }

  /** POST /lists/{id}: up to 500 members; per-member problems go to `errors[]`, the rest succeed. */
  batch(
    body: { members?: unknown[]; update_existing?: boolean },
    source: Source,
  ): {
    created: MemberState[];
    updated: MemberState[];
    errors: { email_address: string; error: string; error_code: 'ERROR_CONTACT_EXISTS' | 'ERROR_GENERIC'; field?: string; field_message?: string }[];
  } {
    const members = body.members ?? [];
    if (!Array.isArray(members) || members.length === 0)
      throw invalid('The resource submitted could not be validated.', [{ field: 'members', message: 'This value should not be blank.' }]);
    if (members.length > MAX_BATCH)
      throw invalid(`You can only batch up to ${MAX_BATCH} members at a time.`, [{ field: 'members', message: `At most ${MAX_BATCH}.` }]);
    const created: MemberState[] = [];
    const updated: MemberState[] = [];
    const errors: ReturnType<Audience['batch']>['errors'] = [];
    const seen = new Set<string>();
    for (const raw of members) {
      const entry = (raw ?? {}) as { email_address?: string; status?: string; merge_fields?: Record<string, unknown> };
      const email = entry.email_address?.trim() ?? '';
      const hash = hashOf(email);
      if (seen.has(hash)) {
        errors.push({ email_address: email, error: `${email} appears more than once in this batch`, error_code: 'ERROR_GENERIC' });
        continue;
      }
      seen.add(hash);
      const existing = this.members.get(hash);
      try {
        if (existing && !body.update_existing) {
          errors.push({ email_address: email, error: `${email} is already a list member`, error_code: 'ERROR_CONTACT_EXISTS' });
          continue;
        }
        if (existing) updated.push(this.update(existing, entry.status, entry.merge_fields, source));
        else created.push(this.create(email, entry.status, entry.merge_fields, source));
      } catch (err) {
        if (!(err instanceof Problem)) throw err;
        const field = err.errors?.[0];
        // Real batch answers carry free text and a generic code, not the problem title.
        errors.push({
          email_address: email,
          error:
            err.title === 'Member In Compliance State'
              ? `${email} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.`
              : err.detail,
          error_code: 'ERROR_GENERIC',
          ...(field ? { field: field.field, field_message: field.message } : {}),
        });
      }
    }
    return { created, updated, errors };
  }

  /** GET …/members with Mailchimp's filters, sorting and offset paging. */
  list(q: {
    status?: string;
    since_last_changed?: string;
    before_last_changed?: string;
    sort_field?: string;
    sort_dir?: string;
    count: number;
    offset: number;
  }): { page: MemberState[]; total: number } {
    const since = q.since_last_changed ? parseTime(q.since_last_changed, 'since_last_changed') : undefined;
    const before = q.before_last_changed ? parseTime(q.before_last_changed, 'before_last_changed') : undefined;
    let all = [...this.members.values()].filter((m) => (q.status ? m.status === q.status : m.status !== 'archived'));
    // "changed after" / "changed before": both bounds are exclusive.
    if (since !== undefined) all = all.filter((m) => m.lastChanged > since);
    if (before !== undefined) all = all.filter((m) => m.lastChanged < before);
    if (q.sort_field === 'last_changed') {
      const dir = q.sort_dir === 'DESC' ? -1 : 1;
      all.sort((a, b) => dir * (a.lastChanged - b.lastChanged || a.seq - b.seq));
    }
    return { page: all.slice(q.offset, q.offset + q.count), total: all.length };
  }

  // ---- tags (static segments) ----

  tagsOf(hash: string): SegmentState[] {
    return [...this.segments.values()].filter((s) => s.members.has(hash));
  }

  segmentByName(name: string): SegmentState | undefined {
    const key = name.toLowerCase();
    return [...this.segments.values()].find((s) => s.name.toLowerCase() === key);
  }

  createSegment(name: string | undefined, emails: string[] = []): SegmentState {
    if (!name || name.trim() === '')
      throw invalid('The resource submitted could not be validated.', [{ field: 'name', message: 'This value should not be blank.' }]);
    if (name.length > 100)
      throw invalid('The resource submitted could not be validated.', [{ field: 'name', message: 'Tag names are at most 100 characters.' }]);
    if (this.segmentByName(name)) throw invalid('Sorry, that tag already exists.');
    const now = this.now();
    const s: SegmentState = { id: this.nextSegmentId++, name, members: new Set(), createdAt: now, updatedAt: now };
    this.segments.set(s.id, s);
    for (const e of emails) {
      const m = this.members.get(hashOf(e));
      if (m && m.status !== 'archived') s.members.add(m.id);
    }
    return s;
  }

  requireSegment(id: string): SegmentState {
    const s = this.segments.get(Number(id));
    if (!s) throw notFound(`segment ${id}`);
    return s;
  }

  /** POST /segments/{id}: ≤ 500 adds and ≤ 500 removes; addresses not on the audience go to `errors[]`. */
  segmentBatch(
    segment: SegmentState,
    add: string[],
    remove: string[],
  ): { added: MemberState[]; removed: MemberState[]; errors: { email_addresses: string[]; error: string }[] } {
    if (add.length > MAX_BATCH || remove.length > MAX_BATCH) {
      throw invalid(`You can only add or remove up to ${MAX_BATCH} members at a time.`, [
        { field: add.length > MAX_BATCH ? 'members_to_add' : 'members_to_remove', message: `At most ${MAX_BATCH}.` },
      ]);
    }
    const added: MemberState[] = [];
    const removed: MemberState[] = [];
    const missing: string[] = [];
    for (const e of add) {
      const m = this.members.get(hashOf(e));
      if (!m || m.status === 'archived') missing.push(e);
      else if (!segment.members.has(m.id)) {
        segment.members.add(m.id);
        added.push(m);
      }
    }
    for (const e of remove) {
      const m = this.members.get(hashOf(e));
      if (!m || m.status === 'archived') missing.push(e);
      else if (segment.members.delete(m.id)) removed.push(m);
    }
    if (added.length + removed.length > 0) segment.updatedAt = this.now();
    return { added, removed, errors: missing.length ? [{ email_addresses: missing, error: 'Email addresses do not belong to this list' }] : [] };
  }

  /** POST …/members/{hash}/tags: active tags added (created when new), inactive removed. */
  setMemberTags(hash: string, tags: { name?: string; status?: string }[]): void {
    const m = this.requireMember(hash, false);
    for (const t of tags) {
      if (!t.name || (t.status !== 'active' && t.status !== 'inactive')) {
        throw invalid('The resource submitted could not be validated.', [
          { field: 'tags', message: 'Each tag needs a name and a status of active or inactive.' },
        ]);
      }
      const s = this.segmentByName(t.name) ?? (t.status === 'active' ? this.createSegment(t.name) : undefined);
      if (!s) continue;
      const changed = t.status === 'active' ? !s.members.has(m.id) && Boolean(s.members.add(m.id)) : s.members.delete(m.id);
      if (changed) s.updatedAt = this.now();
    }
  }

  // ---- webhooks ----

  private fire(type: WebhookEvent['type'], source: Source, m: MemberState, extra: Record<string, string> = {}): void {
    const merges: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.merges)) if (typeof v !== 'object' || v === null) merges[k] = v === null ? '' : String(v);
    this.emit({
      type,
      source,
      firedAt: this.clock.now(),
      data: { id: m.id, list_id: this.id, email: m.email, email_type: 'html', web_id: String(m.webId), ...extra, ...(type === 'cleaned' ? {} : { merges }) },
    });
  }

  /** An admin action in Mailchimp's web app (the sandbox's seed/inspect API uses this). */
  adminChangeEmail(hash: string, newEmail: string): MemberState {
    return this.changeEmail(hash, newEmail, 'admin');
  }

  private changeEmail(hash: string, newEmail: string, source: Source): MemberState {
    const m = this.requireMember(hash, false);
    const oldEmail = m.email;
    this.members.delete(hash);
    m.id = hashOf(newEmail);
    m.email = newEmail;
    m.lastChanged = this.now();
    m.seq = this.seq++;
    this.members.set(m.id, m);
    for (const s of this.segments.values()) if (s.members.delete(hash)) s.members.add(m.id);
    this.emit({ type: 'upemail', source, firedAt: this.clock.now(), data: { list_id: this.id, new_id: m.id, new_email: newEmail, old_email: oldEmail } });
    return m;
  }

  /** A bounce: Mailchimp cleans the address. */
  clean(hash: string): void {
    const m = this.requireMember(hash, false);
    m.status = 'cleaned';
    m.lastChanged = this.now();
    m.seq = this.seq++;
    this.fire('cleaned', 'admin', m, { reason: 'hard', campaign_id: 'sandbox' });
  }
}

function parseTime(text: string, name: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw invalid(`${name} must be an ISO 8601 time such as 2015-10-21T15:41:36+00:00.`);
  return t;
}

/** Why a merge value does not fit its field, or undefined when it does. */
function checkMergeValue(field: MergeFieldState, value: unknown): string | undefined {
  if (value === '' || value === null) return undefined;
  if (field.type === 'address') return typeof value === 'object' || typeof value === 'string' ? undefined : 'Please enter a complete address.';
  if (typeof value === 'boolean') return 'Booleans are not accepted: send "true" or "false" as text.';
  if (typeof value === 'object') return 'Please enter a value, not an object.';
  const text = String(value);
  switch (field.type) {
    case 'number':
      return Number.isFinite(Number(text)) ? undefined : 'Please enter a number';
    case 'date': {
      const format = field.options.date_format ?? 'MM/DD/YYYY';
      const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(text);
      if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
      if (!m) return `Please enter the date in the format ${format}.`;
      const [month, day] = format === 'DD/MM/YYYY' ? [Number(m[2]), Number(m[1])] : [Number(m[1]), Number(m[2])];
      return month >= 1 && month <= 12 && day >= 1 && day <= 31 ? undefined : `Please enter the date in the format ${format}.`;
    }
    case 'dropdown':
    case 'radio':
      return field.options.choices?.includes(text) ? undefined : `"${text}" is not one of the choices.`;
    default:
      return undefined;
  }
}
