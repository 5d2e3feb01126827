/**
 * A stateful local Mailchimp (Marketing API 3.0) for tests, the demo and `segsync sandbox mailchimp`.
 * Serves `/3.0/...` with Basic auth, Mailchimp's problem+json errors, the 500-per-call limits, the
 * 10-connection limit (429 beyond), compliance-state refusals, forgotten (erased) addresses, and
 * form-encoded webhook deliveries. Faults (429, 5xx, slow answers, bare "Request Blocked" pages) can be
 * injected, and every exchange can be observed (`onExchange`) to check it against the OpenAPI spec.
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxExchange, SandboxOptions, SandboxServer } from '../../connector';
import type { Clock } from '../../../src/model/clock';
import { systemClock } from '../../../src/model/clock';
import { StateFile } from '../../sandbox-state-file';
import type { AudienceSnapshot, MemberState, Source, WebhookEvent } from './audience';
import { Audience, hashOf } from './audience';
import { registerAccountRoutes } from './account-routes';
import { BATCH_RESULTS_PATH, registerBatchRoutes } from './batches';
import { Problem, invalid, notFound } from './problem';
import { project, renderList, renderMember, renderMergeField, renderSegment, renderWebhook } from './render';
import { webhookUrlWithSecret } from '../webhooks';

export type { SandboxExchange };

/** A fault to inject: answers the next `times` matching requests with it. */
export interface SandboxFault {
  method?: string;
  /** Matches when the path (without the query) contains this text. */
  path?: string;
  /** Answer with this status and a problem document with `title` (default: Mailchimp's title for it). */
  status?: number;
  title?: string;
  /** Answer with a bare HTML "Request Blocked" page instead of problem+json. */
  html?: boolean;
  /** Hold the request this long (real time) before handling it normally: a slow or hung server. */
  delayMs?: number;
  /** Handle the request at once but hold its answer this long (real time): a read whose answer arrives after later writes were applied. */
  answerDelayMs?: number;
  times?: number;
}

export interface MailchimpSandboxOptions extends SandboxOptions {
  /** The accepted API key (default: a generated one, in `apiKey`). */
  apiKey?: string;
  /** The audience created at start (default `sandbox0001`). */
  listId?: string;
  /** Simultaneous connections allowed per key (Mailchimp: 10). `rateLimits: false` lifts it. */
  maxConnections?: number;
  /** Real-time delay before each answer, ms, so concurrency is observable (default 0). */
  latencyMs?: number;
  /** Called for every exchange (integration tests validate each against the spec). */
  onExchange?: (exchange: SandboxExchange) => void;
  /** With `webhookUrl`: the secret its URL carries (`?secret=`), as segsync's `webhookSecret` expects. */
  webhookSecret?: string;
}

/** The id of the webhook `webhookUrl` sets up at start (one id, so a restart with its state file keeps one). */
const STARTUP_WEBHOOK_ID = 'sandbox-webhook';

export interface SandboxStats {
  requests: number;
  /** Calls per `METHOD route`. */
  calls: Record<string, number>;
  /** Most requests in flight at once. */
  maxInFlight: number;
  /** Requests refused for the connection limit. */
  rejected429: number;
}

export interface WebhookDelivery {
  url: string;
  type: string;
  status: number | 'error';
}

export interface MailchimpSandbox extends SandboxServer {
  readonly apiKey: string;
  readonly listId: string;
  /** The audience model (inspect or seed directly). */
  audience(listId?: string): Audience;
  addList(listId: string, name?: string): Audience;
  /** Adds members as if imported in the web app (no webhooks). */
  seed(members: { email: string; status?: MemberState['status']; merges?: Record<string, unknown>; tags?: string[] }[], listId?: string): void;
  member(email: string, listId?: string): (Record<string, unknown> & { status: string; merge_fields: Record<string, unknown> }) | undefined;
  /** What a person or admin does in Mailchimp (fires webhooks whose `sources` include it). */
  admin: {
    update(email: string, change: { status?: MemberState['status']; merges?: Record<string, unknown> }, source?: Source): void;
    tag(email: string, tag: string, active: boolean): void;
    clean(email: string): void;
    changeEmail(oldEmail: string, newEmail: string): void;
    archive(email: string): void;
  };
  inject(fault: SandboxFault): void;
  /** Drops the injected faults not answered yet. */
  clearFaults(): void;
  stats(): SandboxStats;
  resetStats(): void;
  /** Waits for webhook deliveries in flight. */
  flushWebhooks(): Promise<void>;
  readonly deliveries: WebhookDelivery[];
}

const DEFAULT_TITLES: Record<number, string> = {
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  401: 'API Key Invalid',
  403: 'Forbidden',
};

/** Mailchimp's `fired_at`: "YYYY-MM-DD HH:MM:SS" (UTC). */
function firedAt(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Form-encodes a webhook event the way Mailchimp posts it. */
export function encodeWebhook(event: WebhookEvent): string {
  const form = new URLSearchParams();
  form.set('type', event.type);
  form.set('fired_at', firedAt(event.firedAt));
  for (const [k, v] of Object.entries(event.data)) {
    if (typeof v === 'string') form.set(`data[${k}]`, v);
    else for (const [mk, mv] of Object.entries(v)) form.set(`data[${k}][${mk}]`, mv);
  }
  return form.toString();
}

function queryNumber(q: Record<string, string | undefined>, name: string, def: number, max?: number): number {
  const raw = q[name];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || (max !== undefined && n > max)) {
    throw invalid(`${name} must be an integer${max !== undefined ? ` no greater than ${max}` : ''}.`, [{ field: name, message: `Invalid ${name}.` }]);
  }
  return n;
}

function fieldsOf(q: Record<string, string | undefined>): string[] | undefined {
  return q.fields ? q.fields.split(',').filter(Boolean) : undefined;
}

/** Starts the sandbox on loopback; `port: 0` picks a free port. */
export async function startMailchimpSandbox(options: MailchimpSandboxOptions = {}): Promise<MailchimpSandbox> {
  const clock: Clock = options.clock ?? systemClock;
  const apiKey = options.apiKey ?? `${randomBytes(16).toString('hex')}-us1`;
  const listId = options.listId ?? 'sandbox0001';
  const maxConnections = options.rateLimits === false ? Infinity : (options.maxConnections ?? 10);
  const lists = new Map<string, Audience>();
  const faults: (SandboxFault & { left: number })[] = [];
  const deliveries: WebhookDelivery[] = [];
  const pendingDeliveries = new Set<Promise<void>>();
  let stats: SandboxStats = { requests: 0, calls: {}, maxInFlight: 0, rejected429: 0 };
  let inFlight = 0;

  const deliver = (audience: Audience, event: WebhookEvent): void => {
    for (const w of audience.webhooks.values()) {
      if (!w.events[event.type] || !w.sources[event.source]) continue;
      const p = fetch(w.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'MailChimp' },
        body: encodeWebhook(event),
      })
        .then(async (res) => {
          await res.arrayBuffer();
          deliveries.push({ url: w.url, type: event.type, status: res.status });
        })
        .catch(() => {
          deliveries.push({ url: w.url, type: event.type, status: 'error' });
        })
        .finally(() => pendingDeliveries.delete(p));
      pendingDeliveries.add(p);
    }
  };
  const addList = (id: string, name = 'Sandbox audience'): Audience => {
    const a: Audience = new Audience(id, name, clock, (event) => deliver(a, event));
    lists.set(id, a);
    return a;
  };
  addList(listId);
  const stateFile = options.stateFile
    ? new StateFile({
        esp: 'mailchimp',
        file: options.stateFile,
        state: {
          snapshot: () => ({ lists: [...lists.values()].map((a) => a.snapshot()) }),
          restore: (s) => {
            lists.clear();
            for (const a of (s as { lists: AudienceSnapshot[] }).lists) addList(a.id, a.name).restore(a);
            if (!lists.has(listId)) addList(listId);
          },
        },
      })
    : undefined;
  stateFile?.load();
  if (options.webhookUrl) {
    // As a webhook set up in Mailchimp's app: every event, from people and admins (not the API's own writes).
    lists.get(listId)!.webhooks.set(STARTUP_WEBHOOK_ID, {
      id: STARTUP_WEBHOOK_ID,
      url: options.webhookSecret ? webhookUrlWithSecret(options.webhookUrl, options.webhookSecret) : options.webhookUrl,
      events: { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: true },
      sources: { user: true, admin: true, api: false },
    });
  }

  const audienceOf = (id: string): Audience => {
    const a = lists.get(id);
    if (!a) throw notFound(`list ${id}`);
    return a;
  };

  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 10 * 1024 * 1024 });
  // The SDK sends `Content-Type: application/json` with an empty body on bodiless calls.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(invalid('The request body is not valid JSON.'), undefined);
    }
  });

  const sendProblem = (reply: FastifyReply, problem: Problem): FastifyReply =>
    reply
      .code(problem.status)
      .type('application/problem+json; charset=utf-8')
      .send(problem.body(randomBytes(16).toString('hex')));

  app.decorateRequest('counted', false);
  app.decorateRequest('overLimit', false);
  app.decorateRequest('answerDelayMs', 0);
  // Connections are counted from arrival; answers are decided once the body is read (so every exchange,
  // refused ones too, is observed with its body).
  app.addHook('onRequest', async (request) => {
    stats.requests++;
    const r = request as FastifyRequest & { counted: boolean; overLimit: boolean };
    inFlight++;
    r.counted = true;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    r.overLimit = inFlight > maxConnections;
  });
  app.addHook('preHandler', async (request, reply) => {
    const fault = faults.find((f) => f.left > 0 && (!f.method || f.method === request.method) && (!f.path || request.url.split('?')[0]!.includes(f.path)));
    if (fault) {
      fault.left--;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.answerDelayMs) (request as FastifyRequest & { answerDelayMs: number }).answerDelayMs = fault.answerDelayMs;
      if (fault.html)
        return reply
          .code(fault.status ?? 403)
          .type('text/html')
          .send('<html><body><h1>Request Blocked</h1></body></html>');
      if (fault.status)
        return sendProblem(reply, new Problem(fault.status, fault.title ?? DEFAULT_TITLES[fault.status] ?? 'Error', 'Injected by the sandbox.'));
    }
    if (request.url.startsWith(BATCH_RESULTS_PATH)) return undefined;
    if ((request as FastifyRequest & { overLimit: boolean }).overLimit) {
      stats.rejected429++;
      return sendProblem(reply, new Problem(429, 'Too Many Requests', `You have exceeded the limit of ${maxConnections} simultaneous connections.`));
    }
    const auth = request.headers.authorization;
    if (!auth) return sendProblem(reply, new Problem(401, 'API Key Missing', 'Your request did not include an API key.'));
    const [scheme, encoded] = auth.split(' ');
    const key = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8').split(':').slice(1).join(':') : '';
    if (key !== apiKey)
      return sendProblem(reply, new Problem(401, 'API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter."));
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
  });
  const release = (request: FastifyRequest): void => {
    const r = request as FastifyRequest & { counted: boolean };
    if (r.counted) {
      r.counted = false;
      inFlight--;
    }
  };
  app.addHook('onResponse', async (request) => {
    release(request);
    stateFile?.afterRequest(request.method);
  });
  app.addHook('onRequestAbort', async (request) => release(request));
  app.addHook('onSend', async (request, reply, payload) => {
    const route = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
    stats.calls[route] = (stats.calls[route] ?? 0) + 1;
    if (options.onExchange) {
      let responseBody: unknown = payload;
      if (typeof payload === 'string' && payload !== '' && /json/.test(String(reply.getHeader('content-type') ?? ''))) responseBody = JSON.parse(payload);
      if (payload === '' || payload === undefined || payload === null) responseBody = undefined;
      options.onExchange({
        method: request.method,
        path: request.url,
        headers: request.headers,
        requestBody: request.body,
        status: reply.statusCode,
        responseBody,
      });
    }
    const late = (request as FastifyRequest & { answerDelayMs: number }).answerDelayMs;
    if (late) await new Promise((r) => setTimeout(r, late));
    return payload;
  });
  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof Problem) return sendProblem(reply, err);
    const { statusCode, message } = err as { statusCode?: number; message?: string };
    if (statusCode && statusCode < 500) return sendProblem(reply, new Problem(statusCode, 'Bad Request', message ?? 'Bad request.'));
    return sendProblem(reply, new Problem(500, 'Internal Server Error', message ?? 'Internal error.'));
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, notFound(request.url.split('?')[0]!)));

  type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: Record<string, unknown> | undefined }>;
  const source: Source = 'api';

  app.get('/3.0/ping', async () => ({ health_status: "Everything's Chimpy!" }));
  app.get('/3.0/lists/:listId', async (req: Req) => project(renderList(audienceOf(req.params.listId!)), fieldsOf(req.query)));

  app.post('/3.0/lists/:listId', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const r = a.batch((req.body ?? {}) as Parameters<Audience['batch']>[0], source);
    return {
      new_members: r.created.map((m) => renderMember(a, m)),
      updated_members: r.updated.map((m) => renderMember(a, m)),
      errors: r.errors,
      total_created: r.created.length,
      total_updated: r.updated.length,
      error_count: r.errors.length,
      _links: [],
    };
  });

  app.get('/3.0/lists/:listId/members', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const q = req.query;
    const { page, total } = a.list({
      ...(q.status ? { status: q.status } : {}),
      ...(q.since_last_changed ? { since_last_changed: q.since_last_changed } : {}),
      ...(q.before_last_changed ? { before_last_changed: q.before_last_changed } : {}),
      ...(q.sort_field ? { sort_field: q.sort_field } : {}),
      ...(q.sort_dir ? { sort_dir: q.sort_dir } : {}),
      count: queryNumber(q, 'count', 10, 1000),
      offset: queryNumber(q, 'offset', 0),
    });
    return project({ members: page.map((m) => renderMember(a, m)), list_id: a.id, total_items: total, _links: [] }, fieldsOf(q));
  });
  app.get('/3.0/lists/:listId/members/:hash', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    return project(renderMember(a, a.requireMember(req.params.hash!)), fieldsOf(req.query));
  });
  app.put('/3.0/lists/:listId/members/:hash', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    return renderMember(a, a.upsert(req.params.hash!, (req.body ?? {}) as Parameters<Audience['upsert']>[1], source));
  });
  app.patch('/3.0/lists/:listId/members/:hash', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    return renderMember(a, a.patch(req.params.hash!, (req.body ?? {}) as Parameters<Audience['patch']>[1], source));
  });
  app.delete('/3.0/lists/:listId/members/:hash', async (req: Req, reply) => {
    audienceOf(req.params.listId!).archive(req.params.hash!, source);
    return reply.code(204).send();
  });
  app.post('/3.0/lists/:listId/members/:hash/actions/delete-permanent', async (req: Req, reply) => {
    audienceOf(req.params.listId!).erase(req.params.hash!);
    return reply.code(204).send();
  });
  app.get('/3.0/lists/:listId/members/:hash/tags', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const tags = a.tagsOf(a.requireMember(req.params.hash!).id);
    return { tags: tags.map((s) => ({ id: s.id, name: s.name, date_added: renderSegment(a, s).created_at })), total_items: tags.length, _links: [] };
  });
  app.post('/3.0/lists/:listId/members/:hash/tags', async (req: Req, reply) => {
    const tags = (req.body?.tags ?? []) as { name?: string; status?: string }[];
    audienceOf(req.params.listId!).setMemberTags(req.params.hash!, tags);
    return reply.code(204).send();
  });

  app.get('/3.0/lists/:listId/merge-fields', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const count = queryNumber(req.query, 'count', 10, 1000);
    const offset = queryNumber(req.query, 'offset', 0);
    return project(
      {
        merge_fields: a.mergeFields.slice(offset, offset + count).map((f) => renderMergeField(a, f)),
        list_id: a.id,
        total_items: a.mergeFields.length,
        _links: [],
      },
      fieldsOf(req.query),
    );
  });
  app.post('/3.0/lists/:listId/merge-fields', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    return renderMergeField(a, a.addMergeField((req.body ?? {}) as Parameters<Audience['addMergeField']>[0]));
  });

  app.get('/3.0/lists/:listId/segments', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const count = queryNumber(req.query, 'count', 10, 1000);
    const offset = queryNumber(req.query, 'offset', 0);
    // Every segment here is static: other types filter to nothing.
    const all = req.query.type && req.query.type !== 'static' ? [] : [...a.segments.values()];
    return project(
      { segments: all.slice(offset, offset + count).map((s) => renderSegment(a, s)), list_id: a.id, total_items: all.length, _links: [] },
      fieldsOf(req.query),
    );
  });
  app.post('/3.0/lists/:listId/segments', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const body = req.body ?? {};
    if (body.options) throw invalid('The sandbox models static segments (tags) only.');
    return renderSegment(a, a.createSegment(body.name as string | undefined, (body.static_segment ?? []) as string[]));
  });
  app.get('/3.0/lists/:listId/segments/:segmentId', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    return project(renderSegment(a, a.requireSegment(req.params.segmentId!)), fieldsOf(req.query));
  });
  app.post('/3.0/lists/:listId/segments/:segmentId', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const s = a.requireSegment(req.params.segmentId!);
    const r = a.segmentBatch(s, (req.body?.members_to_add ?? []) as string[], (req.body?.members_to_remove ?? []) as string[]);
    return {
      members_added: r.added.map((m) => renderMember(a, m)),
      members_removed: r.removed.map((m) => renderMember(a, m)),
      errors: r.errors,
      total_added: r.added.length,
      total_removed: r.removed.length,
      error_count: r.errors.reduce((n, e) => n + e.email_addresses.length, 0),
      _links: [],
    };
  });
  app.get('/3.0/lists/:listId/segments/:segmentId/members', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const s = a.requireSegment(req.params.segmentId!);
    const q = req.query;
    const excluded = new Set([
      q.include_cleaned === 'true' ? '' : 'cleaned',
      q.include_unsubscribed === 'true' ? '' : 'unsubscribed',
      q.include_transactional === 'true' ? '' : 'transactional',
      'archived',
    ]);
    const all = [...s.members].map((h) => a.member(h)!).filter((m) => m && !excluded.has(m.status));
    const count = queryNumber(q, 'count', 10, 1000);
    const offset = queryNumber(q, 'offset', 0);
    return project({ members: all.slice(offset, offset + count).map((m) => renderMember(a, m)), total_items: all.length, _links: [] }, fieldsOf(q));
  });
  app.get('/3.0/lists/:listId/tag-search', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const name = (req.query.name ?? '').toLowerCase();
    const tags = [...a.segments.values()].filter((s) => s.name.toLowerCase().startsWith(name));
    return { tags: tags.map((s) => ({ id: s.id, name: s.name })), total_items: tags.length };
  });

  app.get('/3.0/lists/:listId/webhooks', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    return { webhooks: [...a.webhooks.values()].map((w) => renderWebhook(a, w)), list_id: a.id, total_items: a.webhooks.size, _links: [] };
  });
  app.post('/3.0/lists/:listId/webhooks', async (req: Req) => {
    const a = audienceOf(req.params.listId!);
    const body = (req.body ?? {}) as { url?: string; events?: Record<string, boolean>; sources?: Record<string, boolean> };
    if (!body.url) throw invalid('The resource submitted could not be validated.', [{ field: 'url', message: 'This value should not be blank.' }]);
    // Mailchimp checks the URL with a GET before saving it.
    const check = await fetch(body.url, { method: 'GET', headers: { 'user-agent': 'MailChimp.com WebHook Validator' } }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.status;
      },
      () => 0,
    );
    if (check !== 200)
      throw invalid('The resource submitted could not be validated.', [
        { field: 'url', message: `The URL answered the validation request with ${check || 'no response'}, not 200.` },
      ]);
    const id = randomBytes(5).toString('hex');
    const w = {
      id,
      url: body.url,
      events: { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: true, ...(body.events ?? {}) },
      sources: { user: true, admin: true, api: true, ...(body.sources ?? {}) },
    };
    a.webhooks.set(id, w);
    return renderWebhook(a, w);
  });
  app.delete('/3.0/lists/:listId/webhooks/:webhookId', async (req: Req, reply) => {
    const a = audienceOf(req.params.listId!);
    if (!a.webhooks.delete(req.params.webhookId!)) throw notFound(`webhook ${req.params.webhookId}`);
    return reply.code(204).send();
  });

  registerAccountRoutes(app, { lists, addList, now: () => clock.now() });
  let address = '';
  const batchRuns = registerBatchRoutes(app, { baseUrl: () => address, now: () => clock.now() });

  address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const byEmail = (email: string, id?: string): { a: Audience; hash: string } => ({ a: audienceOf(id ?? listId), hash: hashOf(email) });

  const sandbox: MailchimpSandbox = {
    esp: 'mailchimp',
    url: address,
    apiKey,
    listId,
    audience: (id) => audienceOf(id ?? listId),
    addList,
    seed(members, id) {
      const a = audienceOf(id ?? listId);
      for (const m of members) {
        const state = a.upsert(
          hashOf(m.email),
          {
            email_address: m.email.trim().toLowerCase(),
            status_if_new: m.status === 'cleaned' || m.status === 'archived' ? 'subscribed' : (m.status ?? 'subscribed'),
            merge_fields: m.merges ?? {},
          },
          'user',
        );
        if (m.status === 'cleaned') state.status = 'cleaned';
        if (m.status === 'archived') {
          state.statusBeforeArchive = 'subscribed';
          state.status = 'archived';
        }
        for (const t of m.tags ?? []) (a.segmentByName(t) ?? a.createSegment(t)).members.add(state.id);
      }
      stateFile?.changed();
    },
    connectorSettings: { listId },
    seedContacts(contacts) {
      sandbox.seed(contacts.map((c) => ({ email: c.email, ...(c.properties ? { merges: c.properties } : {}), ...(c.consent ? { status: c.consent } : {}) })));
    },
    contacts() {
      const a = audienceOf(listId);
      return [...a.members.entries()].map(([hash, m]) => ({ email: m.email, properties: { ...m.merges }, tags: a.tagsOf(hash).map((t) => t.name), lists: [] }));
    },
    member(email, id) {
      const { a, hash } = byEmail(email, id);
      const m = a.member(hash);
      return m ? (renderMember(a, m) as Record<string, unknown> & { status: string; merge_fields: Record<string, unknown> }) : undefined;
    },
    admin: {
      update(email, change, src = 'admin') {
        const { a, hash } = byEmail(email);
        a.patch(hash, { ...(change.status ? { status: change.status } : {}), ...(change.merges ? { merge_fields: change.merges } : {}) }, src);
      },
      tag(email, tag, active) {
        const { a, hash } = byEmail(email);
        a.setMemberTags(hash, [{ name: tag, status: active ? 'active' : 'inactive' }]);
      },
      clean(email) {
        const { a, hash } = byEmail(email);
        a.clean(hash);
      },
      changeEmail(oldEmail, newEmail) {
        const { a, hash } = byEmail(oldEmail);
        a.adminChangeEmail(hash, newEmail);
      },
      archive(email) {
        const { a, hash } = byEmail(email);
        a.archive(hash, 'admin');
      },
    },
    inject(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    clearFaults: () => void faults.splice(0),
    stats: () => ({ ...stats, calls: { ...stats.calls } }),
    resetStats() {
      stats = { requests: 0, calls: {}, maxInFlight: 0, rejected429: 0 };
    },
    async flushWebhooks() {
      while (pendingDeliveries.size > 0) await Promise.all([...pendingDeliveries]);
    },
    deliveries,
    async close() {
      await batchRuns.idle();
      await Promise.all([...pendingDeliveries]);
      await app.close();
      stateFile?.close();
    },
  };
  return sandbox;
}
