/**
 * Routes the connector never calls but a user driving `klaviyo-api` against the sandbox does: one list
 * with its profiles, the lists of one profile, segments and tags (the sandbox models neither, so both
 * answer an empty collection, as a new account does), and bulk suppression and unsuppression jobs.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiFailure, asRecord, invalid, pageSize } from './http';
import { keysetPage, listResource, profileResource } from './jsonapi';
import type { Json, Profile, SandboxState } from './state';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined> }>;

/** Klaviyo's reason for a suppression made by hand or through the API; the only one unsuppress lifts. */
const MANUAL = 'USER_SUPPRESSED';
/** Profiles one suppression job takes. */
const SUPPRESSION_MAX = 100;

interface SuppressionJob {
  kind: 'create' | 'delete';
  id: string;
  created: string;
  total: number;
  skipped: number;
  listId?: string;
}

export interface SdkRouteContext {
  state: SandboxState;
  base: () => string;
  send(reply: FastifyReply, status: number, body?: unknown): FastifyReply;
}

const notFound = (what: string): ApiFailure => new ApiFailure([{ status: 404, code: 'not_found', title: 'Not found.', detail: `${what} does not exist.` }]);

/** Registers the routes on the sandbox's app. */
export function registerSdkRoutes(app: FastifyInstance, { state, base, send }: SdkRouteContext): void {
  const jobs = new Map<string, SuppressionJob>();
  const self = (request: Req): string => `${base()}${request.url}`;
  const listOf = (id: string) => {
    const list = state.lists.get(id);
    if (!list) throw notFound(`A list with id ${id}`);
    return list;
  };

  app.get('/api/lists/:id', async (request: Req, reply) => {
    const list = listOf(request.params['id']!);
    const resource = listResource(list, base());
    if ((request.query['additional-fields[list]'] ?? '').split(',').includes('profile_count')) {
      (resource['attributes'] as Record<string, Json>)['profile_count'] = list.members.size;
    }
    return send(reply, 200, { data: resource, links: { self: self(request) } });
  });

  app.get('/api/lists/:id/profiles', async (request: Req, reply) => {
    const list = listOf(request.params['id']!);
    const q = request.query;
    const sort = q['sort'] ?? 'joined_group_at';
    if (sort !== 'joined_group_at' && sort !== '-joined_group_at') throw invalid(`Unsupported sort ${sort}.`, { parameter: 'sort' });
    const joined = (id: string): string => list.joinedAt?.get(id) ?? list.created;
    const members = [...list.members].map((id) => state.profiles.get(id)).filter((p): p is Profile => p !== undefined);
    const { page, next } = keysetPage(
      members,
      (p) => Date.parse(joined(p.id)),
      (p) => p.id,
      sort.startsWith('-'),
      pageSize(q, 20, 100),
      q['page[cursor]'],
    );
    const withSubscriptions = (q['additional-fields[profile]'] ?? '').split(',').includes('subscriptions');
    const data = page.map((p) => {
      const r = profileResource(p, base(), withSubscriptions);
      (r['attributes'] as Record<string, Json>)['joined_group_at'] = joined(p.id);
      return r;
    });
    const links: Record<string, string> = { self: self(request) };
    if (next) {
      const url = new URL(self(request));
      url.searchParams.set('page[cursor]', next);
      links['next'] = url.toString();
    }
    return send(reply, 200, { data, links });
  });

  app.get('/api/profiles/:id/lists', async (request: Req, reply) => {
    const id = request.params['id']!;
    if (!state.profiles.has(id)) throw notFound(`A profile with id ${id}`);
    const lists = [...state.lists.values()].filter((l) => l.members.has(id));
    return send(reply, 200, { data: lists.map((l) => listResource(l, base())), links: { self: self(request) } });
  });

  for (const path of ['/api/segments', '/api/tags']) {
    app.get(path, async (request: Req, reply) => {
      pageSize(request.query, 10, path === '/api/tags' ? 100 : 10);
      return send(reply, 200, { data: [], links: { self: self(request) } });
    });
  }

  /** The emails a suppression job names: its profiles, or every member of the list it names. */
  const jobEmails = (request: Req, type: string): { emails: string[]; listId?: string } => {
    const data = asRecord(asRecord(request.body)?.['data']);
    if (data?.['type'] !== type) throw invalid(`Expected a resource of type ${type}.`, { pointer: '/data/type' });
    const listId = asRecord(asRecord(asRecord(data['relationships'])?.['list'])?.['data'])?.['id'];
    if (typeof listId === 'string') {
      const list = listOf(listId);
      return { emails: [...list.members].map((id) => state.profiles.get(id)?.email).filter((e): e is string => typeof e === 'string'), listId };
    }
    const items = asRecord(asRecord(data['attributes'])?.['profiles'])?.['data'];
    if (!Array.isArray(items) || items.length === 0) throw invalid('Name profiles (by email) or a list.', { pointer: '/data/attributes/profiles/data' });
    if (items.length > SUPPRESSION_MAX) throw invalid(`At most ${SUPPRESSION_MAX} profiles per job.`, { pointer: '/data/attributes/profiles/data' });
    return {
      emails: items.map((item, i) => {
        const email = asRecord(asRecord(item)?.['attributes'])?.['email'];
        if (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
          throw invalid('A valid email is required.', { pointer: `/data/attributes/profiles/data/${i}/attributes/email` });
        return email.trim().toLowerCase();
      }),
    };
  };

  const jobResource = (job: SuppressionJob): Record<string, Json> => {
    const type = job.kind === 'create' ? 'profile-suppression-bulk-create-job' : 'profile-suppression-bulk-delete-job';
    return {
      type,
      id: job.id,
      attributes: {
        status: 'complete',
        created_at: job.created,
        total_count: job.total,
        completed_count: job.total - job.skipped,
        skipped_count: job.skipped,
        completed_at: job.created,
      },
      ...(job.listId ? { relationships: { lists: { data: [{ type: 'list', id: job.listId }] } } } : {}),
      links: { self: `${base()}/api/${type}s/${job.id}/` },
    };
  };

  // Suppression applies at once (the sandbox's jobs are fast); unknown emails get a new, suppressed profile, as on Klaviyo.
  app.post('/api/profile-suppression-bulk-create-jobs', async (request: Req, reply) => {
    const { emails, listId } = jobEmails(request, 'profile-suppression-bulk-create-job');
    for (const email of emails) {
      const p = state.findByEmail(email) ?? state.upsertProfile({ attributes: { email } }).profile;
      if (p.marketing.suppression.some((s) => s.reason === MANUAL)) continue;
      p.marketing.suppression = [...p.marketing.suppression, { reason: MANUAL, timestamp: state.now() }];
      p.updated = state.now();
    }
    const job: SuppressionJob = { kind: 'create', id: state.newId(), created: state.now(), total: emails.length, skipped: 0, ...(listId ? { listId } : {}) };
    jobs.set(job.id, job);
    return send(reply, 202, { data: jobResource(job), links: { self: `${base()}/api/profile-suppression-bulk-create-jobs/` } });
  });

  app.post('/api/profile-suppression-bulk-delete-jobs', async (request: Req, reply) => {
    const { emails, listId } = jobEmails(request, 'profile-suppression-bulk-delete-job');
    let skipped = 0;
    for (const email of emails) {
      const p = state.findByEmail(email);
      // Only manual suppressions lift: unsubscribes, bounces and spam complaints stay (consent is the person's).
      if (!p || !p.marketing.suppression.some((s) => s.reason === MANUAL)) {
        skipped++;
        continue;
      }
      p.marketing.suppression = p.marketing.suppression.filter((s) => s.reason !== MANUAL);
      p.updated = state.now();
    }
    const job: SuppressionJob = { kind: 'delete', id: state.newId(), created: state.now(), total: emails.length, skipped, ...(listId ? { listId } : {}) };
    jobs.set(job.id, job);
    return send(reply, 202, { data: jobResource(job), links: { self: `${base()}/api/profile-suppression-bulk-delete-jobs/` } });
  });

  for (const kind of ['create', 'delete'] as const) {
    app.get(`/api/profile-suppression-bulk-${kind}-jobs/:id`, async (request: Req, reply) => {
      const job = jobs.get(request.params['id']!);
      if (!job || job.kind !== kind) throw notFound(`A job with id ${request.params['id']}`);
      return send(reply, 200, { data: jobResource(job), links: { self: self(request) } });
    });
  }
}
