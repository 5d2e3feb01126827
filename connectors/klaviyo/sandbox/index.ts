/**
 * A stateful local Klaviyo: the JSON:API paths segsync uses under `/api/…`, with `Klaviyo-API-Key`
 * auth, the `revision` header, per-endpoint fixed-window rate limits (429 + `Retry-After`,
 * `RateLimit-*` headers), JSON:API error bodies, async bulk jobs on an injectable clock, and signed
 * system-webhook delivery. Used in-process by tests and by `segsync sandbox klaviyo --port N`.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createHmac } from 'node:crypto';
import { systemClock } from '../../../src/model/clock';
import { normaliseEmail } from '../../../src/model/identity';
import type { SandboxExchange, SandboxOptions, SandboxServer } from '../../connector';
import { StateFile } from '../../sandbox-state-file';
import { ROUTE_BUCKETS, SandboxLimits, sandboxWindows } from './ratelimit';
import { matchTerm } from './filter';
import { registerSdkRoutes } from './sdk-routes';
import { ApiFailure, asRecord, EVENT_FILTERS, filterOf, invalid, LIST_FILTERS, pageSize, PROFILE_FILTERS } from './http';
import {
  bulkJobResource,
  errorBody,
  eventResource,
  importErrorResource,
  keysetPage,
  listResource,
  metricResource,
  profileResource,
  type ApiError,
} from './jsonapi';
import {
  DuplicateProfileError,
  NotFoundError,
  profileInputProblem,
  SandboxState,
  topicOf,
  type AccountSnapshot,
  type Json,
  type KlaviyoEvent,
  type Profile,
  type ProfileInput,
  type Webhook,
} from './state';

/** One request and response as the sandbox saw them, with the response headers (its rate-limit headers are checked). */
export interface KlaviyoExchange extends SandboxExchange {
  responseHeaders: Record<string, unknown>;
}

/** A scripted failure: the next `times` requests matching method and path prefix get `status`. */
export interface FaultSpec {
  method: string;
  pathPrefix: string;
  status: number;
  times?: number;
  /** For 429: the `Retry-After` seconds. */
  retryAfterSeconds?: number;
  /** Answer this long after the request arrived (real time): a slow refusal. */
  delayMs?: number;
}

export interface KlaviyoSandboxOptions extends SandboxOptions {
  /** The only private key accepted; by default any `pk_…` key is. */
  apiKey?: string;
  /** Revisions accepted in the `revision` header. Default: 2026-07-15 and earlier GA dates. */
  latestRevision?: string;
  /** Time a bulk import or deletion job takes on the sandbox clock, ms. Default 1,000; 0 = at once. */
  jobDurationMs?: number;
  /** Time a subscription (consent) job takes, ms, applied in the order they came; Klaviyo runs them later too. Default 0: at once. */
  consentJobDurationMs?: number;
  /** Secret for webhooks delivered to `webhookUrl`. */
  webhookSecret?: string;
  /** Called for every exchange (request and response). */
  onExchange?: (exchange: KlaviyoExchange) => void;
}

/** Inspection and seeding on top of the server. */
export interface KlaviyoSandbox extends SandboxServer {
  readonly esp: 'klaviyo';
  readonly state: SandboxState;
  /** Applies jobs that have come due on the sandbox clock. */
  settle(): void;
  profileByEmail(email: string): Profile | undefined;
  seedProfile(input: {
    email: string;
    properties?: Record<string, Json>;
    consent?: Profile['marketing']['consent'];
    suppression?: string[];
    first_name?: string;
  }): Profile;
  seedEvent(input: { email: string; metric: string; time?: number; properties?: Record<string, Json> }): KlaviyoEvent;
  /** Makes the bulk import of this email fail asynchronously with an import error. */
  rejectOnImport(email: string, code?: string, detail?: string): void;
  /** Makes any bulk import job request containing this email fail as a whole with 400 pointing at it. */
  rejectInJob(email: string, detail?: string): void;
  /** Scripts failures of upcoming requests. */
  fail(spec: FaultSpec): void;
  /** Drops the scripted failures not answered yet. */
  clearFaults(): void;
  /** Requests served per `METHOD /route` (429s included). */
  readonly calls: Map<string, number>;
  /** Waits for webhook deliveries in flight. */
  flushWebhooks(): Promise<void>;
}

/** Profile attributes that are not custom properties (a seed's values go to one or the other). */
const STANDARD_ATTRIBUTES = new Set(['first_name', 'last_name', 'organization', 'locale', 'title', 'phone_number', 'external_id']);

/** Starts the sandbox on loopback. */
export async function startKlaviyoSandbox(options: KlaviyoSandboxOptions = {}): Promise<KlaviyoSandbox> {
  const clock = options.clock ?? systemClock;
  const latestRevision = options.latestRevision ?? '2026-07-15';
  const deliveries = new Set<Promise<void>>();
  let base = '';
  const post = (url: string, secret: string, hookId: string, topic: string, event: KlaviyoEvent): void => {
    const metric = state.metrics.get(event.metricId);
    const profile = state.profiles.get(event.profileId);
    const timestamp = new Date(clock.now()).toISOString();
    const included: Json[] = [];
    if (metric) included.push(metricResource(metric, base));
    if (profile) included.push(profileResource(profile, base, false));
    const body = JSON.stringify({
      data: [{ topic, external_id: event.id, payload: { data: eventResource(event, base), included } }],
      meta: { klaviyo_account_id: 'SANDBX', klaviyo_webhook_id: hookId, timestamp },
    });
    // Klaviyo-Signature = hex(HMAC-SHA256(secret, body + timestamp)); see connectors/klaviyo/webhooks.ts.
    const signature = createHmac('sha256', secret)
      .update(body + timestamp)
      .digest('hex');
    const sent = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'klaviyo-signature': signature, 'klaviyo-timestamp': timestamp, 'klaviyo-webhook-id': hookId },
      body,
    })
      .then(() => undefined)
      .catch(() => undefined)
      .finally(() => deliveries.delete(sent));
    deliveries.add(sent);
  };
  /** Delivers an event to the configured URL and to every enabled webhook subscribed to its topic. */
  const deliver = (event: KlaviyoEvent): void => {
    const topic = topicOf(state.metrics.get(event.metricId)?.name ?? 'event');
    if (options.webhookUrl && options.webhookSecret) post(options.webhookUrl, options.webhookSecret, 'sandbox-webhook', topic, event);
    for (const hook of state.webhooks.values()) {
      if (hook.enabled && hook.topics.includes(topic)) post(hook.endpoint_url, hook.secret_key, hook.id, topic, event);
    }
  };
  const state = new SandboxState(clock, options.jobDurationMs ?? 1_000, deliver, options.consentJobDurationMs ?? 0);
  const stateFile = options.stateFile
    ? new StateFile({
        esp: 'klaviyo',
        file: options.stateFile,
        state: { snapshot: () => state.snapshot(), restore: (s) => state.restore(s as AccountSnapshot) },
      })
    : undefined;
  stateFile?.load();
  const limits = new SandboxLimits(clock, sandboxWindows(options.rateLimits));
  const faults: FaultSpec[] = [];
  const calls = new Map<string, number>();
  const app = Fastify({ logger: false, bodyLimit: 6 * 1024 * 1024 });
  app.addContentTypeParser('application/vnd.api+json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  const send = (reply: FastifyReply, status: number, body?: unknown): FastifyReply => {
    reply.code(status);
    if (body === undefined) return reply.send();
    return reply.header('content-type', 'application/vnd.api+json').send(JSON.stringify(body));
  };

  app.addHook('onSend', async (request, reply, payload) => {
    if (options.onExchange) {
      let responseBody: unknown;
      if (typeof payload === 'string' && payload !== '') {
        try {
          responseBody = JSON.parse(payload);
        } catch {
          responseBody = payload;
        }
      }
      options.onExchange({
        method: request.method,
        path: request.url,
        headers: request.headers,
        requestBody: request.body,
        status: reply.statusCode,
        responseHeaders: reply.getHeaders(),
        responseBody,
      });
    }
    return payload;
  });

  if (stateFile) app.addHook('onResponse', async (req) => stateFile.afterRequest(req.method));

  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof ApiFailure) {
      const status = error.errors[0]?.status ?? 400;
      for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
      return send(
        reply,
        status,
        errorBody(error.errors, () => state.newId()),
      );
    }
    const statusCode = (error as { statusCode?: number }).statusCode;
    if (statusCode && statusCode < 500) {
      return send(
        reply,
        statusCode,
        errorBody([{ status: statusCode, code: 'parse_error', title: 'Parse error.', detail: 'The request body could not be parsed.' }], () => state.newId()),
      );
    }
    return send(
      reply,
      500,
      errorBody([{ status: 500, code: 'error', title: 'A server error occurred.', detail: String((error as Error).message) }], () => state.newId()),
    );
  });

  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      404,
      errorBody([{ status: 404, code: 'not_found', title: 'Not found.', detail: `The path ${request.url.split('?')[0]} was not found.` }], () => state.newId()),
    ),
  );

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = `${request.method} ${request.routeOptions.url ?? ''}`;
    calls.set(route, (calls.get(route) ?? 0) + 1);
    const auth = request.headers['authorization'];
    const key = typeof auth === 'string' && auth.startsWith('Klaviyo-API-Key ') ? auth.slice('Klaviyo-API-Key '.length) : undefined;
    if (!key || (options.apiKey ? key !== options.apiKey : !key.startsWith('pk_'))) {
      throw new ApiFailure([
        { status: 401, code: 'not_authenticated', title: 'Authentication credentials were not provided.', detail: 'Missing or invalid private key.' },
      ]);
    }
    const revision = request.headers['revision'];
    if (typeof revision !== 'string' || !/^\d{4}-\d{2}-\d{2}(\.pre)?$/.test(revision)) {
      throw invalid('A valid revision header (YYYY-MM-DD) is required.', { parameter: 'revision' });
    }
    if (revision.slice(0, 10) > latestRevision)
      throw invalid(`Revision ${revision} is not supported; the latest is ${latestRevision}.`, { parameter: 'revision' });
    const fault = faults.find((f) => f.method === request.method && request.url.startsWith(f.pathPrefix));
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.status === 429) {
        throw new ApiFailure(
          [
            {
              status: 429,
              code: 'throttled',
              title: 'Request was throttled.',
              detail: `Request was throttled. Expected available in ${fault.retryAfterSeconds ?? 1} second.`,
            },
          ],
          {
            'Retry-After': String(fault.retryAfterSeconds ?? 1),
          },
        );
      }
      const code = fault.status >= 500 ? 'error' : fault.status === 404 ? 'not_found' : 'invalid';
      throw new ApiFailure([
        { status: fault.status, code, title: fault.status >= 500 ? 'A server error occurred.' : 'Invalid input.', detail: 'Scripted sandbox failure.' },
      ]);
    }
    const bucket = ROUTE_BUCKETS[route];
    if (bucket) {
      const taken = limits.take(bucket);
      if ('retryAfter' in taken) {
        throw new ApiFailure(
          [
            {
              status: 429,
              code: 'throttled',
              title: 'Request was throttled.',
              detail: `Request was throttled. Expected available in ${taken.retryAfter} second.`,
            },
          ],
          {
            'Retry-After': String(taken.retryAfter),
          },
        );
      }
      for (const [k, v] of Object.entries(taken.headers)) reply.header(k, v);
    }
    state.settle();
  });

  type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined> }>;
  const wantsSubscriptions = (q: Record<string, string | undefined>): boolean => (q['additional-fields[profile]'] ?? '').split(',').includes('subscriptions');
  const selfUrl = (request: Req): string => `${base}${request.url}`;
  const nextUrl = (request: Req, cursor: string | undefined): string | undefined => {
    if (!cursor) return undefined;
    const url = new URL(selfUrl(request));
    url.searchParams.set('page[cursor]', cursor);
    return url.toString();
  };
  const links = (request: Req, next: string | undefined): Record<string, string> => {
    const out: Record<string, string> = { self: selfUrl(request) };
    const n = nextUrl(request, next);
    if (n) out['next'] = n;
    return out;
  };
  const profileInput = (data: Record<string, unknown> | undefined, pointer: string): ProfileInput => {
    if (!data || data['type'] !== 'profile') throw invalid('Expected a resource of type profile.', { pointer: `${pointer}/type` });
    const attributes = asRecord(data['attributes']);
    if (!attributes) throw invalid('attributes is required.', { pointer: `${pointer}/attributes` });
    const input: ProfileInput = { attributes: attributes as Record<string, Json> };
    if (typeof data['id'] === 'string') input.id = data['id'];
    const meta = asRecord(data['meta']);
    if (meta?.['patch_properties']) input.meta = { patch_properties: meta['patch_properties'] as NonNullable<ProfileInput['meta']>['patch_properties'] };
    return input;
  };
  const writeFailure = (e: unknown): never => {
    if (e instanceof DuplicateProfileError) {
      throw new ApiFailure([
        {
          status: 409,
          code: 'duplicate_profile',
          title: 'Conflict.',
          detail: e.message,
          pointer: '/data/attributes',
          meta: { duplicate_profile_id: e.existingId },
        },
      ]);
    }
    if (e instanceof NotFoundError) throw new ApiFailure([{ status: 404, code: 'not_found', title: 'Not found.', detail: e.message, pointer: '/data/id' }]);
    throw e;
  };

  // Profiles
  app.get('/api/profiles', async (request: Req, reply) => {
    const q = request.query;
    const terms = filterOf(q, PROFILE_FILTERS);
    const sort = q['sort'] ?? 'id';
    const field = sort.replace(/^-/, '');
    if (!['id', 'created', 'updated', 'email'].includes(field)) throw invalid(`Unsupported sort ${sort}.`, { parameter: 'sort' });
    const size = pageSize(q, 20, 100);
    const matches = [...state.profiles.values()].filter((p) => terms.every((t) => matchTerm(t, (p as unknown as Record<string, unknown>)[t.field])));
    const key = (p: Profile): string | number =>
      field === 'created' || field === 'updated' ? Date.parse(p[field]) : ((p as unknown as Record<string, string | null>)[field] ?? '');
    const { page, next } = keysetPage(matches, key, (p) => p.id, sort.startsWith('-'), size, q['page[cursor]']);
    return send(reply, 200, { data: page.map((p) => profileResource(p, base, wantsSubscriptions(q))), links: links(request, next) });
  });

  app.post('/api/profiles', async (request: Req, reply) => {
    const input = profileInput(asRecord(asRecord(request.body)?.['data']), '/data');
    const problem = profileInputProblem(input, true);
    if (problem) throw invalid(problem.detail, { pointer: `/data${problem.pointer}` });
    let profile: Profile;
    try {
      profile = state.createProfile(input);
    } catch (e) {
      return writeFailure(e);
    }
    return send(reply, 201, { data: profileResource(profile, base, wantsSubscriptions(request.query)), links: { self: `${base}/api/profiles/` } });
  });

  app.get('/api/profiles/:id', async (request: Req, reply) => {
    const p = state.profiles.get(request.params['id']!);
    if (!p)
      throw new ApiFailure([{ status: 404, code: 'not_found', title: 'Not found.', detail: `A profile with id ${request.params['id']} does not exist.` }]);
    return send(reply, 200, { data: profileResource(p, base, wantsSubscriptions(request.query)), links: { self: selfUrl(request) } });
  });

  app.patch('/api/profiles/:id', async (request: Req, reply) => {
    const data = asRecord(asRecord(request.body)?.['data']);
    const input = profileInput(data, '/data');
    if (input.id !== request.params['id'])
      throw new ApiFailure([{ status: 409, code: 'conflict', title: 'Conflict.', detail: 'The id in the body does not match the URL.', pointer: '/data/id' }]);
    const problem = profileInputProblem(input, false);
    if (problem) throw invalid(problem.detail, { pointer: `/data${problem.pointer}` });
    let profile: Profile;
    try {
      profile = state.patchProfile(request.params['id']!, input);
    } catch (e) {
      return writeFailure(e);
    }
    return send(reply, 200, { data: profileResource(profile, base, wantsSubscriptions(request.query)), links: { self: selfUrl(request) } });
  });

  app.post('/api/profile-import', async (request: Req, reply) => {
    const input = profileInput(asRecord(asRecord(request.body)?.['data']), '/data');
    const problem = profileInputProblem(input, true);
    if (problem) throw invalid(problem.detail, { pointer: `/data${problem.pointer}` });
    let result: { profile: Profile; created: boolean };
    try {
      result = state.upsertProfile(input);
    } catch (e) {
      return writeFailure(e);
    }
    return send(reply, result.created ? 201 : 200, {
      data: profileResource(result.profile, base, wantsSubscriptions(request.query)),
      links: { self: `${base}/api/profile-import/` },
    });
  });

  // Bulk import jobs
  app.post('/api/profile-bulk-import-jobs', async (request: Req, reply) => {
    const data = asRecord(asRecord(request.body)?.['data']);
    if (data?.['type'] !== 'profile-bulk-import-job') throw invalid('Expected a resource of type profile-bulk-import-job.', { pointer: '/data/type' });
    const items = asRecord(asRecord(asRecord(data['attributes'])?.['profiles']))?.['data'];
    if (!Array.isArray(items) || items.length === 0) throw invalid('profiles.data must be a non-empty array.', { pointer: '/data/attributes/profiles/data' });
    if (items.length > 10_000) throw invalid('A job accepts at most 10000 profiles.', { pointer: '/data/attributes/profiles/data' });
    const inputs: ProfileInput[] = [];
    const problems: ApiError[] = [];
    items.forEach((raw, i) => {
      const pointer = `/data/attributes/profiles/data/${i}`;
      try {
        const input = profileInput(asRecord(raw), pointer);
        const problem = profileInputProblem(input, true);
        if (problem) problems.push({ status: 400, code: 'invalid', title: 'Invalid input.', detail: problem.detail, pointer: `${pointer}${problem.pointer}` });
        const email = input.attributes['email'];
        const rejection = typeof email === 'string' ? state.jobRejections.get(email.toLowerCase()) : undefined;
        if (rejection) problems.push({ status: 400, code: 'invalid', title: 'Invalid input.', detail: rejection, pointer: `${pointer}/attributes/email` });
        inputs.push(input);
      } catch (e) {
        if (e instanceof ApiFailure) problems.push(...e.errors);
        else throw e;
      }
    });
    // Like Klaviyo, one invalid profile rejects the whole job; the errors point at each bad one.
    if (problems.length > 0) throw new ApiFailure(problems);
    const listData = asRecord(asRecord(asRecord(data['relationships'])?.['lists']))?.['data'];
    const listIds = Array.isArray(listData) ? listData.map((l) => String(asRecord(l)?.['id'])) : [];
    const job = state.createBulkJob(inputs, listIds);
    return send(reply, 202, { data: bulkJobResource(job, state, base), links: { self: `${base}/api/profile-bulk-import-jobs/` } });
  });

  const jobOf = (request: Req): ReturnType<typeof state.bulkJobs.get> & object => {
    const job = state.bulkJobs.get(request.params['id']!);
    if (!job) throw new ApiFailure([{ status: 404, code: 'not_found', title: 'Not found.', detail: `A job with id ${request.params['id']} does not exist.` }]);
    return job;
  };

  app.get('/api/profile-bulk-import-jobs/:id', async (request: Req, reply) =>
    send(reply, 200, { data: bulkJobResource(jobOf(request), state, base), links: { self: selfUrl(request) } }),
  );

  app.get('/api/profile-bulk-import-jobs/:id/import-errors', async (request: Req, reply) => {
    const job = jobOf(request);
    const size = pageSize(request.query, 20, 100);
    const errors = state.jobStatus(job) === 'complete' ? job.errors : [];
    const { page, next } = keysetPage(
      errors,
      (e) => e.id,
      (e) => e.id,
      false,
      size,
      request.query['page[cursor]'],
    );
    return send(reply, 200, { data: page.map(importErrorResource), links: links(request, next) });
  });

  app.get('/api/profile-bulk-import-jobs/:id/profiles', async (request: Req, reply) => {
    const job = jobOf(request);
    const size = pageSize(request.query, 20, 100);
    const profiles = job.profileIds.map((id) => state.profiles.get(id)).filter((p): p is Profile => p !== undefined);
    const { page, next } = keysetPage(
      profiles,
      (p) => p.id,
      (p) => p.id,
      false,
      size,
      request.query['page[cursor]'],
    );
    return send(reply, 200, { data: page.map((p) => profileResource(p, base, false)), links: links(request, next) });
  });

  // Consent
  const consentEmails = (request: Req, type: string, max: number): { emails: string[]; listId: string | undefined } => {
    const data = asRecord(asRecord(request.body)?.['data']);
    if (data?.['type'] !== type) throw invalid(`Expected a resource of type ${type}.`, { pointer: '/data/type' });
    const items = asRecord(asRecord(data['attributes'])?.['profiles'])?.['data'];
    if (!Array.isArray(items) || items.length === 0) throw invalid('profiles.data must be a non-empty array.', { pointer: '/data/attributes/profiles/data' });
    if (items.length > max) throw invalid(`At most ${max} profiles per job.`, { pointer: '/data/attributes/profiles/data' });
    const emails = items.map((item, i) => {
      const email = asRecord(asRecord(item)?.['attributes'])?.['email'];
      if (typeof email !== 'string') throw invalid('email is required.', { pointer: `/data/attributes/profiles/data/${i}/attributes/email` });
      return email.toLowerCase();
    });
    const listId = asRecord(asRecord(asRecord(data['relationships'])?.['list'])?.['data'])?.['id'];
    if (typeof listId === 'string' && !state.lists.has(listId))
      throw new ApiFailure([
        {
          status: 404,
          code: 'not_found',
          title: 'Not found.',
          detail: `A list with id ${listId} does not exist.`,
          pointer: '/data/relationships/list/data/id',
        },
      ]);
    return { emails, listId: typeof listId === 'string' ? listId : undefined };
  };

  app.post('/api/profile-subscription-bulk-create-jobs', async (request: Req, reply) => {
    const { emails, listId } = consentEmails(request, 'profile-subscription-bulk-create-job', 1000);
    state.subscribe(emails, listId);
    return send(reply, 202);
  });

  app.post('/api/profile-subscription-bulk-delete-jobs', async (request: Req, reply) => {
    const { emails, listId } = consentEmails(request, 'profile-subscription-bulk-delete-job', 100);
    state.unsubscribe(emails, listId);
    return send(reply, 202);
  });

  // Lists
  app.get('/api/lists', async (request: Req, reply) => {
    const terms = filterOf(request.query, LIST_FILTERS);
    const size = pageSize(request.query, 10, 10);
    const lists = [...state.lists.values()].filter((l) => terms.every((t) => matchTerm(t, (l as unknown as Record<string, unknown>)[t.field])));
    const { page, next } = keysetPage(
      lists,
      (l) => l.id,
      (l) => l.id,
      false,
      size,
      request.query['page[cursor]'],
    );
    return send(reply, 200, { data: page.map((l) => listResource(l, base)), links: links(request, next) });
  });

  app.post('/api/lists', async (request: Req, reply) => {
    const data = asRecord(asRecord(request.body)?.['data']);
    const name = asRecord(data?.['attributes'])?.['name'];
    if (data?.['type'] !== 'list' || typeof name !== 'string' || name === '') throw invalid('A list needs a name.', { pointer: '/data/attributes/name' });
    return send(reply, 201, { data: listResource(state.createList(name), base), links: { self: `${base}/api/lists/` } });
  });

  const members = (request: Req): { listId: string; ids: string[] } => {
    const list = state.lists.get(request.params['id']!);
    if (!list)
      throw new ApiFailure([{ status: 404, code: 'not_found', title: 'Not found.', detail: `A list with id ${request.params['id']} does not exist.` }]);
    const data = asRecord(request.body)?.['data'];
    if (!Array.isArray(data) || data.length === 0) throw invalid('data must be a non-empty array of profiles.', { pointer: '/data' });
    if (data.length > 1000) throw invalid('At most 1000 profiles per request.', { pointer: '/data' });
    const ids = data.map((d, i) => {
      const r = asRecord(d);
      if (r?.['type'] !== 'profile' || typeof r['id'] !== 'string') throw invalid('Expected a profile identifier.', { pointer: `/data/${i}` });
      if (!state.profiles.has(r['id'])) throw invalid(`A profile with id ${r['id']} does not exist.`, { pointer: `/data/${i}/id` });
      return r['id'];
    });
    return { listId: list.id, ids };
  };

  app.post('/api/lists/:id/relationships/profiles', async (request: Req, reply) => {
    const { listId, ids } = members(request);
    for (const id of ids) state.join(listId, id);
    return send(reply, 204);
  });

  app.delete('/api/lists/:id/relationships/profiles', async (request: Req, reply) => {
    const { listId, ids } = members(request);
    for (const id of ids) state.lists.get(listId)!.members.delete(id);
    return send(reply, 204);
  });

  // Metrics and events
  app.get('/api/metrics', async (request: Req, reply) => {
    const { page, next } = keysetPage(
      [...state.metrics.values()],
      (m) => m.id,
      (m) => m.id,
      false,
      200,
      request.query['page[cursor]'],
    );
    return send(reply, 200, { data: page.map((m) => metricResource(m, base)), links: links(request, next) });
  });

  app.get('/api/events', async (request: Req, reply) => {
    const q = request.query;
    const terms = filterOf(q, EVENT_FILTERS);
    const sort = q['sort'] ?? 'datetime';
    if (!['datetime', '-datetime', 'timestamp', '-timestamp'].includes(sort)) throw invalid(`Unsupported sort ${sort}.`, { parameter: 'sort' });
    const size = pageSize(q, 200, 1000);
    const read = (e: KlaviyoEvent, field: string): unknown =>
      field === 'metric_id'
        ? e.metricId
        : field === 'profile_id'
          ? e.profileId
          : field === 'timestamp'
            ? Math.floor(e.time / 1000)
            : new Date(Math.floor(e.time / 1000) * 1000).toISOString();
    const matches = [...state.events.values()].filter((e) => terms.every((t) => matchTerm(t, read(e, t.field))));
    const { page, next } = keysetPage(
      matches,
      (e) => Math.floor(e.time / 1000),
      (e) => e.id,
      sort.startsWith('-'),
      size,
      q['page[cursor]'],
    );
    const include = (q['include'] ?? '').split(',');
    const body: Record<string, unknown> = { data: page.map((e) => eventResource(e, base)), links: links(request, next) };
    const included: Json[] = [];
    if (include.includes('profile')) {
      for (const id of new Set(page.map((e) => e.profileId))) {
        const p = state.profiles.get(id);
        if (p) included.push(profileResource(p, base, false));
      }
    }
    if (include.includes('metric')) for (const id of new Set(page.map((e) => e.metricId))) included.push(metricResource(state.metrics.get(id)!, base));
    if (include.some((i) => i !== '')) body['included'] = included;
    return send(reply, 200, body);
  });

  app.post('/api/events', async (request: Req, reply) => {
    const attributes = asRecord(asRecord(asRecord(request.body)?.['data'])?.['attributes']);
    const metricName = asRecord(asRecord(asRecord(attributes?.['metric'])?.['data'])?.['attributes'])?.['name'];
    const email = asRecord(asRecord(asRecord(attributes?.['profile'])?.['data'])?.['attributes'])?.['email'];
    if (typeof metricName !== 'string') throw invalid('metric name is required.', { pointer: '/data/attributes/metric/data/attributes/name' });
    if (typeof email !== 'string')
      throw invalid('The sandbox identifies event profiles by email.', { pointer: '/data/attributes/profile/data/attributes/email' });
    const time = typeof attributes?.['time'] === 'string' ? Date.parse(attributes['time']) : undefined;
    state.addEvent({ email, metric: metricName, ...(time ? { time } : {}), properties: (asRecord(attributes?.['properties']) ?? {}) as Record<string, Json> });
    return send(reply, 202);
  });

  // Data privacy
  app.post('/api/data-privacy-deletion-jobs', async (request: Req, reply) => {
    const data = asRecord(asRecord(request.body)?.['data']);
    if (data?.['type'] !== 'data-privacy-deletion-job') throw invalid('Expected a resource of type data-privacy-deletion-job.', { pointer: '/data/type' });
    const profile = asRecord(asRecord(asRecord(data['attributes'])?.['profile'])?.['data']);
    const attributes = asRecord(profile?.['attributes']) ?? {};
    const identifier: { email?: string; phone_number?: string; id?: string } = {};
    if (typeof attributes['email'] === 'string') identifier.email = attributes['email'];
    if (typeof attributes['phone_number'] === 'string') identifier.phone_number = attributes['phone_number'];
    if (typeof profile?.['id'] === 'string') identifier.id = profile['id'];
    if (Object.keys(identifier).length !== 1) {
      throw invalid('Exactly one of email, phone_number or id must be given.', { pointer: '/data/attributes/profile/data' });
    }
    state.requestDeletion(identifier);
    return send(reply, 202);
  });

  // System webhooks
  const webhookResource = (w: Webhook): Record<string, Json> => ({
    type: 'webhook',
    id: w.id,
    attributes: {
      name: w.name,
      description: w.description,
      endpoint_url: w.endpoint_url,
      enabled: w.enabled,
      created_at: w.created_at,
      updated_at: w.created_at,
    },
    relationships: {
      'webhook-topics': {
        data: w.topics.map((id) => ({ type: 'webhook-topic', id })),
        links: { self: `${base}/api/webhooks/${w.id}/relationships/webhook-topics/`, related: `${base}/api/webhooks/${w.id}/webhook-topics/` },
      },
    },
    links: { self: `${base}/api/webhooks/${w.id}/` },
  });

  app.get('/api/webhook-topics', async (request: Req, reply) => {
    const topics = [...state.metrics.values()].map((m) => topicOf(m.name));
    return send(reply, 200, {
      data: topics.map((id) => ({ type: 'webhook-topic', id, links: { self: `${base}/api/webhook-topics/${encodeURIComponent(id)}/` } })),
      links: { self: selfUrl(request) },
    });
  });

  app.get('/api/webhooks', async (request: Req, reply) =>
    send(reply, 200, { data: [...state.webhooks.values()].map(webhookResource), links: { self: selfUrl(request) } }),
  );

  app.post('/api/webhooks', async (request: Req, reply) => {
    const data = asRecord(asRecord(request.body)?.['data']);
    if (data?.['type'] !== 'webhook') throw invalid('Expected a resource of type webhook.', { pointer: '/data/type' });
    const a = asRecord(data['attributes']) ?? {};
    const name = a['name'];
    const endpoint = a['endpoint_url'];
    const secret = a['secret_key'];
    if (typeof name !== 'string' || name === '') throw invalid('name is required.', { pointer: '/data/attributes/name' });
    if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint))
      throw invalid('endpoint_url must be a URL.', { pointer: '/data/attributes/endpoint_url' });
    if (typeof secret !== 'string' || secret.length < 16)
      throw invalid('secret_key must be at least 16 characters.', { pointer: '/data/attributes/secret_key' });
    const topicData = asRecord(asRecord(data['relationships'])?.['webhook-topics'])?.['data'];
    const known = new Set([...state.metrics.values()].map((m) => topicOf(m.name)));
    const topics = (Array.isArray(topicData) ? topicData : []).map((t, i) => {
      const id = asRecord(t)?.['id'];
      if (typeof id !== 'string' || !known.has(id))
        throw invalid(`Unknown webhook topic ${String(id)}.`, { pointer: `/data/relationships/webhook-topics/data/${i}/id` });
      return id;
    });
    const hook: Webhook = {
      id: state.newId(),
      name,
      description: typeof a['description'] === 'string' ? a['description'] : null,
      endpoint_url: endpoint,
      secret_key: secret,
      topics,
      enabled: true,
      created_at: state.now(),
    };
    state.webhooks.set(hook.id, hook);
    return send(reply, 201, { data: webhookResource(hook), links: { self: `${base}/api/webhooks/` } });
  });

  app.delete('/api/webhooks/:id', async (request: Req, reply) => {
    if (!state.webhooks.delete(request.params['id']!)) {
      throw new ApiFailure([{ status: 404, code: 'not_found', title: 'Not found.', detail: `A webhook with id ${request.params['id']} does not exist.` }]);
    }
    return send(reply, 204);
  });

  registerSdkRoutes(app, { state, base: () => base, send });

  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  base = address.replace('[::1]', '127.0.0.1');

  return {
    esp: 'klaviyo',
    url: base,
    state,
    calls,
    settle: () => state.settle(),
    profileByEmail: (email) => {
      state.settle();
      return state.findByEmail(email);
    },
    connectorSettings: {},
    seedContacts(contacts) {
      for (const c of contacts) {
        const attributes: Record<string, Json> = { email: normaliseEmail(c.email) };
        const properties: Record<string, Json> = {};
        for (const [k, v] of Object.entries(c.properties ?? {})) (STANDARD_ATTRIBUTES.has(k) ? attributes : properties)[k] = v;
        const { profile } = state.upsertProfile({ attributes: { ...attributes, properties } });
        if (c.consent) {
          const unsubscribed = c.consent === 'unsubscribed';
          profile.marketing = {
            consent: unsubscribed ? 'UNSUBSCRIBED' : 'SUBSCRIBED',
            consent_timestamp: state.now(),
            method: 'IMPORT',
            suppression: unsubscribed ? [{ reason: 'UNSUBSCRIBE', timestamp: state.now() }] : [],
          };
        }
      }
      stateFile?.changed();
    },
    seedEvents(events) {
      for (const e of events) state.addEvent({ email: normaliseEmail(e.email), metric: e.name, time: e.time, properties: e.properties ?? {} }, true);
      stateFile?.changed();
    },
    contacts: () => {
      state.settle();
      const lists = [...state.lists.values()];
      return [...state.profiles.values()]
        .filter((p) => p.email)
        .map((p) => {
          const properties: Record<string, unknown> = { ...p.properties };
          for (const k of STANDARD_ATTRIBUTES) if (p[k as keyof Profile] !== null) properties[k] = p[k as keyof Profile];
          return { email: p.email!, properties, tags: [], lists: lists.filter((l) => l.members.has(p.id)).map((l) => l.name) };
        });
    },
    seedProfile: (input) => {
      const { profile } = state.upsertProfile({ attributes: { email: input.email, first_name: input.first_name ?? null, properties: input.properties ?? {} } });
      if (input.consent) profile.marketing.consent = input.consent;
      if (input.suppression) profile.marketing.suppression = input.suppression.map((reason) => ({ reason, timestamp: state.now() }));
      return profile;
    },
    seedEvent: (input) => state.addEvent(input),
    rejectOnImport: (email, code = 'invalid', detail = 'The profile was rejected by the sandbox.') => {
      state.importRejections.set(email.toLowerCase(), { code, detail });
    },
    rejectInJob: (email, detail = 'The email domain does not accept mail.') => {
      state.jobRejections.set(email.toLowerCase(), detail);
    },
    clearFaults: () => void faults.splice(0),
    fail: (spec) => {
      faults.push({ ...spec });
    },
    flushWebhooks: async () => {
      while (deliveries.size > 0) await Promise.all([...deliveries]);
    },
    close: async () => {
      await Promise.all([...deliveries]);
      await app.close();
      stateFile?.close();
    },
  };
}
