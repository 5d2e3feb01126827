/** Test harness for HubSpot: the sandbox, a connector on the real SDK pointed at it, and spec checks of every exchange. */
import type { Clock } from '../../src/model/clock';
import { systemClock } from '../../src/model/clock';
import type { ConnectorLogger } from '../../connectors/connector';
import type { HubspotConnectorOptions } from '../../connectors/hubspot';
import { createHubspotConnector } from '../../connectors/hubspot';
import type { HubspotSandbox, HubspotSandboxOptions, SandboxExchange } from '../../connectors/hubspot/sandbox';
import { startHubspotSandbox } from '../../connectors/hubspot/sandbox';
import { SPECS_DIR, SpecValidator } from './openapi';

/** The published HubSpot spec files covering every path the connector calls. */
export const HUBSPOT_SPEC_FILES = ['crm-contacts-v3.json', 'crm-properties-v3.json', 'crm-lists-v3.json', 'communication-preferences-v3.json'].map(
  (f) => `${SPECS_DIR}/hubspot/${f}`,
);

let validator: SpecValidator | undefined;
/** One validator per test file (compiling the specs takes a moment). */
export function hubspotValidator(): SpecValidator {
  validator ??= SpecValidator.fromFiles(HUBSPOT_SPEC_FILES);
  return validator;
}

/** A logger that keeps what it was given, for assertions. */
export function recordingLogger(): ConnectorLogger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, ...(msg ? { msg } : {}) });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Harness {
  sandbox: HubspotSandbox;
  connector: ReturnType<typeof createHubspotConnector>;
  exchanges: SandboxExchange[];
  /** Spec problems of every exchange so far. */
  specProblems(): string[];
  logger: ReturnType<typeof recordingLogger>;
  close(): Promise<void>;
}

/** Starts a sandbox and a connector talking to it over loopback HTTP. */
export async function startHarness(
  sandboxOptions: HubspotSandboxOptions = {},
  connectorOptions: Partial<HubspotConnectorOptions> = {},
  clock: Clock = systemClock,
): Promise<Harness> {
  const exchanges: SandboxExchange[] = [];
  const sandbox = await startHubspotSandbox({ onExchange: (x) => exchanges.push(x), ...sandboxOptions });
  const logger = recordingLogger();
  const connector = createHubspotConnector(
    { accessToken: sandbox.accessToken, baseUrl: sandbox.url, appId: String(sandbox.appId), backoffMs: 5, ...connectorOptions },
    { clock, logger },
  );
  return {
    sandbox,
    connector,
    exchanges,
    logger,
    specProblems: () => exchanges.flatMap((x) => hubspotValidator().check(x)),
    close: async () => {
      await connector.close();
      await sandbox.close();
    },
  };
}
