/**
 * A test fixture, not a product connector: an in-memory ESP that implements the `Connector`
 * interface faithfully enough (upsert by email, ids, tags, modification times, incremental listing)
 * to test the sync engine's logic in isolation. The real connectors are tested against their
 * sandboxes over HTTP.
 */
import type {
  ChangeResult,
  Connector,
  ContactChange,
  ContactRef,
  EspLimits,
  PlannedPush,
  PullRequest,
  PushEstimate,
  RawRequest,
  RemoteChange,
  RemotePage,
  SchemaReport,
  WebhookResult,
} from '../../connectors/connector';
import { parseConfig } from '../../src/config/load';
import { EspPermanentError, EspRateLimitError, EspTransientError } from '../../src/errors';
import { createLogger } from '../../src/log/logger';
import type { Logger } from '../../src/log/logger';
import type { Clock } from '../../src/model/clock';
import type { ConsentStatus, EspName, FieldValue } from '../../src/model/types';
import type { Store } from '../../src/store/store';
import { SyncEngine } from '../../src/sync/engine';

/**
 * A sync engine over `store` with one ESP, `esp` (as HubSpot), mapping the local `first_name` to its
 * `firstname` under the conflict policy given.
 */
export function firstNameEngine(
  store: Store,
  clock: Clock,
  esp: MemoryEsp,
  conflict: 'owner' | 'latest' = 'owner',
  logger: Logger = createLogger({ level: 'silent' }),
): SyncEngine {
  const yaml = `version: 1
fields:
  first_name: { type: string, conflict: ${conflict} }
connectors:
  hubspot: { accessToken: "\${T}" }
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
`;
  const { config } = parseConfig(yaml, 'segsync.yaml', { env: { T: 'secret' } });
  return new SyncEngine({ config, store, connectors: new Map([['hubspot', esp]]), clock, logger });
}

export interface MemoryRecord {
  id: string;
  email: string;
  fields: Record<string, FieldValue>;
  tags: Set<string>;
  consent: ConsentStatus;
  modifiedAt: number;
}

/** A webhook delivery of these changes, as `MemoryEsp.webhook` reads it. */
export function memoryWebhook(changes: RemoteChange[], receivedAt: number): RawRequest {
  return { method: 'POST', url: 'http://x/webhooks/memory', headers: {}, rawBody: Buffer.from(JSON.stringify(changes)), receivedAt };
}

export class MemoryEsp implements Connector {
  readonly limits: EspLimits;
  readonly records = new Map<string, MemoryRecord>();
  calls = 0;
  erased: string[] = [];
  /** Emails whose writes the ESP refuses (permanent). */
  refuse = new Set<string>();
  /** Answer the next N push calls with a 5xx / 429. */
  transientFailures = 0;
  rateLimitFailures = 0;
  /** Apply the next push, then fail as if the answer was lost (crash / timeout after the write). */
  loseNextAnswer = false;
  /** Report tags like Mailchimp: not on contacts, but as complete memberships of these tags. */
  membershipTags: string[] | undefined;
  private seq = 0;

  constructor(
    readonly esp: EspName,
    private readonly clock: Clock,
    batch = 100,
  ) {
    this.limits = { maxBatch: { upsert: batch }, windows: { burst: { limit: 1_000_000, windowMs: 1000 } }, buckets: { default: ['burst'] }, maxConcurrency: 2 };
  }

  async ensureSchema(): Promise<SchemaReport> {
    return { created: [], existing: [], updated: [], problems: [] };
  }

  byEmail(email: string): MemoryRecord | undefined {
    return [...this.records.values()].find((r) => r.email === email);
  }

  /** A marketer edits a record in the ESP's own UI. */
  edit(email: string, fields: Record<string, FieldValue>, tags?: string[]): void {
    const r = this.byEmail(email)!;
    Object.assign(r.fields, fields);
    if (tags) r.tags = new Set(tags);
    r.modifiedAt = this.clock.now();
  }

  async *pull(request: PullRequest): AsyncIterable<RemotePage> {
    const since = request.cursor ? Number(request.cursor) : -1;
    const changed = [...this.records.values()]
      .filter((r) => r.modifiedAt > since && r.modifiedAt <= request.until.getTime())
      .sort((a, b) => a.modifiedAt - b.modifiedAt);
    const next = String(Math.max(since, ...changed.map((r) => r.modifiedAt)));
    const memberships = this.membershipTags;
    yield {
      contacts: changed.map((r) => ({
        externalId: r.id,
        email: r.email,
        fields: pick(r.fields, request.fields),
        ...(memberships ? {} : { tags: [...r.tags] }),
        consent: r.consent,
        modifiedAt: r.modifiedAt,
      })),
      ...(memberships
        ? {
            tagMemberships: memberships.map((tag) => {
              const holders = [...this.records.values()].filter((r) => r.tags.has(tag));
              return { tag, externalIds: holders.map((r) => r.id), emails: holders.map((r) => r.email) };
            }),
          }
        : {}),
      next,
    };
  }

  async push(batch: ContactChange[]): Promise<ChangeResult[]> {
    this.calls++;
    if (this.rateLimitFailures > 0) {
      this.rateLimitFailures--;
      throw new EspRateLimitError('slow down', { esp: this.esp, retryAfterMs: 1000 });
    }
    if (this.transientFailures > 0) {
      this.transientFailures--;
      throw new EspTransientError('HTTP 503', { esp: this.esp, status: 503 });
    }
    const results = batch.map((c) => this.apply(c));
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new EspTransientError('socket hang up', { esp: this.esp });
    }
    return results;
  }

  private apply(c: ContactChange): ChangeResult {
    if (this.refuse.has(c.ref.email))
      return { ref: c.ref, status: 'failed', error: new EspPermanentError('invalid email domain', { esp: this.esp, status: 400 }) };
    let r = (c.ref.externalId ? this.records.get(c.ref.externalId) : undefined) ?? this.byEmail(c.ref.email);
    const created = !r;
    if (!r) {
      r = {
        id: `${this.esp}-${++this.seq}`,
        email: c.ref.email,
        fields: {},
        tags: new Set(),
        consent: c.localConsent === 'subscribed' ? 'subscribed' : 'pending',
        modifiedAt: 0,
      };
      this.records.set(r.id, r);
    }
    for (const [k, v] of Object.entries(c.set)) r.fields[k] = v;
    for (const k of c.clear) delete r.fields[k];
    for (const t of c.addTags) r.tags.add(t);
    for (const t of c.removeTags) r.tags.delete(t);
    r.modifiedAt = this.clock.now();
    return { ref: c.ref, status: 'ok', externalId: r.id, created, modifiedAt: r.modifiedAt };
  }

  async erase(contact: ContactRef): Promise<ChangeResult> {
    this.calls++;
    const r = contact.externalId ? this.records.get(contact.externalId) : this.byEmail(contact.email);
    if (r) this.records.delete(r.id);
    this.erased.push(contact.email || `id:${contact.externalId}`);
    return { ref: contact, status: 'ok' };
  }

  webhook(request: RawRequest): WebhookResult {
    return { changes: JSON.parse(request.rawBody.toString('utf8')) as RemoteChange[], events: [] };
  }

  /** One request per batch and per erasure, as `push` and `erase` make them. */
  estimate(plan: PlannedPush): PushEstimate {
    return { calls: plan.batches.filter((b) => b.length > 0).length + plan.erasures.length, minDurationMs: 0, assumptions: [] };
  }

  /** One request per push or erase: the in-memory ESP answers each with one. */
  requestCount(): number {
    return this.calls;
  }

  async close(): Promise<void> {}
}

function pick(fields: Record<string, FieldValue>, names: string[]): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const n of names) if (n in fields) out[n] = fields[n]!;
  return out;
}
