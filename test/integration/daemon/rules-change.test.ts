/**
 * A segment added to segsync.yaml, then the daemon restarted: every contact is evaluated under the
 * new rules and the new segment's tag reaches the ESPs, though no contact changed. Before, an idle
 * contact kept the old rules' answers until it next changed, and the new segment tagged nobody.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../../src/config/load';
import { freeLoopbackPort } from '../../../src/daemon/free-port';
import { systemClock } from '../../../src/model/clock';
import { SegmentEngine } from '../../../src/rules/engine';
import { openStore } from '../../../src/store/sqlite/sqlite-store';
import { SERVER_KEY, startInProcess } from '../../support/intake-daemon';
import type { InProcess } from '../../support/intake-daemon';
import type { Sandboxes } from '../../support/sandboxes';
import { SECRETS, planDaemonYaml, segmentToAllYaml, startSandboxes } from '../../support/sandboxes';
import { eventually } from '../../support/wait';

const N = 30;

describe('daemon restarted with a segment added to its config', () => {
  let s: Sandboxes;
  let dir: string;
  let daemon: InProcess | undefined;

  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-rules-change-'));
  });
  afterAll(async () => {
    await daemon?.close();
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('evaluates every contact under the new rules and pushes the new tag, also after a `segsync segments` stored them, and saves its state after an import beside it', async () => {
    const db = join(dir, 'segsync.db');
    const configFile = join(dir, 'segsync.yaml');
    const port = await freeLoopbackPort();
    const writeConfig = (...segments: string[]): void =>
      writeFileSync(configFile, planDaemonYaml(s, { db, segments, daemon: `port: ${port}, serverKey: "\${SERVER_KEY}", pullIntervalSeconds: 3600` }));
    const env = { ...process.env, ...SECRETS, SERVER_KEY } as Record<string, string>;
    const start = (): Promise<InProcess> =>
      startInProcess({ dir, db, cfg: configFile, port, url: `http://127.0.0.1:${port}`, env }, {}, { reevaluateIntervalMs: 100 });
    const stop = async (): Promise<void> => {
      await daemon?.close();
      daemon?.store.close();
      daemon = undefined;
    };
    const everyone = segmentToAllYaml('subscriber', 'consent == "subscribed"');
    const pro = segmentToAllYaml('pro', 'contact.plan == "pro"');
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
    await stop();

    // A user's own Mailchimp tag named like the segment about to be added, on a contact not in it:
    // segsync never put it there, so it stays.
    s.mailchimp.admin.tag('r1@x.com', 'pro', true);
    writeConfig(everyone, pro);
    daemon = await start();
    await eventually(() => {
      for (let n = 0; n < N; n++) {
        const want = n % 3 === 0 ? ['pro', 'subscriber'] : ['subscriber'];
        if (n === 1) {
          expect([hsTags(n).sort(), mcTags(n).sort(), klTags(n).sort()]).toEqual([want, ['pro', 'subscriber'], want]);
          continue;
        }
        expect({ n, tags: [hsTags(n).sort(), mcTags(n).sort(), klTags(n).sort()] }).toEqual({ n, tags: [want, want, want] });
      }
    });
    await stop();

    // Another segment, and `segsync segments` run before the restart: it stores the new answers (and
    // the rules they follow) but pushes nothing, so the restarted daemon must still push them.
    writeConfig(everyone, pro, segmentToAllYaml('free_plan', 'contact.plan == "free"'));
    const cli = openStore(db);
    const recompute = SegmentEngine.fromConfig(loadConfigFile(configFile, { secrets: { connectors: false, daemon: false } }), cli, systemClock);
    recompute.recomputeAll();
    recompute.close();
    cli.close();
    daemon = await start();
    await eventually(() => {
      for (let n = 0; n < N; n++) {
        const want = n % 3 === 0 ? ['pro', 'subscriber'] : ['free_plan', 'subscriber'];
        // r1's own Mailchimp tag "pro" is still there.
        const onMailchimp = n === 1 ? ['free_plan', 'pro', 'subscriber'] : want;
        expect({ n, tags: [hsTags(n).sort(), mcTags(n).sort(), klTags(n).sort()] }).toEqual({ n, tags: [want, onMailchimp, want] });
      }
    });
    // Another process changes a contact while the daemon runs (`segsync import contacts`): the daemon
    // reads it again and pushes it, so its stop still saves its state and the next start need not
    // read every row (before, any such write stopped the save).
    const importer = openStore(db);
    importer.upsertContacts([{ email: 'r0@x.com', properties: { plan: 'free' }, source: 'local', time: Date.now() }]);
    importer.close();
    await eventually(() => expect(hsTags(0).sort()).toEqual(['free_plan', 'subscriber']));
    await eventually(() => expect(daemon!.store.contactChanges()).toEqual([]));
    await stop();
    const after = openStore(db);
    expect(after.db.prepare('SELECT COUNT(*) FROM rules_state').pluck().get()).toBe(1);
    after.close();
  }, 60_000);
});
