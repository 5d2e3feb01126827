/**
 * Account-level routes a user's `@mailchimp/mailchimp_marketing` calls and the connector does not: the
 * API root (`GET /3.0/`, what `ping`-style health checks and account pages read) and audiences (`GET` and
 * `POST /3.0/lists`).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Audience } from './audience';
import { mcTime } from './audience';
import { invalid } from './problem';
import { project, renderList } from './render';

/** What the account routes need from the sandbox. */
export interface AccountContext {
  lists: Map<string, Audience>;
  addList(id: string, name?: string): Audience;
  now(): number;
}

/** Members of `POST /lists` Mailchimp requires, and the contact fields it requires within `contact`. */
const REQUIRED = ['name', 'contact', 'permission_reminder', 'campaign_defaults', 'email_type_option'];
const REQUIRED_CONTACT = ['company', 'address1', 'city', 'country'];
const REQUIRED_DEFAULTS = ['from_name', 'from_email', 'language'];
/** Mailchimp's free plan allows one audience; the sandbox allows a few, as paid plans do. */
const MAX_LISTS = 100;

type Req = FastifyRequest<{ Querystring: Record<string, string | undefined>; Body: Record<string, unknown> | undefined }>;

function fieldsOf(q: Record<string, string | undefined>): string[] | undefined {
  return q.fields ? q.fields.split(',').filter(Boolean) : undefined;
}

function count(q: Record<string, string | undefined>, name: string, def: number, max: number): number {
  const raw = q[name];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw invalid(`${name} must be an integer no greater than ${max}.`, [{ field: name, message: `Invalid ${name}.` }]);
  return n;
}

/** Registers `GET /3.0/`, `GET /3.0/lists` and `POST /3.0/lists`. */
export function registerAccountRoutes(app: FastifyInstance, ctx: AccountContext): void {
  const started = ctx.now();

  app.get('/3.0/', async (req: Req) =>
    project(
      {
        account_id: 'sandbox0account',
        login_id: 'sandbox0login',
        account_name: 'segsync sandbox',
        email: 'sandbox@example.com',
        first_name: 'Sandbox',
        last_name: 'Owner',
        username: 'sandbox',
        role: 'owner',
        member_since: mcTime(started),
        pricing_plan_type: 'monthly',
        account_timezone: 'UTC',
        account_industry: 'Ecommerce',
        contact: { company: 'segsync sandbox', addr1: '1 Loopback Way', city: 'Localhost', state: '', zip: '00000', country: 'US' },
        pro_enabled: false,
        last_login: mcTime(started),
        total_subscribers: [...ctx.lists.values()].reduce((n, a) => n + [...a.members.values()].filter((m) => m.status === 'subscribed').length, 0),
        industry_stats: { open_rate: 0, bounce_rate: 0, click_rate: 0 },
        _links: [],
      },
      fieldsOf(req.query),
    ),
  );

  app.get('/3.0/lists', async (req: Req) => {
    const q = req.query;
    const c = count(q, 'count', 10, 1000);
    const offset = count(q, 'offset', 0, Number.MAX_SAFE_INTEGER);
    const email = q.email?.trim().toLowerCase();
    const all = [...ctx.lists.values()].filter((a) => !email || [...a.members.values()].some((m) => m.email === email));
    return project(
      {
        lists: all.slice(offset, offset + c).map(renderList),
        total_items: all.length,
        constraints: { may_create: all.length < MAX_LISTS, max_instances: MAX_LISTS, current_total_instances: ctx.lists.size },
        _links: [],
      },
      fieldsOf(q),
    );
  });

  app.post('/3.0/lists', async (req: Req) => {
    const body = req.body ?? {};
    const problems: { field: string; message: string }[] = [];
    for (const f of REQUIRED) if (body[f] === undefined || body[f] === '') problems.push({ field: f, message: 'This value should not be blank.' });
    const contact = (body.contact ?? {}) as Record<string, unknown>;
    const defaults = (body.campaign_defaults ?? {}) as Record<string, unknown>;
    if (body.contact !== undefined)
      for (const f of REQUIRED_CONTACT)
        if (typeof contact[f] !== 'string' || contact[f] === '') problems.push({ field: `contact.${f}`, message: 'This value should not be blank.' });
    if (body.campaign_defaults !== undefined) {
      for (const f of REQUIRED_DEFAULTS)
        if (typeof defaults[f] !== 'string' || defaults[f] === '')
          problems.push({ field: `campaign_defaults.${f}`, message: 'This value should not be blank.' });
      // The default subject may be blank, but must be given.
      if (typeof defaults.subject !== 'string') problems.push({ field: 'campaign_defaults.subject', message: 'This value should be a string.' });
    }
    if (problems.length > 0) throw invalid('The resource submitted could not be validated.', problems);
    if (ctx.lists.size >= MAX_LISTS) throw invalid(`This account may have at most ${MAX_LISTS} audiences.`);
    const id = randomBytes(5).toString('hex');
    const { name, ...settings } = body;
    const a = ctx.addList(id, String(name));
    a.settings = { ...settings, date_created: mcTime(ctx.now()) };
    return renderList(a);
  });
}
