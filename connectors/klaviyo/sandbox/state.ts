/**
 * The sandbox's account: profiles, lists, metrics, events, bulk import jobs, subscription and
 * deletion jobs. Async jobs progress on the injected clock: `settle()` (called before every request
 * and inspection) applies whatever has come due.
 */
import type { Clock } from '../../../src/model/clock';
import { replaceEntries } from '../../sandbox-state-file';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface Suppression {
  reason: string;
  timestamp: string;
}

export interface EmailMarketing {
  consent: 'SUBSCRIBED' | 'UNSUBSCRIBED' | 'NEVER_SUBSCRIBED';
  consent_timestamp: string | null;
  method: string | null;
  suppression: Suppression[];
}

export interface Profile {
  id: string;
  email: string | null;
  phone_number: string | null;
  external_id: string | null;
  first_name: string | null;
  last_name: string | null;
  organization: string | null;
  locale: string | null;
  title: string | null;
  image: string | null;
  location: Record<string, Json>;
  properties: Record<string, Json>;
  created: string;
  updated: string;
  marketing: EmailMarketing;
}

export interface KlaviyoList {
  id: string;
  name: string;
  created: string;
  updated: string;
  members: Set<string>;
  /** When each member joined (`joined_group_at`); absent for lists kept from before it was recorded. */
  joinedAt?: Map<string, string>;
}

export interface Metric {
  id: string;
  name: string;
  created: string;
}

export interface KlaviyoEvent {
  id: string;
  metricId: string;
  profileId: string;
  /** Epoch ms. */
  time: number;
  properties: Record<string, Json>;
  uuid: string;
}

export interface ImportError {
  id: string;
  code: string;
  title: string;
  detail: string;
  pointer: string;
  original: Record<string, Json>;
}

export interface BulkJob {
  id: string;
  items: ProfileInput[];
  listIds: string[];
  createdAt: number;
  startAt: number;
  completeAt: number;
  applied: boolean;
  errors: ImportError[];
  profileIds: string[];
}

/** A profile as a write sends it (wire attributes + meta). */
export interface ProfileInput {
  id?: string | null;
  attributes: Record<string, Json>;
  meta?: { patch_properties?: { append?: Record<string, Json>; unappend?: Record<string, Json>; unset?: string | string[] } };
}

export interface ConsentJob {
  kind: 'subscribe' | 'unsubscribe';
  emails: string[];
  listId?: string;
  at: number;
}

export interface Webhook {
  id: string;
  name: string;
  description: string | null;
  endpoint_url: string;
  secret_key: string;
  /** Topic ids, e.g. `event:klaviyo.opened_email`. */
  topics: string[];
  enabled: boolean;
  created_at: string;
}

/** The webhook topic of a metric: `Opened Email` → `event:klaviyo.opened_email`. */
export function topicOf(metricName: string): string {
  return `event:klaviyo.${metricName.toLowerCase().replace(/\s+/g, '_')}`;
}

export interface DeletionJob {
  identifier: { email?: string; phone_number?: string; id?: string };
  dueAt: number;
  done: boolean;
  deleted: string[];
}

/** A write that names an identifier another profile holds (HTTP 409 `duplicate_profile`). */
export class DuplicateProfileError extends Error {
  constructor(readonly existingId: string) {
    super(`A profile already exists with one of these identifiers.`);
  }
}

const STRING_ATTRIBUTES = ['email', 'phone_number', 'external_id', 'first_name', 'last_name', 'organization', 'locale', 'title', 'image'] as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const E164 = /^\+[1-9]\d{6,14}$/;

/** Klaviyo's own metrics, present in every account. */
export const STANDARD_METRICS = [
  'Received Email',
  'Opened Email',
  'Clicked Email',
  'Bounced Email',
  'Marked Email as Spam',
  'Unsubscribed',
  'Placed Order',
  'Viewed Product',
  'Added to Cart',
];

/** Klaviyo reports times to the second with an explicit offset. */
export function klaviyoTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
}

/** Validation of one profile input; a problem (with its pointer suffix) or undefined. */
export function profileInputProblem(input: ProfileInput, needsIdentifier: boolean): { pointer: string; detail: string } | undefined {
  const a = input.attributes ?? {};
  for (const key of STRING_ATTRIBUTES) {
    const v = a[key];
    if (v !== undefined && v !== null && typeof v !== 'string') return { pointer: `/attributes/${key}`, detail: `${key} must be a string.` };
  }
  if (typeof a['email'] === 'string' && !EMAIL.test(a['email'])) return { pointer: '/attributes/email', detail: `Invalid email address.` };
  if (needsIdentifier && !input.id && !a['email'] && !a['phone_number'] && !a['external_id']) {
    return { pointer: '/attributes', detail: 'One of email, phone_number, or external_id is required.' };
  }
  if (a['properties'] !== undefined && a['properties'] !== null && (typeof a['properties'] !== 'object' || Array.isArray(a['properties']))) {
    return { pointer: '/attributes/properties', detail: 'properties must be an object.' };
  }
  return undefined;
}

/** Everything an account holds, for the sandbox's state file (fault injections are not kept). */
export interface AccountSnapshot {
  profiles: Map<string, Profile>;
  lists: Map<string, KlaviyoList>;
  metrics: Map<string, Metric>;
  events: Map<string, KlaviyoEvent>;
  bulkJobs: Map<string, BulkJob>;
  consentJobs: ConsentJob[];
  deletionJobs: DeletionJob[];
  webhooks: Map<string, Webhook>;
  seq: number;
}

export class SandboxState {
  readonly profiles = new Map<string, Profile>();
  readonly lists = new Map<string, KlaviyoList>();
  readonly metrics = new Map<string, Metric>();
  readonly events = new Map<string, KlaviyoEvent>();
  readonly bulkJobs = new Map<string, BulkJob>();
  readonly consentJobs: ConsentJob[] = [];
  readonly deletionJobs: DeletionJob[] = [];
  readonly webhooks = new Map<string, Webhook>();
  /** Emails whose bulk import fails asynchronously with an import error (fault injection). */
  readonly importRejections = new Map<string, { code: string; detail: string }>();
  /** Emails that make a bulk import job request fail as a whole with 400 (fault injection). */
  readonly jobRejections = new Map<string, string>();
  private seq = 0;

  /** Subscription jobs accepted and not applied yet, in the order they came. */
  private readonly consentQueue: { job: ConsentJob; applyAt: number }[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly jobDurationMs: number,
    private readonly onEvent: (event: KlaviyoEvent) => void,
    private readonly consentJobDurationMs = 0,
  ) {
    for (const name of STANDARD_METRICS) this.metricByName(name);
  }

  /** Everything the account holds (live objects: serialise before changing anything). */
  snapshot(): AccountSnapshot {
    const { profiles, lists, metrics, events, bulkJobs, consentJobs, deletionJobs, webhooks, seq } = this;
    return { profiles, lists, metrics, events, bulkJobs, consentJobs, deletionJobs, webhooks, seq };
  }

  /** Replaces everything the account holds with a snapshot (no webhooks: nothing happened). */
  restore(s: AccountSnapshot): void {
    replaceEntries(this.profiles, s.profiles);
    replaceEntries(this.lists, s.lists);
    replaceEntries(this.metrics, s.metrics);
    replaceEntries(this.events, s.events);
    replaceEntries(this.bulkJobs, s.bulkJobs);
    replaceEntries(this.webhooks, s.webhooks);
    this.consentJobs.splice(0, this.consentJobs.length, ...s.consentJobs);
    this.deletionJobs.splice(0, this.deletionJobs.length, ...s.deletionJobs);
    this.seq = s.seq;
  }

  /** A 26-character id like Klaviyo's ULIDs: time-ordered, unique within the sandbox. */
  newId(): string {
    this.seq++;
    const time = this.clock.now().toString(32).toUpperCase().padStart(10, '0');
    return `01${time}${this.seq.toString(32).toUpperCase().padStart(14, '0')}`.slice(0, 26);
  }

  now(): string {
    return klaviyoTime(this.clock.now());
  }

  /** Applies every job whose time has come. */
  settle(): void {
    const now = this.clock.now();
    for (const job of this.bulkJobs.values()) if (!job.applied && now >= job.completeAt) this.applyBulkJob(job);
    for (const job of this.deletionJobs) if (!job.done && now >= job.dueAt) this.applyDeletion(job);
    while (this.consentQueue.length && now >= this.consentQueue[0]!.applyAt) this.applyConsentJob(this.consentQueue.shift()!.job);
  }

  findByEmail(email: string): Profile | undefined {
    const e = email.toLowerCase();
    for (const p of this.profiles.values()) if (p.email === e) return p;
    return undefined;
  }

  private findBy(key: 'phone_number' | 'external_id', value: string): Profile | undefined {
    for (const p of this.profiles.values()) if (p[key] === value) return p;
    return undefined;
  }

  /** The profile another identifier of `input` already belongs to, other than `self`. */
  private conflict(input: Record<string, Json>, self: Profile | undefined): Profile | undefined {
    const email = typeof input['email'] === 'string' ? this.findByEmail(input['email']) : undefined;
    if (email && email !== self) return email;
    const phone = typeof input['phone_number'] === 'string' ? this.findBy('phone_number', input['phone_number']) : undefined;
    if (phone && phone !== self) return phone;
    const ext = typeof input['external_id'] === 'string' ? this.findBy('external_id', input['external_id']) : undefined;
    if (ext && ext !== self) return ext;
    return undefined;
  }

  private blank(): Profile {
    const now = this.now();
    return {
      id: this.newId(),
      email: null,
      phone_number: null,
      external_id: null,
      first_name: null,
      last_name: null,
      organization: null,
      locale: null,
      title: null,
      image: null,
      location: {},
      properties: {},
      created: now,
      updated: now,
      marketing: { consent: 'NEVER_SUBSCRIBED', consent_timestamp: null, method: null, suppression: [] },
    };
  }

  /** `POST /api/profiles`: 409 when an identifier exists. */
  createProfile(input: ProfileInput): Profile {
    const existing = this.conflict(input.attributes, undefined);
    if (existing) throw new DuplicateProfileError(existing.id);
    const p = this.blank();
    this.apply(p, input);
    this.profiles.set(p.id, p);
    return p;
  }

  /** `POST /api/profile-import` and bulk items: update by id or identifier, else create. */
  upsertProfile(input: ProfileInput): { profile: Profile; created: boolean } {
    let target = input.id ? this.profiles.get(input.id) : undefined;
    if (input.id && !target) throw new NotFoundError(`A profile with id ${input.id} does not exist.`);
    if (target) {
      const other = this.conflict(input.attributes, target);
      if (other) throw new DuplicateProfileError(other.id);
    } else {
      const a = input.attributes;
      target =
        (typeof a['email'] === 'string' ? this.findByEmail(a['email']) : undefined) ??
        (typeof a['external_id'] === 'string' ? this.findBy('external_id', a['external_id']) : undefined) ??
        (typeof a['phone_number'] === 'string' ? this.findBy('phone_number', a['phone_number']) : undefined);
      if (target) {
        const other = this.conflict(a, target);
        if (other) throw new DuplicateProfileError(other.id);
      }
    }
    const created = !target;
    const p = target ?? this.blank();
    this.apply(p, input);
    this.profiles.set(p.id, p);
    return { profile: p, created };
  }

  /** `PATCH /api/profiles/{id}`. */
  patchProfile(id: string, input: ProfileInput): Profile {
    const p = this.profiles.get(id);
    if (!p) throw new NotFoundError(`A profile with id ${id} does not exist.`);
    const other = this.conflict(input.attributes, p);
    if (other) throw new DuplicateProfileError(other.id);
    this.apply(p, input);
    return p;
  }

  /** Writes attributes (omitted = unchanged, null = cleared) and patch_properties edits. */
  private apply(p: Profile, input: ProfileInput): void {
    const before = JSON.stringify(p);
    const a = input.attributes ?? {};
    for (const key of STRING_ATTRIBUTES) {
      if (!(key in a)) continue;
      const v = a[key];
      const value = typeof v === 'string' ? (key === 'email' ? v.toLowerCase() : v) : null;
      p[key] = value;
    }
    const location = a['location'];
    if (location && typeof location === 'object' && !Array.isArray(location)) {
      for (const [k, v] of Object.entries(location)) {
        if (v === null) delete p.location[k];
        else p.location[k] = v;
      }
    }
    const properties = a['properties'];
    if (properties && typeof properties === 'object' && !Array.isArray(properties)) {
      for (const [k, v] of Object.entries(properties)) {
        if (v === null) delete p.properties[k];
        else p.properties[k] = v;
      }
    }
    const patch = input.meta?.patch_properties;
    for (const [k, v] of Object.entries(patch?.append ?? {})) {
      const current = p.properties[k];
      const list: Json[] = Array.isArray(current) ? [...current] : current === undefined || current === null ? [] : [current];
      for (const item of Array.isArray(v) ? v : [v]) if (!list.includes(item)) list.push(item);
      p.properties[k] = list;
    }
    for (const [k, v] of Object.entries(patch?.unappend ?? {})) {
      const current = p.properties[k];
      if (!Array.isArray(current)) continue;
      const drop = Array.isArray(v) ? v : [v];
      p.properties[k] = current.filter((item) => !drop.includes(item));
    }
    const unset = patch?.unset;
    for (const k of unset === undefined ? [] : Array.isArray(unset) ? unset : [unset]) delete p.properties[k];
    if (JSON.stringify(p) !== before) p.updated = this.now();
  }

  /** Creates a queued bulk import job; it completes `jobDurationMs` later on the clock. */
  createBulkJob(items: ProfileInput[], listIds: string[]): BulkJob {
    const now = this.clock.now();
    const job: BulkJob = {
      id: this.newId(),
      items,
      listIds,
      createdAt: now,
      startAt: now + Math.floor(this.jobDurationMs / 2),
      completeAt: now + this.jobDurationMs,
      applied: false,
      errors: [],
      profileIds: [],
    };
    this.bulkJobs.set(job.id, job);
    if (this.jobDurationMs <= 0) this.applyBulkJob(job);
    return job;
  }

  jobStatus(job: BulkJob): 'queued' | 'processing' | 'complete' {
    // Complete only once applied (by `settle`, at the start of a request): a job whose time came while a
    // request was being handled answered complete with its import errors not made yet (failed_count 0),
    // and the client took a rejected profile for imported (a CI flake of the faults test under load).
    if (job.applied) return 'complete';
    return this.clock.now() >= job.startAt ? 'processing' : 'queued';
  }

  private applyBulkJob(job: BulkJob): void {
    job.applied = true;
    job.items.forEach((item, index) => {
      const email = typeof item.attributes['email'] === 'string' ? item.attributes['email'].toLowerCase() : undefined;
      const rejection = email ? this.importRejections.get(email) : undefined;
      const phone = item.attributes['phone_number'];
      const problem =
        rejection ??
        (typeof phone === 'string' && !E164.test(phone)
          ? { code: 'invalid', detail: 'Invalid phone number format (Example of a valid format: +13239169023).' }
          : undefined);
      const pointer = `/data/attributes/profiles/data/${index}/attributes/${rejection ? 'email' : 'phone_number'}`;
      if (problem) {
        job.errors.push({
          id: this.newId(),
          code: problem.code,
          title: 'Invalid input.',
          detail: problem.detail,
          pointer,
          original: item.attributes as Record<string, Json>,
        });
        return;
      }
      try {
        const { profile } = this.upsertProfile(item);
        job.profileIds.push(profile.id);
        for (const listId of job.listIds) this.join(listId, profile.id);
      } catch (e) {
        const code = e instanceof DuplicateProfileError ? 'duplicate_profile' : 'invalid';
        job.errors.push({
          id: this.newId(),
          code,
          title: 'Invalid input.',
          detail: (e as Error).message,
          pointer: `/data/attributes/profiles/data/${index}`,
          original: item.attributes as Record<string, Json>,
        });
      }
    });
  }

  /** Adds a profile to a list (no-op for an unknown list), remembering when it joined. */
  join(listId: string, profileId: string): void {
    const list = this.lists.get(listId);
    if (!list || list.members.has(profileId)) return;
    list.members.add(profileId);
    (list.joinedAt ??= new Map()).set(profileId, this.now());
  }

  createList(name: string): KlaviyoList {
    const now = this.now();
    const list: KlaviyoList = { id: this.newId().slice(-6), name, created: now, updated: now, members: new Set(), joinedAt: new Map() };
    this.lists.set(list.id, list);
    return list;
  }

  metricByName(name: string): Metric {
    for (const m of this.metrics.values()) if (m.name === name) return m;
    const m: Metric = { id: this.newId().slice(-6), name, created: this.now() };
    this.metrics.set(m.id, m);
    return m;
  }

  /** Records an event (creating the profile and metric when new) and announces it to webhooks, unless `quiet` (an import of history). */
  addEvent(input: { email: string; metric: string; time?: number; properties?: Record<string, Json>; uniqueId?: string }, quiet = false): KlaviyoEvent {
    const metric = this.metricByName(input.metric);
    const profile = this.findByEmail(input.email) ?? this.upsertProfile({ attributes: { email: input.email } }).profile;
    const event: KlaviyoEvent = {
      id: this.newId(),
      metricId: metric.id,
      profileId: profile.id,
      time: input.time ?? this.clock.now(),
      properties: input.properties ?? {},
      uuid: input.uniqueId ?? this.newId(),
    };
    this.events.set(event.id, event);
    if (!quiet) this.onEvent(event);
    return event;
  }

  /** Accepts a subscription job; it is applied `consentJobDurationMs` later on the clock (at once by default), after the jobs before it. */
  consentJob(kind: ConsentJob['kind'], emails: string[], listId: string | undefined): void {
    const job: ConsentJob = { kind, emails, ...(listId ? { listId } : {}), at: this.clock.now() };
    this.consentJobs.push(job);
    this.consentQueue.push({ job, applyAt: job.at + this.consentJobDurationMs });
    this.settle();
  }

  /** A subscribe job (see `consentJob`). */
  subscribe(emails: string[], listId: string | undefined): void {
    this.consentJob('subscribe', emails, listId);
  }

  /** An unsubscribe job (see `consentJob`). */
  unsubscribe(emails: string[], listId: string | undefined): void {
    this.consentJob('unsubscribe', emails, listId);
  }

  private applyConsentJob(job: ConsentJob): void {
    if (job.kind === 'subscribe') this.applySubscribe(job.emails, job.listId);
    else this.applyUnsubscribe(job.emails);
  }

  /** Subscribe job: sets SUBSCRIBED and lifts UNSUBSCRIBE/SPAM_REPORT/USER_SUPPRESSED, as Klaviyo does. */
  private applySubscribe(emails: string[], listId: string | undefined): void {
    for (const email of emails) {
      const p = this.findByEmail(email) ?? this.upsertProfile({ attributes: { email } }).profile;
      p.marketing = {
        consent: 'SUBSCRIBED',
        consent_timestamp: this.now(),
        method: 'API',
        suppression: p.marketing.suppression.filter((s) => !['UNSUBSCRIBE', 'SPAM_REPORT', 'USER_SUPPRESSED'].includes(s.reason)),
      };
      if (listId) this.join(listId, p.id);
      p.updated = this.now();
    }
  }

  /** Unsubscribe job: without a list, or for profiles not on the named list, it is global. */
  private applyUnsubscribe(emails: string[]): void {
    for (const email of emails) {
      const p = this.findByEmail(email);
      if (!p) continue;
      p.marketing = { ...p.marketing, consent: 'UNSUBSCRIBED', consent_timestamp: this.now(), method: 'API' };
      p.updated = this.now();
    }
  }

  requestDeletion(identifier: DeletionJob['identifier']): DeletionJob {
    const job: DeletionJob = { identifier, dueAt: this.clock.now() + this.jobDurationMs, done: false, deleted: [] };
    this.deletionJobs.push(job);
    if (this.jobDurationMs <= 0) this.applyDeletion(job);
    return job;
  }

  private applyDeletion(job: DeletionJob): void {
    job.done = true;
    const { email, phone_number, id } = job.identifier;
    for (const p of [...this.profiles.values()]) {
      const hit = (email && p.email === email.toLowerCase()) || (phone_number && p.phone_number === phone_number) || (id && p.id === id);
      if (!hit) continue;
      this.profiles.delete(p.id);
      job.deleted.push(p.id);
      for (const list of this.lists.values()) list.members.delete(p.id);
      for (const [eid, e] of this.events) if (e.profileId === p.id) this.events.delete(eid);
    }
  }
}

export class NotFoundError extends Error {}
