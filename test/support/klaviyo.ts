/** Test helpers for the Klaviyo connector: a sandbox whose every exchange is checked against the spec. */
import path from 'node:path';
import type { Clock } from '../../src/model/clock';
import { systemClock } from '../../src/model/clock';
import type { ConnectorLogger, ConnectorNotes } from '../../connectors/connector';
import { createKlaviyoConnector, type KlaviyoConnectorOptions } from '../../connectors/klaviyo';
import { startKlaviyoSandbox, type KlaviyoExchange, type KlaviyoSandbox, type KlaviyoSandboxOptions } from '../../connectors/klaviyo/sandbox';
import { SPECS_DIR, SpecValidator } from './openapi';

const SPEC_DIR = path.join(SPECS_DIR, 'klaviyo');
const SPEC_FILES = ['profiles', 'lists', 'events', 'metrics', 'data_privacy', 'webhooks', 'segments', 'tags'].map((c) =>
  path.join(SPEC_DIR, `stable-category-${c}.json`),
);

let validator: SpecValidator | undefined;
/** The Klaviyo spec validator (loaded once per test file). */
export function klaviyoSpec(): SpecValidator {
  validator ??= SpecValidator.fromFiles(SPEC_FILES);
  return validator;
}

export const silentLogger: ConnectorLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export interface KlaviyoHarness {
  sandbox: KlaviyoSandbox;
  exchanges: KlaviyoExchange[];
  /** Spec problems of every exchange so far, each prefixed with its method and path. */
  specProblems(): string[];
  connector(options?: Partial<KlaviyoConnectorOptions>, clock?: Clock, notes?: ConnectorNotes): ReturnType<typeof createKlaviyoConnector>;
  close(): Promise<void>;
}

/** Starts a sandbox that records its exchanges, plus a connector factory pointed at it. */
export async function startKlaviyoHarness(options: KlaviyoSandboxOptions = {}): Promise<KlaviyoHarness> {
  const exchanges: KlaviyoExchange[] = [];
  const sandbox = await startKlaviyoSandbox({ jobDurationMs: 0, ...options, onExchange: (x) => exchanges.push(x) });
  const connectors: ReturnType<typeof createKlaviyoConnector>[] = [];
  return {
    sandbox,
    exchanges,
    specProblems: () =>
      exchanges.flatMap((x) =>
        klaviyoSpec()
          .check({ method: x.method, path: x.path, headers: x.headers, requestBody: x.requestBody, status: x.status, responseBody: x.responseBody })
          .map((p) => `${x.method} ${x.path} → ${x.status}: ${p}`),
      ),
    connector: (extra = {}, clock = systemClock, notes = undefined) => {
      const c = createKlaviyoConnector(
        { apiKey: 'pk_test_sandbox', baseUrl: sandbox.url, jobPollIntervalMs: 5, ...extra },
        { clock, logger: silentLogger, ...(notes ? { notes } : {}) },
      );
      connectors.push(c);
      return c;
    },
    close: async () => {
      await Promise.all(connectors.map((c) => c.close()));
      await sandbox.close();
    },
  };
}
