import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runDaemonCommand } from '../../../src/cli/daemon';
import type { DaemonContext } from '../../../src/cli/daemon';
import { ConfigError, UsageError } from '../../../src/errors';
import { FixtureServices } from '../../support/daemon-services';

describe('segsync daemon (runDaemonCommand)', () => {
  let dir: string;
  let built: FixtureServices | undefined;
  const factory = async (ctx: DaemonContext) => (built = new FixtureServices({ store: ctx.store, clock: ctx.clock, esps: ['mailchimp'] }));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-daemon-cli-'));
    built = undefined;
    process.env.SEGSYNC_TEST_TRACK_TOKEN = 'cli-test-token-0123456789';
  });
  afterEach(() => {
    delete process.env.SEGSYNC_TEST_TRACK_TOKEN;
    rmSync(dir, { recursive: true, force: true });
  });

  function config(daemon: string): string {
    const file = join(dir, 'segsync.yaml');
    writeFileSync(file, `version: 1\nstore:\n  path: ${join(dir, 'store.db')}\ndaemon:\n${daemon}`);
    return file;
  }

  it('starts from the config (port, token from the environment) and serves the track API', async () => {
    const file = config('  port: 0\n  trackToken: ${SEGSYNC_TEST_TRACK_TOKEN}\n  pullIntervalSeconds: 30\n');
    const daemon = await runDaemonCommand({ config: file, logLevel: 'silent', handleSignals: false }, factory);
    try {
      const r = await fetch(`${daemon.url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer cli-test-token-0123456789' },
        body: JSON.stringify({ email: 'a@example.com', event: 'Signed Up' }),
      });
      expect(r.status).toBe(200);
      expect(built!.store.counts().events).toBe(1);
    } finally {
      await daemon.stop();
    }
    expect(built!.closed).toBe(true);
  });

  it('refuses to start without daemon.trackToken, and closes the services it built', async () => {
    const file = config('  port: 0\n');
    await expect(runDaemonCommand({ config: file, logLevel: 'silent', handleSignals: false }, factory)).rejects.toThrow(ConfigError);
    expect(built!.closed).toBe(true);
  });

  it('says which port is taken and how to choose another, and closes the services it built', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const file = config(`  port: ${port}\n  trackToken: \${SEGSYNC_TEST_TRACK_TOKEN}\n`);
      const err = await runDaemonCommand({ config: file, logLevel: 'silent', handleSignals: false }, factory).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toBe(`cannot listen on 127.0.0.1:${port}: the port is in use`);
      expect((err as ConfigError).hint).toMatch(/choose another port \(--port/);
      expect(built!.closed).toBe(true);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it('says how to get a config when there is none', async () => {
    await expect(runDaemonCommand({ config: join(dir, 'missing.yaml'), handleSignals: false }, factory)).rejects.toThrow(UsageError);
  });
});
