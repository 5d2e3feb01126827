import { z } from 'zod';
import type { ConnectorDeps, SandboxOptions, SandboxServer } from '../../../connectors/connector';
import { defineEsp, secret } from '../../../connectors/definition';
import type { ConnectorContext } from '../../../connectors/definition';
import { ManualClock } from '../../../src/model/clock';
import { MemoryEsp } from '../../support/memory-esp';

interface FakeOptions {
  apiKey: string;
  baseUrl?: string;
  retries?: number;
}

/** A vendor made of parts that record what defineEsp handed them. */
function fakeVendor() {
  const built: FakeOptions[] = [];
  const started: unknown[] = [];
  const clock = new ManualClock(0);
  const definition = defineEsp({
    esp: 'hubspot',
    configSchema: z.object({ apiKey: secret, baseUrl: z.string().optional(), retries: z.number().optional() }).strict(),
    sandboxCredential: 'fake-key',
    connector: () => (options: FakeOptions, deps: ConnectorDeps) => {
      built.push(options);
      return new MemoryEsp('hubspot', deps.clock);
    },
    options: (section): FakeOptions => ({ apiKey: section.apiKey, baseUrl: section.baseUrl, retries: section.retries }),
    sandbox: async (common: SandboxOptions, credential: string, webhookSecret: string | undefined) => {
      started.push({ common, credential, webhookSecret });
      return { url: 'http://127.0.0.1:4101' } as SandboxServer;
    },
    usage: (server, credential) => `fake: baseUrl ${server.url}, apiKey "${credential}"`,
  });
  const context: ConnectorContext = {
    clock,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    ownedTags: [],
  };
  return { definition, built, started, context };
}

describe('defineEsp', () => {
  it('builds the connector from its options with the keys the section left undefined left out, so the connector defaults them', () => {
    const { definition, built, context } = fakeVendor();
    const connector = definition.create(definition.configSchema.parse({ apiKey: 'k', retries: 0 }), context);
    expect(connector).toBeInstanceOf(MemoryEsp);
    expect(built).toEqual([{ apiKey: 'k', retries: 0 }]);
    expect(Object.keys(built[0]!)).not.toContain('baseUrl');
  });

  it('starts the sandbox with its own credential unless told otherwise, and says how to use it', async () => {
    const { definition, started } = fakeVendor();
    expect(await definition.startSandbox({ port: 0 })).toMatchObject({ usage: 'fake: baseUrl http://127.0.0.1:4101, apiKey "fake-key"' });
    expect(await definition.startSandbox({ credential: 'mine', webhookSecret: 'shh' })).toMatchObject({
      usage: 'fake: baseUrl http://127.0.0.1:4101, apiKey "mine"',
    });
    expect(started).toEqual([
      { common: { port: 0 }, credential: 'fake-key', webhookSecret: undefined },
      { common: {}, credential: 'mine', webhookSecret: 'shh' },
    ]);
  });
});
