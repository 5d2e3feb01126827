/**
 * Checks HTTP exchanges between a connector and its sandbox against a vendor's published OpenAPI
 * files: the operation must exist, query and path parameters and the request body must match their
 * schemas, and the response body must match the schema declared for its status.
 *
 * Written on ajv directly (not openapi-backend) because the vendors' files need three things that
 * tool does not give together: several spec files per vendor searched as one, a server base path
 * (`/3.0` for Mailchimp) stripped before matching, and OpenAPI's comma-joined array parameters.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** One request and its response, as a sandbox saw them. */
export interface HttpExchange {
  method: string;
  /** Path as sent, optionally with the query string. */
  path: string;
  query?: Record<string, string | string[] | undefined>;
  headers?: Record<string, string | string[] | undefined>;
  requestBody?: unknown;
  status: number;
  responseBody?: unknown;
}

export interface SpecValidatorOptions {
  /** Prefix of real paths that the spec's paths leave out; default: the path of the spec's first server URL. */
  basePath?: string;
}

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  schema?: Record<string, unknown>;
}

interface Route {
  spec: LoadedSpec;
  template: string;
  regex: RegExp;
  /** Number of literal segments: more literal = more specific, tried first. */
  literal: number;
  paramNames: string[];
}

interface LoadedSpec {
  id: string;
  file: string;
  doc: { paths: Record<string, Record<string, unknown>>; components?: unknown; servers?: { url: string }[] };
  ajv: Ajv;
  basePath: string;
}

/** Validates exchanges against one vendor's OpenAPI files. */
export class SpecValidator {
  private readonly routes: Route[] = [];
  private readonly compiled = new Map<string, ValidateFunction>();

  private constructor(private readonly specs: LoadedSpec[]) {
    for (const spec of specs) {
      for (const template of Object.keys(spec.doc.paths)) {
        const segments = template.split('/');
        const paramNames: string[] = [];
        const pattern = segments
          .map((s) => {
            const m = /^\{(.+)\}$/.exec(s);
            if (m) {
              paramNames.push(m[1]!);
              return '([^/]+)';
            }
            return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          })
          .join('/');
        this.routes.push({ spec, template, regex: new RegExp(`^${pattern}/?$`), literal: segments.length - paramNames.length, paramNames });
      }
    }
    this.routes.sort((a, b) => b.literal - a.literal || a.paramNames.length - b.paramNames.length);
  }

  /** Loads spec files (JSON). All of them are searched for each exchange. */
  static fromFiles(files: string[], options: SpecValidatorOptions = {}): SpecValidator {
    return SpecValidator.fromDocs(
      files.map((file) => ({ file, doc: JSON.parse(readFileSync(file, 'utf8')) as unknown })),
      options,
    );
  }

  /** Specs already parsed (`file` names each in messages). All of them are searched for each exchange. */
  static fromDocs(entries: { file: string; doc: unknown }[], options: SpecValidatorOptions = {}): SpecValidator {
    const specs = entries.map((entry, i) => {
      const file = entry.file;
      const doc = normaliseNullable(entry.doc) as LoadedSpec['doc'];
      const id = `spec${i}`;
      const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, coerceTypes: false, discriminator: false });
      addFormats(ajv);
      for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password', 'email-or-empty']) {
        if (!ajv.formats[f]) ajv.addFormat(f, true);
      }
      ajv.addSchema({ ...doc, $id: id } as object, id);
      const serverPath = doc.servers?.[0]?.url ? new URL(doc.servers[0].url).pathname.replace(/\/$/, '') : '';
      return { id, file, doc, ajv, basePath: options.basePath ?? serverPath };
    });
    return new SpecValidator(specs);
  }

  /** Problems with the exchange's request and response; empty when both conform. */
  check(x: HttpExchange): string[] {
    const url = new URL(x.path, 'http://sandbox.invalid');
    const method = x.method.toLowerCase();
    const query = new Map<string, string[]>();
    url.searchParams.forEach((v, k) => query.set(k, [...(query.get(k) ?? []), v]));
    for (const [k, v] of Object.entries(x.query ?? {})) {
      if (v !== undefined && !query.has(k)) query.set(k, Array.isArray(v) ? v : [v]);
    }
    const label = `${x.method.toUpperCase()} ${url.pathname}`;

    for (const route of this.routes) {
      const base = route.spec.basePath;
      if (base && !url.pathname.startsWith(base)) continue;
      const m = route.regex.exec(url.pathname.slice(base.length));
      if (!m) continue;
      const op = route.spec.doc.paths[route.template]?.[method] as Record<string, unknown> | undefined;
      if (!op) continue;
      const pathItem = route.spec.doc.paths[route.template] as Record<string, unknown>;
      const params = this.parameters(route.spec, pathItem, op);
      const problems: string[] = [];
      const pathValues = new Map(route.paramNames.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
      for (const p of params) {
        if (p.in === 'path') problems.push(...this.checkValue(route.spec, `path parameter ${p.name}`, p.schema, pathValues.get(p.name)));
        if (p.in === 'query') {
          const given = query.get(p.name);
          if (!given) {
            if (p.required) problems.push(`missing required query parameter ${p.name}`);
            continue;
          }
          problems.push(...this.checkValue(route.spec, `query parameter ${p.name}`, p.schema, given.length > 1 ? given : given[0]));
        }
      }
      problems.push(...this.checkRequestBody(route.spec, op, x.requestBody));
      problems.push(...this.checkResponse(route.spec, op, x.status, x.responseBody));
      return problems.map((p) => `${label}: ${p}`);
    }
    return [`${label}: no such operation in ${this.specs.map((s) => s.file.split('/').pop()).join(', ')}`];
  }

  private parameters(spec: LoadedSpec, pathItem: Record<string, unknown>, op: Record<string, unknown>): Parameter[] {
    const all = [...((pathItem.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])].map((p) => deref(spec, p) as Parameter);
    const byKey = new Map<string, Parameter>();
    for (const p of all) byKey.set(`${p.in}:${p.name}`, p);
    return [...byKey.values()];
  }

  private checkValue(spec: LoadedSpec, what: string, schema: Record<string, unknown> | undefined, raw: string | string[] | undefined): string[] {
    if (!schema || raw === undefined) return [];
    const resolved = deref(spec, schema) as Record<string, unknown>;
    const value = coerceParameter(spec, resolved, raw);
    const validate = this.compile(spec, resolved);
    return validate(value) ? [] : [`${what} ${JSON.stringify(raw)}: ${formatErrors(validate)}`];
  }

  private checkRequestBody(spec: LoadedSpec, op: Record<string, unknown>, body: unknown): string[] {
    const rb = op.requestBody ? (deref(spec, op.requestBody) as { required?: boolean; content?: Record<string, { schema?: unknown }> }) : undefined;
    const empty = body === undefined || body === null || body === '';
    if (!rb) return empty ? [] : ['the spec declares no request body, but one was sent'];
    if (empty) return rb.required ? ['missing required request body'] : [];
    const type = jsonMediaType(rb.content);
    const schema = type ? rb.content?.[type]?.schema : undefined;
    if (!schema) return [];
    const validate = this.compile(spec, schema as Record<string, unknown>);
    return validate(body) ? [] : [`request body: ${formatErrors(validate)}`];
  }

  private checkResponse(spec: LoadedSpec, op: Record<string, unknown>, status: number, body: unknown): string[] {
    const responses = (op.responses ?? {}) as Record<string, unknown>;
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses);
    if (!key) return status < 300 ? [`status ${status} is not a declared response (declared: ${Object.keys(responses).join(', ')})`] : [];
    const response = deref(spec, responses[key]) as { content?: Record<string, { schema?: unknown }> };
    const type = jsonMediaType(response.content);
    const schema = type ? response.content?.[type]?.schema : undefined;
    if (!schema) return [];
    if (body === undefined || body === '' || body === null) return status === 204 ? [] : [`response ${status}: the spec declares a body, none was sent`];
    const validate = this.compile(spec, schema as Record<string, unknown>);
    return validate(body) ? [] : [`response ${status}: ${formatErrors(validate)}`];
  }

  /** Compiles a schema fragment of a spec; its internal `#/…` refs resolve against the spec. */
  private compile(spec: LoadedSpec, schema: Record<string, unknown>): ValidateFunction {
    if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#')) return this.compileRef(spec, schema.$ref);
    const key = `${spec.id}|${JSON.stringify(schema)}`;
    let v = this.compiled.get(key);
    if (!v) {
      v = spec.ajv.compile({ $id: `${spec.id}-frag-${this.compiled.size}`, ...rebaseRefs(schema, spec.id) });
      this.compiled.set(key, v);
    }
    return v;
  }

  private compileRef(spec: LoadedSpec, pointer: string): ValidateFunction {
    const key = `${spec.id}${pointer}`;
    let v = this.compiled.get(key);
    if (!v) {
      v = spec.ajv.compile({ $ref: `${spec.id}${pointer}` });
      this.compiled.set(key, v);
    }
    return v;
  }
}

/**
 * OpenAPI 3.0's `nullable: true` next to `$ref`/`allOf` (no `type`) is legal there but not for ajv:
 * rewrite it as `anyOf: [schema, {type: 'null'}]`, keeping every JSON pointer valid.
 */
function normaliseNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normaliseNullable);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = normaliseNullable(v);
  if (out.nullable === true && out.type === undefined) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

function jsonMediaType(content: Record<string, unknown> | undefined): string | undefined {
  if (!content) return undefined;
  return Object.keys(content).find((t) => /json/i.test(t));
}

/** Follows a local `$ref` (one or more hops) inside the spec. */
function deref(spec: LoadedSpec, node: unknown): unknown {
  let n = node as { $ref?: string } | undefined;
  for (let hops = 0; n && typeof n.$ref === 'string' && n.$ref.startsWith('#/') && hops < 10; hops++) {
    n = n.$ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((acc, key) => (acc as Record<string, unknown> | undefined)?.[key], spec.doc) as { $ref?: string } | undefined;
  }
  return n;
}

/** Rewrites `#/…` refs in a fragment to point into the registered spec document. */
function rebaseRefs(node: unknown, id: string): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(v)) out[k] = k === '$ref' && typeof val === 'string' && val.startsWith('#') ? `${id}${val}` : walk(val);
      return out;
    }
    return v;
  };
  return walk(node) as Record<string, unknown>;
}

/** Parameters arrive as text: turn them into the schema's type (arrays are comma-joined or repeated). */
function coerceParameter(spec: LoadedSpec, schema: Record<string, unknown>, raw: string | string[]): unknown {
  const type = schema.type;
  if (type === 'array') {
    const items = deref(spec, schema.items ?? {}) as Record<string, unknown>;
    const parts = Array.isArray(raw) ? raw : raw.split(',');
    return parts.map((p) => coerceParameter(spec, items, p));
  }
  const text = Array.isArray(raw) ? raw[0]! : raw;
  if (type === 'integer' || type === 'number') return text.trim() !== '' && !Number.isNaN(Number(text)) ? Number(text) : text;
  if (type === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return text;
}

function formatErrors(v: ValidateFunction): string {
  return (v.errors ?? [])
    .slice(0, 5)
    .map(
      (e) =>
        `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty)}"` : ''}${e.params && 'allowedValues' in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`,
    )
    .join('; ');
}

/** The vendors' spec folder: SEGSYNC_SPECS_DIR, or the copy the repository carries in test/fixtures/specs. */
export const SPECS_DIR = process.env.SEGSYNC_SPECS_DIR || join(__dirname, '..', 'fixtures', 'specs');
