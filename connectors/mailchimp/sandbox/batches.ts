/**
 * Mailchimp's batch operations (`POST /3.0/batches`): the operations run in the background, one after
 * another, through the sandbox's own routes (same auth, validation and effects as if called one by
 * one); `GET /3.0/batches[/{id}]` reports progress, and when finished `response_body_url` points at a
 * gzipped tar of the results, as Mailchimp's does. Batches live as long as the process (their effects
 * are kept with the rest of the state).
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { mcTime } from './audience';
import { invalid, notFound } from './problem';
import { project } from './render';

interface Operation {
  method: string;
  path: string;
  params?: Record<string, unknown>;
  body?: string;
  operation_id?: string;
}

interface BatchState {
  id: string;
  status: 'pending' | 'started' | 'finished';
  total: number;
  finished: number;
  errored: number;
  submittedAt: number;
  completedAt?: number;
  /** The results archive, once finished. */
  archive?: Buffer;
}

/** Where finished batches' archives are served (no auth: Mailchimp's are pre-signed storage URLs). */
export const BATCH_RESULTS_PATH = '/sandbox-batch-results/';
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: Record<string, unknown> | undefined }>;

/**
 * One file in a POSIX ustar archive. Hand-written: no declared dependency writes tar (tar-stream is
 * only a transitive one), and the format needs just a 512-byte header and padding.
 */
function tarEntry(name: string, data: Buffer, mtimeMs: number): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void => void header.write(value, offset, length, 'ascii');
  const octal = (n: number, length: number): string => `${n.toString(8).padStart(length - 1, '0')}\0`;
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(data.length, 12));
  field(136, 12, octal(Math.floor(mtimeMs / 1000), 12));
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding]);
}

function operationsOf(body: Record<string, unknown> | undefined): Operation[] {
  const ops = body?.operations;
  if (!Array.isArray(ops))
    throw invalid('The resource submitted could not be validated.', [{ field: 'operations', message: 'This value should not be blank.' }]);
  return ops.map((raw, i) => {
    const op = (raw ?? {}) as Partial<Operation>;
    if (typeof op.method !== 'string' || !METHODS.includes(op.method.toUpperCase()))
      throw invalid('The resource submitted could not be validated.', [{ field: `operations[${i}].method`, message: `Use one of ${METHODS.join(', ')}.` }]);
    if (typeof op.path !== 'string' || !op.path.startsWith('/'))
      throw invalid('The resource submitted could not be validated.', [
        { field: `operations[${i}].path`, message: 'A path such as /lists/{list_id}/members is required.' },
      ]);
    if (op.body !== undefined && typeof op.body !== 'string')
      throw invalid('The resource submitted could not be validated.', [{ field: `operations[${i}].body`, message: 'The body is a JSON string.' }]);
    return {
      method: op.method.toUpperCase(),
      path: op.path,
      ...(op.params ? { params: op.params } : {}),
      ...(op.body !== undefined ? { body: op.body } : {}),
      ...(op.operation_id ? { operation_id: op.operation_id } : {}),
    };
  });
}

/** Registers the batch routes; `baseUrl()` is the sandbox's own URL. Returns a wait for running batches. */
export function registerBatchRoutes(app: FastifyInstance, ctx: { baseUrl: () => string; now: () => number }): { idle(): Promise<void> } {
  const batches = new Map<string, BatchState>();
  const running = new Set<Promise<void>>();

  const render = (b: BatchState): Record<string, unknown> => ({
    id: b.id,
    status: b.status,
    total_operations: b.total,
    finished_operations: b.finished,
    errored_operations: b.errored,
    submitted_at: mcTime(b.submittedAt),
    ...(b.completedAt === undefined ? {} : { completed_at: mcTime(b.completedAt) }),
    response_body_url: b.archive ? `${ctx.baseUrl()}${BATCH_RESULTS_PATH}${b.id}.tar.gz` : '',
    _links: [],
  });

  const run = async (b: BatchState, ops: Operation[], authorization: string): Promise<void> => {
    b.status = 'started';
    const results: { status_code: number; operation_id: string | null; response: string }[] = [];
    for (const op of ops) {
      const query = new URLSearchParams(Object.entries(op.params ?? {}).map(([k, v]): [string, string] => [k, String(v)])).toString();
      const res = await app.inject({
        method: op.method as 'GET',
        url: `/3.0${op.path}${query ? `?${query}` : ''}`,
        headers: { authorization, ...(op.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(op.body !== undefined ? { payload: op.body } : {}),
      });
      results.push({ status_code: res.statusCode, operation_id: op.operation_id ?? null, response: res.body });
      b.finished++;
      if (res.statusCode >= 400) b.errored++;
    }
    b.completedAt = ctx.now();
    b.archive = gzipSync(Buffer.concat([tarEntry(`${b.id}.json`, Buffer.from(JSON.stringify(results)), b.completedAt), Buffer.alloc(1024)]));
    b.status = 'finished';
  };

  app.post('/3.0/batches', async (req: Req) => {
    const ops = operationsOf(req.body);
    const b: BatchState = { id: randomBytes(5).toString('hex'), status: 'pending', total: ops.length, finished: 0, errored: 0, submittedAt: ctx.now() };
    batches.set(b.id, b);
    const answer = render(b);
    const p = new Promise<void>((resolve) => setImmediate(resolve)).then(() => run(b, ops, String(req.headers.authorization))).finally(() => running.delete(p));
    running.add(p);
    return answer;
  });

  app.get('/3.0/batches', async (req: Req) => {
    const all = [...batches.values()];
    const count = Number(req.query.count ?? 10);
    const offset = Number(req.query.offset ?? 0);
    if (!Number.isInteger(count) || count < 0 || count > 1000 || !Number.isInteger(offset) || offset < 0)
      throw invalid('count and offset must be whole numbers (count at most 1000).');
    return project({ batches: all.slice(offset, offset + count).map(render), total_items: all.length, _links: [] }, req.query.fields?.split(','));
  });

  app.get('/3.0/batches/:batchId', async (req: Req) => {
    const b = batches.get(req.params.batchId!);
    if (!b) throw notFound(`batch ${req.params.batchId}`);
    return project(render(b), req.query.fields?.split(','));
  });

  app.delete('/3.0/batches/:batchId', async (req: Req, reply) => {
    if (!batches.delete(req.params.batchId!)) throw notFound(`batch ${req.params.batchId}`);
    return reply.code(204).send();
  });

  app.get(`${BATCH_RESULTS_PATH}:file`, async (req: Req, reply) => {
    const b = batches.get(req.params.file!.replace(/\.tar\.gz$/, ''));
    if (!b?.archive) throw notFound(req.url);
    return reply.type('application/x-gzip').send(b.archive);
  });

  return {
    idle: async () => {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
