/**
 * A segment added to segsync.yaml, then the daemon restarted: every contact is evaluated under the
 * new rules and the new segment's tag reaches the ESPs, though no contact changed. Before, an idle
 * contact kept the old rules' answers until it next changed, and the new segment tagged nobody.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../../src/config/load';
import { startDaemon } from '../../../src/daemon/daemon';
import type { RunningDaemon } from '../../../src/daemon/daemon';
import { freeLoopbackPort } from '../../../src/daemon/free-port';
import { createServices } from '../../../src/daemon/wire';
import { createLogger } from '../../../src/log/logger';
import { systemClock } from '../../../src/model/clock';
import { SegmentEngine } from '../../../src/rules/engine';
import { openStore } from '../../../src/store/sqlite/sqlite-store';
import type { Sandboxes } from '../../support/sandboxes';
import { SECRETS, startSandboxes } from '../../support/sandboxes';
import { eventually } from '../../support/wait';

const TOKEN = 'server-key-for-rules-change';
const N = 30;

describe('daemon restarted with a segment added to its config', () => {
  let s: Sandboxes;
  let dir: string;
  let daemon: RunningDaemon | undefined;

  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-rules-change-'));
  });
  afterAll(async () => {
    await daemon?.stop();
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('evaluates every contact under the new rules and pushes the new tag, also after a `segsync segments` stored them', async () => {
    const db = join(dir, 'segsync.db');
    const configFile = join(dir, 'segsync.yaml');
    const port = await freeLoopbackPort();
    const writeConfig = (segments: string): void =>
      writeFileSync(
        configFile,
        `version: 1
store: { path: ${db} }
fields:
  plan: { type: string }
connectors:
  hubspot: { accessToken: "\${HS_TOKEN}", baseUrl: "${s.hubspot.url}" }
  mailchimp: { apiKey: "\${MC_KEY}", listId: ${s.mailchimp.listId}, baseUrl: "${s.mailchimp.url}" }
  klaviyo: { apiKey: "\${KL_KEY}", baseUrl: "${s.klaviyo.url}", jobPollIntervalMs: 50 }
segments:
${segments}
daemon: { port: ${port}, serverKey: "\${SERVER_KEY}", pullIntervalSeconds: 3600 }
`,
      );
    const start = async (): Promise<RunningDaemon> => {
      const loaded = loadConfigFile(configFile, { env: { ...process.env, ...SECRETS, SERVER_KEY: TOKEN } });
      const logger = createLogger({ level: 'silent' });
      const store = openStore(db);
      const services = await createServices({ config: loaded.config, loaded, store, clock: systemClock, logger });
      const running = await startDaemon({ services, logger, clock: systemClock, port, serverKey: TOKEN, pullIntervalMs: 3_600_000, reevaluateIntervalMs: 100 });
      return { ...running, stop: async () => (await running.stop(), store.close()) };
    };
    const everyone = `  subscriber:
    rule: consent == "subscribed"
    push: [{ esp: hubspot }, { esp: mailchimp }, { esp: klaviyo }]`;
    const hsTags = (n: number): string[] => (s.hubspot.contact(`r${n}@x.com`)?.properties.segsync_tags ?? '').split(';').filter(Boolean);
    const mcTags = (n: number): string[] => ((s.mailchimp.member(`r${n}@x.com`)?.tags ?? []) as { name: string }[]).map((t) => t.name);
    const klTags = (n: number): string[] => (s.klaviyo.profileByEmail(`r${n}@x.com`)?.properties.segsync_tags ?? []) as string[];

    const seed = openStore(db);
    seed.upsertContacts(
      Array.from({ length: N }, (_, n) => ({
        email: `r${n}@x.com`,
        properties: { plan: n % 3 === 0 ? 'pro' : 'free' },
        consent: 'subscribed' as const,
        source: 'local' as const,
        time: Date.now(),
      })),
    );
    seed.close();
    writeConfig(everyone);
    daemon = await start();
    await eventually(() => {
      for (let n = 0; n < N; n++) expect([hsTags(n), mcTags(n), klTags(n)]).toEqual([['subscriber'], ['subscriber'], ['subscriber']]);
    });
    await daemon.stop();
    daemon = undefined;

    writeConfig(`${everyone}
  pro:
    rule: contact.plan == "pro"
    push: [{ esp: hubspot }, { esp: mailchimp }, { esp: klaviyo }]`);
    daemon = await start();
    await eventually(() => {
      for (let n = 0; n < N; n++) {
        const want = n % 3 === 0 ? ['pro', 'subscriber'] : ['subscriber'];
        expect({ n, tags: [hsTags(n).sort(), mcTags(n).sort(), klTags(n).sort()] }).toEqual({ n, tags: [want, want, want] });
      }
    });
    await daemon.stop();
    daemon = undefined;

    // Another segment, and `segsync segments` run before the restart: it stores the new answers (and
    // the rules they follow) but pushes nothing, so the restarted daemon must still push them.
    writeConfig(`${everyone}
  pro:
    rule: contact.plan == "pro"
    push: [{ esp: hubspot }, { esp: mailchimp }, { esp: klaviyo }]
  free_plan:
    rule: contact.plan == "free"
    push: [{ esp: hubspot }, { esp: mailchimp }, { esp: klaviyo }]`);
    const cli = openStore(db);
    const recompute = SegmentEngine.fromConfig(loadConfigFile(configFile, { secrets: { connectors: false, daemon: false } }), cli, systemClock);
    recompute.recomputeAll();
    recompute.close();
    cli.close();
    daemon = await start();
    await eventually(() => {
      for (let n = 0; n < N; n++) {
        const want = n % 3 === 0 ? ['pro', 'subscriber'] : ['free_plan', 'subscriber'];
        expect({ n, tags: [hsTags(n).sort(), mcTags(n).sort(), klTags(n).sort()] }).toEqual({ n, tags: [want, want, want] });
      }
    });
  }, 60_000);
});
