/**
 * Routes the connector never calls but a user driving `@hubspot/api-client` against the sandbox does:
 * one contact at a time (read, create, update, archive, merge), lists read back with their memberships,
 * and subscribing to an email subscription type.
 */
import type { FastifyInstance } from 'fastify';
import { notFound, validation } from './errors';
import { DEFAULT_OUTPUT } from './state';
import type { ChangeOrigin, PortalState, StoredContact } from './state';
import { invalidValues, presentContact, presentList, propertiesParam } from './routes';

type Body = Record<string, unknown>;
type Params = Record<string, string>;

/** Records a page of list memberships may hold (HubSpot: 100 by default, 250 at most). */
const MEMBERSHIP_PAGE_MAX = 250;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Registers the routes on the sandbox's app; `origin` says whose writes API calls are. */
export function registerSdkRoutes(app: FastifyInstance, state: PortalState, now: () => number, origin: ChangeOrigin): void {
  const findContact = (id: string, idProperty: unknown): StoredContact => {
    if (idProperty !== undefined && idProperty !== 'email' && idProperty !== 'hs_object_id')
      throw validation(`idProperty ${String(idProperty)} is not a unique property`);
    const c = idProperty === 'email' ? state.contactByEmail(id) : state.contact(id);
    if (!c) throw notFound(`Object not found.  objectId are usually numeric.`, { context: { id: [id] } });
    return c;
  };
  const checked = (body: unknown): Map<string, string> => {
    const properties = (body as Body | undefined)?.properties;
    if (properties === undefined || properties === null || typeof properties !== 'object' || Array.isArray(properties))
      throw validation('Invalid input JSON: "properties" must be an object');
    const { values, problems } = state.check(properties as Body);
    if (problems.length > 0) throw invalidValues(problems);
    return values;
  };

  app.get('/crm/v3/objects/contacts/:contactId', async (req) => {
    const q = req.query as Body;
    const c = findContact((req.params as Params).contactId!, q.idProperty);
    return presentContact(state, c, propertiesParam(q.properties) ?? DEFAULT_OUTPUT);
  });

  app.post('/crm/v3/objects/contacts', async (req, reply) => {
    const values = checked(req.body);
    if (values.has('email')) {
      const email = state.properties.normalise('email', values.get('email'));
      if ('problem' in email) throw invalidValues([email.problem]);
      values.set('email', email.value.trim().toLowerCase());
    }
    return reply.code(201).send(presentContact(state, state.create(values, origin), [...values.keys(), ...DEFAULT_OUTPUT]));
  });

  app.patch('/crm/v3/objects/contacts/:contactId', async (req) => {
    const c = findContact((req.params as Params).contactId!, (req.query as Body).idProperty);
    const values = checked(req.body);
    if (values.has('email')) values.set('email', values.get('email')!.trim().toLowerCase());
    state.update(c, values, origin);
    return presentContact(state, c, [...values.keys(), ...DEFAULT_OUTPUT]);
  });

  app.delete('/crm/v3/objects/contacts/:contactId', async (req, reply) => {
    // HubSpot answers 204 for a record that is already gone, too.
    state.archive((req.params as Params).contactId!, origin);
    return reply.code(204).send();
  });

  app.post('/crm/v3/objects/contacts/merge', async (req) => {
    const body = (req.body ?? {}) as Body;
    const primary = body.primaryObjectId;
    const merged = body.objectIdToMerge;
    if (typeof primary !== 'string' || typeof merged !== 'string') throw validation('primaryObjectId and objectIdToMerge are required');
    if (primary === merged) throw validation('A record cannot be merged into itself');
    return presentContact(state, state.merge(primary, merged, origin), DEFAULT_OUTPUT);
  });

  const allLists = async (req: { query: unknown }): Promise<Body> => {
    const ids = propertiesParam((req.query as Body).listIds);
    const lists = state.allLists().filter((l) => !ids || ids.includes(l.listId));
    return { lists: lists.map(presentList) };
  };
  // The SDK asks with a trailing slash (`/crm/v3/lists/?listIds=…`).
  app.get('/crm/v3/lists', allLists);
  app.get('/crm/v3/lists/', allLists);

  app.get('/crm/v3/lists/:listId', async (req) => {
    const listId = (req.params as Params).listId!;
    const l = state.list(listId);
    if (!l) throw notFound(`List ${listId} does not exist`);
    return { list: presentList(l) };
  });

  app.get('/crm/v3/lists/:listId/memberships', async (req) => {
    const listId = (req.params as Params).listId!;
    const l = state.list(listId);
    if (!l) throw notFound(`List ${listId} does not exist`);
    const q = req.query as Body;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MEMBERSHIP_PAGE_MAX) throw validation(`limit must be between 1 and ${MEMBERSHIP_PAGE_MAX}`);
    const offset = q.after === undefined ? 0 : Number(q.after);
    if (!Number.isInteger(offset) || offset < 0) throw validation(`after must be a paging cursor, got ${String(q.after)}`);
    const ids = [...l.members].sort((a, b) => Number(a) - Number(b));
    const page = ids.slice(offset, offset + limit);
    const next = offset + page.length;
    return {
      results: page.map((recordId) => ({ recordId, membershipTimestamp: iso(l.joinedAt?.get(recordId) ?? l.createdAt) })),
      total: ids.length,
      ...(next < ids.length ? { paging: { next: { after: String(next), link: `?after=${next}` } } } : {}),
    };
  });

  app.get('/crm/v3/lists/records/:objectTypeId/:recordId/memberships', async (req) => {
    const { objectTypeId, recordId } = req.params as Params;
    if (objectTypeId !== '0-1') throw validation('the sandbox holds contact lists only (objectTypeId 0-1)');
    if (!state.contact(recordId!)) throw notFound(`Object not found.  objectId are usually numeric.`, { context: { id: [recordId!] } });
    const lists = state.allLists().filter((l) => l.members.has(recordId!));
    return {
      results: lists.map((l) => {
        const at = iso(l.joinedAt?.get(recordId!) ?? l.createdAt);
        return { listId: l.listId, listVersion: l.listVersion, firstAddedTimestamp: at, lastAddedTimestamp: at, isPublicList: false };
      }),
      total: lists.length,
    };
  });

  app.post('/communication-preferences/v3/subscribe', async (req) => {
    const body = (req.body ?? {}) as Body;
    if (typeof body.emailAddress !== 'string' || typeof body.subscriptionId !== 'string') throw validation('emailAddress and subscriptionId are required');
    const statuses = state.subscriptionStatus(body.emailAddress);
    // As on HubSpot: someone who opted out of all email can only opt back in themselves, never through the API.
    if (state.subscriptionTypes.every((t) => statuses.get(t.id) === 'NOT_SUBSCRIBED')) {
      throw validation(`${body.emailAddress} has opted out of all email and cannot be resubscribed through the API`, {
        errors: [{ message: 'opted out of all email', code: 'INVALID_EMAIL_OPTOUT' }],
      });
    }
    state.setSubscription(body.emailAddress, body.subscriptionId, 'SUBSCRIBED', origin);
    const t = state.subscriptionTypes.find((x) => x.id === body.subscriptionId)!;
    return {
      id: t.id,
      name: t.name,
      description: t.description,
      status: 'SUBSCRIBED',
      sourceOfStatus: 'SUBSCRIPTION_STATUS',
      ...(typeof body.legalBasis === 'string' ? { legalBasis: body.legalBasis } : {}),
      ...(typeof body.legalBasisExplanation === 'string' ? { legalBasisExplanation: body.legalBasisExplanation } : {}),
    };
  });
}
