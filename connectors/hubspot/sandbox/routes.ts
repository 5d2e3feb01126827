/** The `/crm/v3/...` routes the sandbox serves, answering in HubSpot's shapes. */
import type { FastifyInstance } from 'fastify';
import type { PortalState, StoredContact, StoredList, ChangeOrigin } from './state';
import { DEFAULT_OUTPUT } from './state';
import type { SandboxHttpError } from './errors';
import { errorBody, notFound, standardError, validation } from './errors';
import type { StandardError } from './errors';
import type { PropertyDef, ValueProblem } from './properties';
import type { SearchBody } from './search';
import { runSearch } from './search';

export const MAX_BATCH = 100;
const SCAN_LIMIT = 100;

type Body = Record<string, unknown>;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A contact as HubSpot answers it (`SimplePublicObject`); absent values are left out. */
export function presentContact(state: PortalState, c: StoredContact, names: Iterable<string>): Record<string, unknown> {
  const properties: Record<string, string> = {};
  for (const n of new Set(names)) {
    const v = state.value(c, n);
    if (v !== undefined) properties[n] = v;
  }
  return { id: c.id, properties, createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt), archived: false };
}

/**
 * `propertiesWithHistory` as HubSpot answers it (newest first). The sandbox keeps only each property's
 * current value and when it was set, so a history has that one entry (none for a never-set property).
 */
function propertyHistory(state: PortalState, c: StoredContact, names: string[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const n of new Set(names)) {
    const v = state.value(c, n);
    const at = c.changedAt.get(n);
    out[n] = v !== undefined && at !== undefined ? [{ value: v, timestamp: iso(at), sourceType: 'CRM_UI' }] : [];
  }
  return out;
}

function presentProperty(p: PropertyDef): Record<string, unknown> {
  return {
    name: p.name,
    label: p.label,
    type: p.type,
    fieldType: p.fieldType,
    description: p.description,
    groupName: p.groupName,
    options: p.options,
    displayOrder: p.displayOrder,
    hasUniqueValue: p.hasUniqueValue,
    hidden: p.hidden,
    formField: p.formField,
    calculated: p.calculated,
    externalOptions: p.externalOptions,
    hubspotDefined: p.hubspotDefined,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    archived: p.archived,
    modificationMetadata: { archivable: !p.hubspotDefined, readOnlyDefinition: p.hubspotDefined, readOnlyValue: p.readOnlyValue },
  };
}

/** HubSpot's 400 for values that do not fit their properties, naming each. */
export function invalidValues(problems: ValueProblem[]): SandboxHttpError {
  return validation(`Property values were not valid: ${JSON.stringify(problems)}`, {
    errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
  });
}

function batchInputs(body: unknown): Body[] {
  const inputs = (body as Body | undefined)?.inputs;
  if (!Array.isArray(inputs)) throw validation('Invalid input JSON: "inputs" must be an array', { errors: [{ message: 'inputs is required', in: 'inputs' }] });
  if (inputs.length > MAX_BATCH)
    throw validation(`Batch input size ${inputs.length} exceeds the limit of ${MAX_BATCH}`, { context: { limit: [String(MAX_BATCH)] } });
  return inputs as Body[];
}

function batchAnswer(results: unknown[], errors: StandardError[], started: number, now: number): { status: number; body: Body } {
  const body: Body = { status: 'COMPLETE', results, startedAt: iso(started), completedAt: iso(now) };
  if (errors.length === 0) return { status: 200, body };
  return { status: 207, body: { ...body, errors, numErrors: errors.length } };
}

/** The `properties` query parameter (repeated or comma-joined). */
export function propertiesParam(raw: unknown): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.flatMap((s) => String(s).split(',')).filter((s) => s !== '');
}

function requireContactsType(objectType: string): void {
  if (objectType !== 'contacts' && objectType !== '0-1') throw notFound(`Unable to infer object type from: ${objectType}`);
}

/** A list as HubSpot answers it (`PublicObjectList`). */
export function presentList(l: StoredList): Body {
  return {
    listId: l.listId,
    listVersion: l.listVersion,
    name: l.name,
    objectTypeId: '0-1',
    processingStatus: 'COMPLETE',
    processingType: l.processingType,
    createdAt: iso(l.createdAt),
    updatedAt: iso(l.updatedAt),
    size: l.members.size,
  };
}

/** Registers every route; `origin` says whose writes API calls are (the token's app). */
export function registerRoutes(app: FastifyInstance, state: PortalState, now: () => number, origin: ChangeOrigin): void {
  app.post('/crm/v3/objects/contacts/batch/upsert', async (req, reply) => {
    const started = now();
    const inputs = batchInputs(req.body);
    const problems: ValueProblem[] = [];
    const seen = new Set<string>();
    const checked = inputs.map((input, i) => {
      const idProperty = input.idProperty ?? 'email';
      if (idProperty !== 'email')
        throw validation(`idProperty ${String(idProperty)} is not a unique property`, {
          errors: [{ message: 'unique property required', in: `inputs[${i}].idProperty` }],
        });
      const email = String(input.id ?? '')
        .trim()
        .toLowerCase();
      if (seen.has(email)) throw validation(`Duplicate IDs found in batch input: [${email}]. IDs must be unique`, { context: { ids: [email] } });
      seen.add(email);
      const { values, problems: p } = state.check((input.properties ?? {}) as Body);
      const emailCheck = state.properties.normalise('email', email);
      if ('problem' in emailCheck) p.push(emailCheck.problem);
      problems.push(...p);
      return { email, values, trace: input.objectWriteTraceId as string | undefined };
    });
    if (problems.length > 0) throw invalidValues(problems);
    const results: unknown[] = [];
    const errors: StandardError[] = [];
    for (const { email, values, trace } of checked) {
      if (state.isBlocklisted(email) && !state.contactByEmail(email)) {
        errors.push(standardError(400, 'VALIDATION_ERROR', `${email} was permanently deleted (GDPR) and cannot be recreated`, { ids: [email] }));
        continue;
      }
      const existing = state.contactByEmail(email);
      values.delete('email');
      const c = existing ? state.update(existing, values, origin) : state.create(new Map([['email', email], ...values]), origin);
      results.push({
        ...presentContact(state, c, ['email', ...values.keys(), ...DEFAULT_OUTPUT]),
        new: !existing,
        ...(trace !== undefined ? { objectWriteTraceId: trace } : {}),
      });
    }
    const answer = batchAnswer(results, errors, started, now());
    return reply.code(answer.status).send(answer.body);
  });

  app.post('/crm/v3/objects/contacts/batch/update', async (req, reply) => {
    const started = now();
    const inputs = batchInputs(req.body);
    const problems: ValueProblem[] = [];
    const seen = new Set<string>();
    const checked = inputs.map((input) => {
      const id = String(input.id ?? '');
      if (seen.has(id)) throw validation(`Duplicate IDs found in batch input: [${id}]. IDs must be unique`, { context: { ids: [id] } });
      seen.add(id);
      const { values, problems: p } = state.check((input.properties ?? {}) as Body);
      problems.push(...p);
      return { id, idProperty: input.idProperty as string | undefined, values, trace: input.objectWriteTraceId as string | undefined };
    });
    if (problems.length > 0) throw invalidValues(problems);
    const results: unknown[] = [];
    const missing: string[] = [];
    for (const { id, idProperty, values, trace } of checked) {
      const c = idProperty === 'email' ? state.contactByEmail(id) : state.contact(id);
      if (!c) {
        missing.push(id);
        continue;
      }
      state.update(c, values, origin);
      results.push({ ...presentContact(state, c, [...values.keys(), ...DEFAULT_OUTPUT]), ...(trace !== undefined ? { objectWriteTraceId: trace } : {}) });
    }
    const errors =
      missing.length > 0
        ? [
            standardError(404, 'OBJECT_NOT_FOUND', 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.', {
              ids: missing,
            }),
          ]
        : [];
    const answer = batchAnswer(results, errors, started, now());
    return reply.code(answer.status).send(answer.body);
  });

  app.post('/crm/v3/objects/contacts/batch/create', async (req, reply) => {
    const started = now();
    const inputs = batchInputs(req.body);
    const problems: ValueProblem[] = [];
    const checked = inputs.map((input) => {
      const { values, problems: p } = state.check((input.properties ?? {}) as Body);
      problems.push(...p);
      return values;
    });
    if (problems.length > 0) throw invalidValues(problems);
    const results = checked.map((values) => presentContact(state, state.create(values, origin), [...values.keys(), ...DEFAULT_OUTPUT]));
    return reply.code(201).send({ status: 'COMPLETE', results, startedAt: iso(started), completedAt: iso(now()) });
  });

  app.post('/crm/v3/objects/contacts/batch/read', async (req, reply) => {
    const started = now();
    const inputs = batchInputs(req.body);
    const body = req.body as Body;
    const idProperty = body.idProperty as string | undefined;
    const names = Array.isArray(body.properties) && body.properties.length > 0 ? (body.properties as string[]) : DEFAULT_OUTPUT;
    const withHistory = Array.isArray(body.propertiesWithHistory) ? (body.propertiesWithHistory as string[]) : [];
    const results: unknown[] = [];
    const missing: string[] = [];
    for (const input of inputs) {
      const id = String(input.id ?? '');
      const c = idProperty === 'email' ? state.contactByEmail(id) : state.contact(id);
      if (c)
        results.push(
          withHistory.length > 0
            ? { ...presentContact(state, c, names), propertiesWithHistory: propertyHistory(state, c, withHistory) }
            : presentContact(state, c, names),
        );
      else missing.push(id);
    }
    const errors =
      missing.length > 0
        ? [
            standardError(404, 'OBJECT_NOT_FOUND', 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.', {
              ids: missing,
            }),
          ]
        : [];
    const answer = batchAnswer(results, errors, started, now());
    return reply.code(answer.status).send(answer.body);
  });

  app.post('/crm/v3/objects/contacts/batch/archive', async (req, reply) => {
    for (const input of batchInputs(req.body)) state.archive(String(input.id ?? ''), origin);
    return reply.code(204).send();
  });

  app.post('/crm/v3/objects/contacts/search', async (req) => {
    const body = (req.body ?? {}) as SearchBody;
    const { page, total, after } = runSearch(state, body);
    const names = body.properties && body.properties.length > 0 ? body.properties : DEFAULT_OUTPUT;
    return {
      total,
      results: page.map((c) => presentContact(state, c, names)),
      ...(after !== undefined ? { paging: { next: { after, link: `?after=${after}` } } } : {}),
    };
  });

  app.get('/crm/v3/objects/contacts', async (req) => {
    const q = req.query as Record<string, unknown>;
    const limit = q.limit === undefined ? 10 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > SCAN_LIMIT) throw validation(`limit must be between 1 and ${SCAN_LIMIT}`);
    const names = propertiesParam(q.properties) ?? DEFAULT_OUTPUT;
    const after = q.after === undefined ? 0 : Number(q.after);
    // `archived=true` lists only archived records, as HubSpot does (with `archivedAt`).
    const archived = String(q.archived) === 'true';
    const all = (archived ? state.archivedContacts() : state.allContacts()).filter((c) => Number(c.id) >= after);
    const page = all.slice(0, limit);
    const next = all[limit];
    const present = (c: StoredContact): Record<string, unknown> =>
      archived ? { ...presentContact(state, c, names), archived: true, archivedAt: iso(c.updatedAt) } : presentContact(state, c, names);
    return { results: page.map(present), ...(next ? { paging: { next: { after: next.id, link: `?after=${next.id}` } } } : {}) };
  });

  app.post('/crm/v3/objects/contacts/gdpr-delete', async (req, reply) => {
    const body = (req.body ?? {}) as Body;
    if (typeof body.objectId !== 'string' || body.objectId === '')
      throw validation('objectId is required', { errors: [{ message: 'objectId is required', in: 'objectId' }] });
    state.purge(body.objectId, body.idProperty as string | undefined, origin);
    return reply.code(204).send();
  });

  app.get('/crm/v3/properties/:objectType', async (req) => {
    requireContactsType((req.params as Body).objectType as string);
    return { results: state.properties.list().map(presentProperty) };
  });

  app.post('/crm/v3/properties/:objectType', async (req, reply) => {
    requireContactsType((req.params as Body).objectType as string);
    return reply.code(201).send(presentProperty(state.properties.create((req.body ?? {}) as Body)));
  });

  app.get('/crm/v3/properties/:objectType/groups', async (req) => {
    requireContactsType((req.params as Body).objectType as string);
    return { results: state.properties.groupList() };
  });

  app.post('/crm/v3/properties/:objectType/groups', async (req, reply) => {
    requireContactsType((req.params as Body).objectType as string);
    const body = (req.body ?? {}) as Body;
    if (typeof body.name !== 'string' || typeof body.label !== 'string') throw validation('name and label are required');
    return reply.code(201).send(
      state.properties.createGroup({
        name: body.name,
        label: body.label,
        ...(typeof body.displayOrder === 'number' ? { displayOrder: body.displayOrder } : {}),
      }),
    );
  });

  app.get('/crm/v3/properties/:objectType/:propertyName', async (req) => {
    const params = req.params as Record<string, string>;
    requireContactsType(params.objectType!);
    return presentProperty(state.properties.require(params.propertyName!));
  });

  app.patch('/crm/v3/properties/:objectType/:propertyName', async (req) => {
    const params = req.params as Record<string, string>;
    requireContactsType(params.objectType!);
    return presentProperty(state.properties.update(params.propertyName!, (req.body ?? {}) as Body));
  });

  app.post('/crm/v3/lists', async (req) => {
    const body = (req.body ?? {}) as Body;
    if (typeof body.name !== 'string' || body.name === '') throw validation('name is required');
    if (body.objectTypeId !== '0-1') throw validation('the sandbox holds contact lists only (objectTypeId 0-1)');
    if (body.processingType !== 'MANUAL' && body.processingType !== 'SNAPSHOT' && body.processingType !== 'DYNAMIC')
      throw validation('processingType must be MANUAL, SNAPSHOT or DYNAMIC');
    return { list: presentList(state.createList(body.name, body.processingType)) };
  });

  app.get('/crm/v3/lists/object-type-id/:objectTypeId/name/:listName', async (req) => {
    const params = req.params as Record<string, string>;
    const l = params.objectTypeId === '0-1' ? state.listByName(params.listName!) : undefined;
    if (!l) throw notFound(`List does not exist with name ${params.listName} and object type ${params.objectTypeId}`);
    return { list: presentList(l) };
  });

  const changeMembers = (listId: string, add: unknown, remove: unknown): Body => {
    const l = state.list(listId);
    if (!l) throw notFound(`List ${listId} does not exist`);
    if (l.processingType === 'DYNAMIC') throw validation(`List ${listId} is DYNAMIC; memberships can only be changed on MANUAL or SNAPSHOT lists`);
    if (!Array.isArray(add) || !Array.isArray(remove)) throw validation('record ids must be arrays of strings');
    const added: string[] = [];
    const removed: string[] = [];
    const missing: string[] = [];
    for (const id of add.map(String)) {
      if (!state.contact(id)) missing.push(id);
      else if (!l.members.has(id)) {
        l.members.add(id);
        l.joinedAt?.set(id, now());
        added.push(id);
      }
    }
    for (const id of remove.map(String)) {
      if (!state.contact(id)) missing.push(id);
      else if (l.members.delete(id)) removed.push(id);
    }
    if (added.length + removed.length > 0) l.updatedAt = now();
    return { recordsIdsAdded: added, recordIdsRemoved: removed, recordIdsMissing: missing };
  };

  app.put('/crm/v3/lists/:listId/memberships/add-and-remove', async (req) => {
    const body = (req.body ?? {}) as Body;
    return changeMembers((req.params as Record<string, string>).listId!, body.recordIdsToAdd, body.recordIdsToRemove);
  });
  app.put('/crm/v3/lists/:listId/memberships/add', async (req) => changeMembers((req.params as Record<string, string>).listId!, req.body, []));
  app.put('/crm/v3/lists/:listId/memberships/remove', async (req) => changeMembers((req.params as Record<string, string>).listId!, [], req.body));

  app.get('/communication-preferences/v3/definitions', async () => ({
    subscriptionDefinitions: state.subscriptionTypes.map((t) => ({
      ...t,
      isActive: true,
      isDefault: true,
      isInternal: false,
      createdAt: iso(0),
      updatedAt: iso(0),
      purpose: 'Marketing',
      communicationMethod: 'Email',
    })),
  }));

  const statusOf = (email: string, id: string): Body => {
    const t = state.subscriptionTypes.find((x) => x.id === id)!;
    return {
      id,
      name: t.name,
      description: t.description,
      status: state.subscriptionStatus(email).get(id) ?? 'NOT_SUBSCRIBED',
      sourceOfStatus: 'SUBSCRIPTION_STATUS',
    };
  };

  app.get('/communication-preferences/v3/status/email/:emailAddress', async (req) => {
    const email = (req.params as Record<string, string>).emailAddress!;
    return { recipient: email, subscriptionStatuses: state.subscriptionTypes.map((t) => statusOf(email, t.id)) };
  });

  app.post('/communication-preferences/v3/unsubscribe', async (req) => {
    const body = (req.body ?? {}) as Body;
    if (typeof body.emailAddress !== 'string' || typeof body.subscriptionId !== 'string') throw validation('emailAddress and subscriptionId are required');
    state.setSubscription(body.emailAddress, body.subscriptionId, 'NOT_SUBSCRIBED', origin);
    return statusOf(body.emailAddress, body.subscriptionId);
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody('OBJECT_NOT_FOUND', `The sandbox does not serve ${req.method} ${req.url.split('?')[0]}`));
  });
}
