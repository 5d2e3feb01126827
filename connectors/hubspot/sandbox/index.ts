/**
 * A stateful local HubSpot: the `/crm/v3/...` paths the official SDK calls, with bearer auth, HubSpot's
 * batch limit, property validation and error bodies, the 10,000-result search cap, rate limits with
 * HubSpot's 429 body and headers, signed webhooks, fault injection, and a seed/inspect API for tests.
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { systemClock } from '../../../src/model/clock';
import { normaliseEmail } from '../../../src/model/identity';
import type { RateWindow, SandboxExchange, SandboxOptions, SandboxServer } from '../../connector';
import { SandboxHttpError, errorBody } from './errors';
import type { SandboxLimits } from './ratelimit';
import { DEFAULT_LIMITS, SandboxRateLimiter } from './ratelimit';
import type { Verdict } from './ratelimit';
import { registerRoutes } from './routes';
import { registerSdkRoutes } from './sdk-routes';
import { StateFile } from '../../sandbox-state-file';
import type { ChangeOrigin, PortalSnapshot } from './state';
import { PortalState } from './state';
import type { Delivery } from './webhooks';
import { WebhookSender } from './webhooks';

export type { SandboxExchange };

/** A fault the next matching requests meet: an answer instead of the real one, and/or a delay first. */
export interface SandboxFault {
  method?: string;
  /** Matches the path (without query): a substring or a RegExp. */
  path?: string | RegExp;
  /** Answer with this status (and `body`, default HubSpot's error body for it); without one, `headers` go on the real answer. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long (wall clock) before answering: longer than the client's timeout makes a timeout. */
  delayMs?: number;
  /** Handle the request at once but hold its answer this long (wall clock): a read whose answer arrives after later writes were applied. */
  answerDelayMs?: number;
  /** How many requests it applies to (default 1). */
  times?: number;
}

export interface HubspotSandboxOptions extends SandboxOptions {
  /** Bearer token the sandbox accepts (default `sandbox-token`). */
  accessToken?: string;
  /** Limits by window name (`tenSecondly`, `daily`, `search`); also settable through `rateLimits`. */
  limits?: Partial<SandboxLimits>;
  /** Add a `Retry-After` header to 429s (real HubSpot documents none; default false). */
  retryAfterHeader?: boolean;
  /** Secret webhooks are signed with (default `sandbox-client-secret`). */
  clientSecret?: string;
  /** The app id API writes are attributed to (`sourceId` of their webhooks; default 424242). */
  appId?: number;
  portalId?: number;
  /** Properties whose changes are delivered by webhook (default all). */
  webhookProperties?: string[];
  /** Called with every exchange, after the answer is sent. */
  onExchange?: (exchange: SandboxExchange) => void;
}

export interface ContactView {
  id: string;
  properties: Record<string, string>;
  updatedAt: number;
}

export interface HubspotSandbox extends SandboxServer {
  readonly state: PortalState;
  readonly accessToken: string;
  readonly appId: number;
  /** Creates contacts directly (no webhooks, no rate limit); returns their ids. */
  seed(contacts: { email: string; properties?: Record<string, string> }[]): string[];
  /** Changes a contact as a person in HubSpot's UI would (webhooks with changeSource CRM_UI). */
  edit(idOrEmail: string, properties: Record<string, string>): ContactView;
  /** Merges two contacts as HubSpot's UI would. */
  merge(primaryId: string, mergedId: string): void;
  /** Restores an archived contact from the recycle bin, as HubSpot's UI would (same id, old values). */
  unarchive(id: string): void;
  contact(idOrEmail: string): ContactView | undefined;
  contactCount(): number;
  isBlocklisted(email: string): boolean;
  /** Member record ids of a list, by name. */
  listMembers(name: string): string[];
  inject(fault: SandboxFault): void;
  /** Drops the injected faults not answered yet. */
  clearFaults(): void;
  /** Requests served, by route, and 429s answered, by policy. */
  stats(): { requests: Record<string, number>; rejected: Record<string, number> };
  flushWebhooks(): Promise<void>;
  deliveries(): Delivery[];
}

function windowsFrom(options: HubspotSandboxOptions): { enabled: boolean; limits: SandboxLimits } {
  const overrides = (typeof options.rateLimits === 'object' ? options.rateLimits : {}) as Partial<Record<keyof SandboxLimits, RateWindow>>;
  return { enabled: options.rateLimits !== false, limits: { ...DEFAULT_LIMITS, ...options.limits, ...overrides } };
}

function parseJson(payload: unknown): unknown {
  if (typeof payload !== 'string' || payload === '') return undefined;
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}

function view(state: PortalState, id: string): ContactView | undefined {
  const c = state.contact(id);
  if (!c) return undefined;
  const properties: Record<string, string> = {};
  for (const k of c.properties.keys()) properties[k] = state.value(c, k)!;
  properties.lastmodifieddate = state.value(c, 'lastmodifieddate')!;
  return { id: c.id, properties, updatedAt: c.updatedAt };
}

/** Starts the sandbox on 127.0.0.1 (port 0 = a free port). */
export async function startHubspotSandbox(options: HubspotSandboxOptions = {}): Promise<HubspotSandbox> {
  const clock = options.clock ?? systemClock;
  const accessToken = options.accessToken ?? 'sandbox-token';
  const appId = options.appId ?? 424242;
  const { enabled, limits } = windowsFrom(options);
  const limiter = new SandboxRateLimiter(limits, clock, enabled, options.retryAfterHeader ?? false);
  const sender = options.webhookUrl
    ? new WebhookSender(
        {
          url: options.webhookUrl,
          clientSecret: options.clientSecret ?? 'sandbox-client-secret',
          appId,
          portalId: options.portalId ?? 62515,
          ...(options.webhookProperties ? { properties: options.webhookProperties } : {}),
        },
        clock,
      )
    : undefined;
  const state = new PortalState(
    () => clock.now(),
    (event) => sender?.enqueue(event),
  );
  const apiOrigin: ChangeOrigin = { source: 'INTEGRATION', sourceId: String(appId) };
  const uiOrigin: ChangeOrigin = { source: 'CRM_UI', sourceId: 'userId:1' };
  const faults: SandboxFault[] = [];
  const requests: Record<string, number> = {};
  const stateFile = options.stateFile
    ? new StateFile({
        esp: 'hubspot',
        file: options.stateFile,
        state: { snapshot: () => state.snapshot(), restore: (s) => state.restore(s as PortalSnapshot) },
      })
    : undefined;
  stateFile?.load();

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });

  // Calls count against the rate windows when they arrive (as HubSpot counts them); the answer is given
  // in preHandler, once the body is parsed, so refused requests are recorded whole.
  const verdicts = new WeakMap<object, Verdict>();
  const answerDelays = new WeakMap<object, number>();
  app.addHook('onSend', async (req, _reply, payload) => {
    const late = answerDelays.get(req.raw);
    if (late) await new Promise((resolve) => setTimeout(resolve, late));
    return payload;
  });
  app.addHook('onRequest', async (req) => {
    if (req.headers.authorization === `Bearer ${accessToken}`) verdicts.set(req.raw, limiter.admit(req.url.split('?')[0]!.endsWith('/search')));
  });
  app.addHook('preHandler', async (req, reply) => {
    const route = `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`;
    requests[route] = (requests[route] ?? 0) + 1;
    if (req.headers.authorization !== `Bearer ${accessToken}`) {
      return reply
        .code(401)
        .send(
          errorBody(
            'INVALID_AUTHENTICATION',
            'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
          ),
        );
    }
    const path = req.url.split('?')[0]!;
    const fault = faults.find(
      (f) =>
        (f.times ?? 1) > 0 && (!f.method || f.method === req.method) && (!f.path || (typeof f.path === 'string' ? path.includes(f.path) : f.path.test(path))),
    );
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault.answerDelayMs) answerDelays.set(req.raw, fault.answerDelayMs);
      if (fault.status) {
        const body = fault.body ?? errorBody(fault.status >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_ERROR', `injected ${fault.status}`);
        return reply
          .code(fault.status)
          .headers(fault.headers ?? {})
          .send(body);
      }
    }
    const verdict = verdicts.get(req.raw);
    if (verdict) {
      void reply.headers(verdict.headers);
      if (!verdict.ok) return reply.code(429).send(verdict.body);
    }
    // Headers alone (no status): the real answer, with these headers over the sandbox's own.
    if (fault?.headers) void reply.headers(fault.headers);
    return undefined;
  });

  if (stateFile) app.addHook('onResponse', async (req) => stateFile.afterRequest(req.method));

  if (options.onExchange) {
    const onExchange = options.onExchange;
    app.addHook('onSend', async (req, reply, payload) => {
      onExchange({
        method: req.method,
        path: req.url,
        headers: req.headers,
        requestBody: req.body,
        status: reply.statusCode,
        responseBody: parseJson(payload),
      });
      return payload;
    });
  }

  app.setErrorHandler((err: Error, _req, reply) => {
    if (err instanceof SandboxHttpError) return reply.code(err.statusCode).send(err.body);
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return reply.code(400).send(errorBody('VALIDATION_ERROR', `Invalid input JSON: ${err.message}`));
    return reply.code(500).send(errorBody('INTERNAL_ERROR', `sandbox error: ${err.message}`));
  });

  registerRoutes(app, state, () => clock.now(), apiOrigin);
  registerSdkRoutes(app, state, () => clock.now(), apiOrigin);
  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });

  const find = (idOrEmail: string) => (idOrEmail.includes('@') ? state.contactByEmail(idOrEmail) : state.contact(idOrEmail));
  const seed = (contacts: { email: string; properties?: Record<string, string> }[]): string[] => {
    const ids = contacts.map(({ email, properties }) => {
      const { values, problems } = state.check({ ...properties });
      if (problems.length > 0) throw new Error(`seed ${email}: ${problems.map((p) => p.message).join('; ')}`);
      return state.quietly(() => state.create(new Map([['email', normaliseEmail(email)], ...values]), uiOrigin).id);
    });
    stateFile?.changed();
    return ids;
  };
  return {
    esp: 'hubspot',
    url: address,
    state,
    accessToken,
    appId,
    seed,
    edit: (idOrEmail, properties) => {
      const c = find(idOrEmail);
      if (!c) throw new Error(`no contact ${idOrEmail}`);
      const { values, problems } = state.check(properties);
      if (problems.length > 0) throw new Error(`edit ${idOrEmail}: ${problems.map((p) => p.message).join('; ')}`);
      state.update(c, values, uiOrigin);
      stateFile?.changed();
      return view(state, c.id)!;
    },
    merge: (primaryId, mergedId) => {
      state.merge(primaryId, mergedId, uiOrigin);
      stateFile?.changed();
    },
    unarchive: (id) => {
      state.unarchive(id);
      stateFile?.changed();
    },
    contact: (idOrEmail) => {
      const c = find(idOrEmail);
      return c ? view(state, c.id) : undefined;
    },
    connectorSettings: { appId: String(appId) },
    seedContacts: (contacts) => {
      seed(contacts);
      state.quietly(() => {
        for (const { email, consent } of contacts) {
          if (!consent) continue;
          for (const t of state.subscriptionTypes)
            state.setSubscription(normaliseEmail(email), t.id, consent === 'subscribed' ? 'SUBSCRIBED' : 'NOT_SUBSCRIBED', uiOrigin);
        }
      });
    },
    contacts: () => {
      const lists = state.allLists();
      return state.allContacts().map((c) => {
        const properties = view(state, c.id)!.properties;
        return { email: properties.email ?? '', properties, tags: [], lists: lists.filter((l) => l.members.has(c.id)).map((l) => l.name) };
      });
    },
    contactCount: () => state.allContacts().length,
    isBlocklisted: (email) => state.isBlocklisted(email),
    listMembers: (name) => [...(state.listByName(name)?.members ?? [])],
    inject: (fault) => void faults.push({ times: 1, ...fault }),
    clearFaults: () => void faults.splice(0),
    stats: () => ({ requests: { ...requests }, rejected: { ...limiter.rejected } }),
    flushWebhooks: () => sender?.flush() ?? Promise.resolve(),
    deliveries: () => [...(sender?.deliveries ?? [])],
    close: async () => {
      await sender?.flush();
      sender?.close();
      await app.close();
      stateFile?.close();
    },
  };
}
