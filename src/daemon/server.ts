/**
 * The daemon's HTTP surface (fastify): vendor webhooks over raw bytes, the Segment-compatible track
 * API, health and metrics. The work behind each route is the services'; this file owns parsing,
 * authentication, limits, status codes, logging and metrics. Track and identify calls are group-
 * committed (see group-commit.ts), so an answer says what was accepted and stored, not which records
 * were duplicates (the metrics count those).
 */
import type { FieldShape } from '../config/field-values';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RawRequest } from '../../connectors/connector';
import { SegsyncError, StoreFullError, ValidationError, WebhookError, describeError } from '../errors';
import type { Logger } from '../log/logger';
import type { Clock } from '../model/clock';
import { ESP_NAMES } from '../model/types';
import type { EspName } from '../model/types';
import type { IdentifyItem, TrackItem } from '../ingest/identity-graph';
import { accessOf, presentedToken } from './auth';
import type { Access, ApiKeys } from './auth';
import { GroupCommit } from './group-commit';
import type { GroupAnswer } from './group-commit';
import type { DaemonMetrics } from './metrics';
import { scrubEmails } from './scrub';
import { decodedBody } from './body-encoding';
import { DiskFullNotice, FULL_RETRY_AFTER_S } from './disk-full-notice';
import { WebhookRejections } from './webhook-rejections';
import { corsHeaders, normaliseOrigins, originVerdict } from './cors';
import { kindOf, parseBatch, parseSingle } from './segment-payload';
import type { CallKind, ItemRejection, ParsedCall, SegmentType } from './segment-payload';
import type { DaemonServices, IntakeResult, ReadyReport } from './services';

/** Segment's own limit for a batch request is 500 KB; a little headroom for our envelope. */
export const DEFAULT_BODY_LIMIT = 512 * 1024;
export const DEFAULT_MAX_BATCH_ITEMS = 500;

export interface ServerOptions {
  services: DaemonServices;
  metrics: DaemonMetrics;
  logger: Logger;
  clock: Clock;
  /** Keys for /v1/*; none only when the caller allowed an unauthenticated loopback API. */
  keys: ApiKeys;
  /** Public base URL the ESPs call (signatures cover it); else the URL is rebuilt from the Host header. */
  publicUrl?: string;
  bodyLimitBytes?: number;
  maxBatchItems?: number;
  /** Browser origins allowed to call /v1/* (CORS), e.g. https://shop.example.com; `*` for any. */
  corsOrigins?: readonly string[];
  /** Called after a request stored something, so the outbox worker wakes at once. */
  onWork?: () => void;
  /** segsync.yaml's declared fields: an identify trait that does not fit its field's type is left out. */
  fields?: Readonly<Record<string, FieldShape>>;
}

/** Builds the server (not yet listening). */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { services, metrics, logger, clock } = options;
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const maxBatchItems = options.maxBatchItems ?? DEFAULT_MAX_BATCH_ITEMS;
  const onWork = options.onWork ?? (() => undefined);
  const app = Fastify({ logger: false, bodyLimit, return503OnClosing: true });
  let closing = false;
  const warnedFields = new Set<string>();
  const diskFull = new DiskFullNotice(logger, clock);
  const rejections = new WebhookRejections(logger, clock);
  const afterIntake = (kind: CallKind) => (result: IntakeResult) => {
    diskFull.stored();
    metrics.intake(kind, result);
    if (result.inserted || result.flips) onWork();
  };
  const trackGroup = new GroupCommit<TrackItem>(
    (items) => services.track(items),
    afterIntake('track'),
    (err) => logIntakeFailure('track', err),
  );
  const identifyGroup = new GroupCommit<IdentifyItem>(
    (items) => services.identify(items),
    afterIntake('identify'),
    (err) => logIntakeFailure('identify', err),
  );
  const logIntakeFailure = (kind: CallKind, err: unknown): void => {
    // Alone, each caller fails the same way: the error handler logs that once.
    if (err instanceof StoreFullError) return;
    logger.warn({ kind, err: errorSummary(err as Error) }, 'a group commit failed: its callers are retried one by one');
  };

  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // While shutting down, tell keep-alive clients to reconnect elsewhere rather than reuse this socket.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    // The path only: a query string can carry a webhook secret.
    logger.debug({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    done();
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof ValidationError) return reply.code(400).send({ error: 'validation', message: err.message, hint: err.hint });
    if (err instanceof StoreFullError) {
      diskFull.refused(err);
      // 503 and Retry-After: tracking clients and the ESPs' webhook senders keep the call and send it again.
      return reply.code(503).header('retry-after', String(FULL_RETRY_AFTER_S)).send({
        error: 'unavailable',
        message: 'segsync cannot store anything right now (its disk is full): nothing of this call was stored',
        hint: 'send it again later',
      });
    }
    const status = err.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: clientErrorName(status), message: clientErrorMessage(err, bodyLimit) });
    }
    logger.error({ err: errorSummary(err), method: request.method, route: request.routeOptions.url }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'segsync could not handle the request; it is logged, try again later' });
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    let report: ReadyReport;
    try {
      report = await services.ready();
    } catch (err) {
      report = { ok: false, checks: { services: { ok: false, detail: scrubEmails(describeError(err)) } } };
    }
    return reply.code(report.ok ? 200 : 503).send(report);
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  void app.register(async (hooks) => {
    // Signatures are over the exact bytes sent, so webhook bodies stay Buffers whatever their type
    // (JSON for HubSpot and Klaviyo, form-encoded for Mailchimp).
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    for (const esp of ESP_NAMES) hooks.post(`/webhooks/${esp}`, (request, reply) => webhook(esp, request, reply));
    // Mailchimp checks a webhook URL with a GET before it saves it.
    hooks.get('/webhooks/mailchimp', (request, reply) => webhook('mailchimp', request, reply));
  });

  const origins = normaliseOrigins(options.corsOrigins ?? []);
  void app.register(async (api) => {
    // Segment's browser library posts JSON as text/plain (sendBeacon); read it as JSON too.
    api.addContentTypeParser('text/plain', { parseAs: 'string' }, api.getDefaultJsonParser('error', 'error'));
    // Segment's API reads every body as JSON whatever its declared type, and clients rely on it:
    // RudderStack's Node SDK posts its gzip batches as form-urlencoded (axios's default for a Buffer).
    api.addContentTypeParser('*', { parseAs: 'string' }, api.getDefaultJsonParser('error', 'error'));
    api.decorateRequest('access', 'write');
    api.addHook('onRequest', async (request, reply) => {
      const origin = request.headers.origin;
      if (origin !== undefined) {
        const verdict = originVerdict(origin, origins);
        if (!verdict.allowed) {
          await reply.code(403).send({
            error: 'forbidden_origin',
            message: `browsers at ${origin.slice(0, 200)} may not call the track API`,
            hint: 'add the site to daemon.cors.origins in segsync.yaml (e.g. https://shop.example.com)',
          });
          return;
        }
        reply.headers(corsHeaders(origin, request.method === 'OPTIONS'));
        // A preflight carries no key: it only asks which methods and headers are allowed.
        if (request.method === 'OPTIONS') {
          await reply.code(204).send();
          return;
        }
      }
      const access = accessOf(presentedToken(request.headers.authorization), options.keys);
      if (access === undefined) {
        await reply.code(401).header('www-authenticate', 'Bearer realm="segsync"').send({
          error: 'unauthorized',
          message: 'missing or wrong key',
          hint: 'send Authorization: Bearer <daemon.writeKey> (events) or <daemon.serverKey> (everything), or Basic with the key as the user (Segment clients)',
        });
        return;
      }
      if (origin !== undefined && access === 'server' && options.keys.serverKey !== undefined) {
        await reply.code(403).send(SERVER_KEY_FROM_BROWSER);
        return;
      }
      (request as AccessRequest).access = access;
    });
    api.addHook('preParsing', async (request, _reply, payload) => decodedBody(request.headers['content-encoding'], payload));
    api.options('/v1/*', (_request, reply) => reply.code(204).send());
    for (const [paths, type] of SINGLE_ROUTES) {
      for (const path of paths) api.post(path, (request, reply) => single(type, request as AccessRequest, reply));
    }
    for (const path of BATCH_ROUTES) {
      api.post(path, (request, reply) => {
        const call = parseBatch(request.body, clock.now(), maxBatchItems, options.fields);
        return intake('batch', (request as AccessRequest).access, reply, call);
      });
    }
  });

  function single(type: SegmentType, request: AccessRequest, reply: FastifyReply): Promise<FastifyReply> {
    return intake(kindOf(type), request.access, reply, parseSingle(type, request.body, clock.now(), options.fields));
  }

  async function webhook(esp: EspName, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if (!services.esps.includes(esp)) {
      return reply.code(404).send({ error: 'not_configured', message: `${esp} is not configured`, hint: `add connectors.${esp} to segsync.yaml` });
    }
    const raw: RawRequest = {
      method: request.method,
      url: publicUrlOf(request, options.publicUrl),
      headers: lowerCaseHeaders(request.headers),
      rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      receivedAt: clock.now(),
    };
    try {
      const outcome = await services.webhook(esp, raw);
      const applied = outcome.changes + outcome.events > 0;
      if (applied) diskFull.stored();
      metrics.webhook(esp, applied ? 'applied' : 'ignored');
      metrics.webhookItemsRefused(esp, outcome.rejected);
      if (applied) onWork();
      reply.code(outcome.status);
      return outcome.body === undefined ? reply.send() : reply.type('text/plain; charset=utf-8').send(outcome.body);
    } catch (err) {
      if (err instanceof WebhookError) {
        metrics.webhook(esp, 'rejected');
        rejections.rejected(esp, err);
        return reply.code(401).send({ error: 'webhook_rejected', message: err.message, hint: err.hint });
      }
      metrics.webhook(esp, 'error');
      throw err;
    }
  }

  async function intake(endpoint: CallKind | 'batch', access: Access, reply: FastifyReply, call: ParsedCall): Promise<FastifyReply> {
    if (access !== 'server') refusePrivileged(call);
    metrics.rejected(endpoint, call.rejected.length);
    const accepted = call.events.length + call.contacts.length;
    if (accepted === 0) {
      const first = call.rejected[0];
      const where = call.total > 1 || call.rejected.length > 1 ? `item ${first?.index ?? 0}: ` : '';
      const forbidden = call.rejected.length > 0 && (call.rejected as Rejection[]).every((r) => r.forbidden);
      return reply.code(forbidden ? 403 : 400).send({
        error: forbidden ? 'forbidden' : 'validation',
        message: `${where}${first?.message ?? 'nothing to store'}`,
        ...(first?.hint ? { hint: first.hint } : {}),
        rejected: call.rejected.map(publicRejection),
      });
    }
    // Identity first, so events of the same batch land on the contact it names and are evaluated
    // against its updated traits.
    const contacts: IdentifyItem[] = call.contacts.map(({ privileged: _privileged, ...c }) => ({ ...c, mayMergeContacts: access === 'server' }));
    const none: GroupAnswer = { conflicts: [], warnings: [] };
    const identified = contacts.length ? await identifyGroup.add(contacts) : none;
    const refusedMerges = identified.conflicts;
    const conflicts = (call.events.length ? await trackGroup.add(call.events) : none).conflicts;
    const rejected = [
      ...call.rejected.map(publicRejection),
      ...refusedMerges.map((i) => ({ index: call.contactIndexes[i]!, field: 'userId', message: MERGE_REFUSAL.message, hint: MERGE_REFUSAL.hint })),
      ...conflicts.map((i) => ({
        index: call.eventIndexes[i]!,
        field: 'messageId',
        message: `the id "${call.events[i]!.event.eventId ?? ''}" is already stored for a different event: this one was not stored`,
        hint: 'give every distinct event its own messageId; resending the same event with the same id is fine',
      })),
    ].sort((a, b) => a.index - b.index);
    metrics.rejected(endpoint, conflicts.length + refusedMerges.length);
    const stored = accepted - conflicts.length - refusedMerges.length;
    const warnings = [...fieldWarnings(call), ...identified.warnings.map(({ index, ...w }) => ({ index: call.contactIndexes[index]!, ...w }))].sort(
      (a, b) => a.index - b.index,
    );
    if (!rejected.length) return reply.code(200).send({ ok: true, accepted: stored, ...(warnings.length ? { warnings } : {}) });
    if (stored === 0 && call.total === 1) {
      const first = rejected[0]!;
      const status = refusedMerges.length ? 403 : 409;
      return reply.code(status).send({ error: status === 403 ? 'forbidden' : 'conflict', message: first.message, hint: first.hint, rejected });
    }
    // 207: part of the batch was stored; the rejected items are named so the sender can fix and resend them.
    return reply.code(207).send({ ok: false, accepted: stored, rejected, ...(warnings.length ? { warnings } : {}) });
  }

  /**
   * The traits of stored identify items that were left out (a value that does not fit its field's
   * type, an unknown consent word), by item: the answer names them, and the log says so once per
   * field, since a tracking client sends the same mistake with every call and reads no answers.
   */
  function fieldWarnings(call: ParsedCall): ItemRejection[] {
    const out: ItemRejection[] = [];
    call.contacts.forEach((c, i) => {
      for (const w of c.contact.warnings ?? []) {
        out.push({ index: call.contactIndexes[i]!, field: w.field, message: w.message, ...(w.hint ? { hint: w.hint } : {}) });
        if (warnedFields.has(w.field)) continue;
        warnedFields.add(w.field);
        logger.warn(
          { field: w.field, hint: w.hint },
          `identify trait "${w.field}": ${scrubEmails(w.message)} (the rest of the call was stored; later calls with this field's values left out are not logged again, their answers name them)`,
        );
      }
    });
    return out;
  }

  return app;
}

/** A request that passed the key check, with what its key allows. */
type AccessRequest = FastifyRequest & { access: Access };

/** The per-type routes: Segment's names, and the one-letter paths analytics.js posts to (`apiHost` + `/t` …). */
const SINGLE_ROUTES: [string[], SegmentType][] = [
  [['/v1/track', '/v1/t'], 'track'],
  [['/v1/identify', '/v1/i'], 'identify'],
  [['/v1/page', '/v1/p'], 'page'],
  [['/v1/screen', '/v1/s'], 'screen'],
  [['/v1/group', '/v1/g'], 'group'],
  [['/v1/alias', '/v1/a'], 'alias'],
];
const BATCH_ROUTES = ['/v1/batch', '/v1/b', '/v1/import'];

/** A refused item; `forbidden` when the key, not the content, is at fault (never shown to the sender as a field). */
type Rejection = ItemRejection & { forbidden?: boolean };

const publicRejection = ({ forbidden: _forbidden, ...r }: Rejection): ItemRejection => r;

/**
 * The write key is public (it ships in browsers): it may send events and identify a visitor (link
 * identifiers, set traits), never set consent or tags. Such identify items are refused one by one;
 * the rest of the call still goes in.
 */
function refusePrivileged(call: ParsedCall): void {
  const keep: number[] = [];
  call.contacts.forEach((c, i) => {
    if (!c.privileged.length) return keep.push(i);
    const field = c.privileged[0]!;
    (call.rejected as Rejection[]).push({
      index: call.contactIndexes[i]!,
      field,
      message: `the write key may not set ${c.privileged.join(' or ')}: only the server key may`,
      hint: 'send consent and tags from your servers with Authorization: Bearer <daemon.serverKey>; browsers may send identifiers and other traits',
      forbidden: true,
    });
    return undefined;
  });
  if (keep.length === call.contacts.length) return;
  call.contacts = keep.map((i) => call.contacts[i]!);
  call.contactIndexes = keep.map((i) => call.contactIndexes[i]!);
  call.rejected.sort((a, b) => a.index - b.index);
}

const MERGE_REFUSAL = {
  message: 'this call names two contacts that both have an email (its userId or anonymousId belongs to another one): merging them needs the server key',
  hint: 'if they are one person, send the identify from your servers with the server key (segsync merges them and records why); else check the ids the client sends',
};

const SERVER_KEY_FROM_BROWSER = {
  error: 'forbidden',
  message: 'the server key is never accepted from a browser (the request has an Origin header)',
  hint: 'browsers use the public daemon.writeKey; keep the server key on your servers',
};

/** The URL the ESP called and signed: the configured public base plus path and query, else from Host. */
export function publicUrlOf(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return `${publicUrl.replace(/\/+$/, '')}${request.url}`;
  return `${request.protocol}://${request.headers.host ?? 'localhost'}${request.url}`;
}

function lowerCaseHeaders(headers: FastifyRequest['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function clientErrorName(status: number): string {
  if (status === 413) return 'too_large';
  if (status === 415) return 'unsupported_media_type';
  return 'bad_request';
}

function clientErrorMessage(err: FastifyError, bodyLimit: number): string {
  if (err.statusCode === 413) return `the body is larger than ${Math.round(bodyLimit / 1024)} KB; send smaller batches`;
  return err.message;
}

/** What an error log line carries: the real class, code and message, never request data. */
export function errorSummary(err: Error): Record<string, unknown> {
  const message = scrubEmails(err.message);
  return err instanceof SegsyncError ? { type: err.name, code: err.code, message } : { type: err.name, message, stack: err.stack && scrubEmails(err.stack) };
}
