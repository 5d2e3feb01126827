/**
 * Test helpers for the Mailchimp connector: a sandbox whose every exchange is checked against the
 * published OpenAPI file, and a connector pointed at it with small timeouts and backoffs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connector, ConnectorLogger, ConnectorNotes } from '../../connectors/connector';
import type { MailchimpConnectorOptions } from '../../connectors/mailchimp';
import { createMailchimpConnector } from '../../connectors/mailchimp';
import type { MailchimpSandbox, MailchimpSandboxOptions, SandboxExchange } from '../../connectors/mailchimp/sandbox';
import { startMailchimpSandbox } from '../../connectors/mailchimp/sandbox';
import type { Clock } from '../../src/model/clock';
import { systemClock } from '../../src/model/clock';
import { SPECS_DIR, SpecValidator } from './openapi';

/** The published Mailchimp OpenAPI file in the vendors' spec folder. */
export function mailchimpSpecFile(): string {
  return join(SPECS_DIR, 'mailchimp', 'mailchimp-marketing-3.0.85.ballerina-oas3.json');
}

/**
 * The spec with one known defect corrected: every `merge_fields` map declares its values as
 * `type: object`, while Mailchimp stores (and documents, and answers with) strings and numbers there —
 * codegen's "Object" meant "any value". Left as is, every member write and read would be flagged.
 */
function correctedSpec(): unknown {
  const doc = JSON.parse(readFileSync(mailchimpSpecFile(), 'utf8')) as unknown;
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    const merge = (obj.properties as Record<string, Record<string, unknown>> | undefined)?.merge_fields;
    if (merge && typeof merge.additionalProperties === 'object') merge.additionalProperties = {};
    Object.values(obj).forEach(walk);
  };
  walk(doc);
  return doc;
}

let validator: SpecValidator | undefined;

/** The spec validator, loaded once per test file. */
export function mailchimpValidator(): SpecValidator {
  validator ??= SpecValidator.fromDocs([{ file: mailchimpSpecFile(), doc: correctedSpec() }], { basePath: '/3.0' });
  return validator;
}

/** A logger that keeps what it was told (tests assert on warnings). */
export function memoryLogger(): ConnectorLogger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const log = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, ...(msg ? { msg } : {}) });
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export interface ValidatedSandbox {
  sandbox: MailchimpSandbox;
  exchanges: SandboxExchange[];
  /** Spec problems found in every exchange so far. */
  problems(): string[];
}

/** Starts a sandbox that records every exchange for spec validation. */
export async function startValidatedSandbox(options: MailchimpSandboxOptions = {}): Promise<ValidatedSandbox> {
  const exchanges: SandboxExchange[] = [];
  const sandbox = await startMailchimpSandbox({ ...options, onExchange: (x) => exchanges.push(x) });
  return {
    sandbox,
    exchanges,
    problems: () =>
      exchanges.flatMap((x) => {
        const problems = mailchimpValidator().check({ ...x, headers: x.headers });
        // An injected "Request Blocked" HTML page is off-spec on purpose (Mailchimp's throttling page is
        // not a problem document): only its request is checked.
        return typeof x.responseBody === 'string' ? problems.filter((p) => !p.includes(`response ${x.status}:`)) : problems;
      }),
  };
}

/** A connector on the sandbox with test-sized timeouts and backoffs. */
export function sandboxConnector(
  sandbox: MailchimpSandbox,
  options: Partial<MailchimpConnectorOptions> = {},
  clock: Clock = systemClock,
  logger: ConnectorLogger = memoryLogger(),
  notes?: ConnectorNotes,
): Connector {
  return createMailchimpConnector(
    {
      apiKey: sandbox.apiKey,
      listId: sandbox.listId,
      baseUrl: sandbox.url,
      maxConnections: 10,
      webhookSecret: 'test-secret-0123456789abcdef',
      timeoutMs: 2000,
      backoffBaseMs: 5,
      backoffMaxMs: 50,
      ...options,
    },
    { clock, logger, ...(notes ? { notes } : {}) },
  );
}
