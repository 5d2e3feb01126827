import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { seededRandom } from '../../bench/machine';
import type { Sandboxes } from '../support/sandboxes';
import { SECRETS, startSandboxes } from '../support/sandboxes';

const BIN = resolve(__dirname, '../../bin/segsync.js');
const CONTACTS = 3000;
const KILLS = 20;

function configFor(s: Sandboxes): string {
  return `version: 1
fields:
  plan: { type: string }
connectors:
  hubspot:
    accessToken: \${HS_TOKEN}
    baseUrl: ${s.hubspot.url}
    requestsPer10s: 10000
  mailchimp:
    apiKey: \${MC_KEY}
    listId: ${s.mailchimp.listId}
    baseUrl: ${s.mailchimp.url}
  klaviyo:
    apiKey: \${KL_KEY}
    baseUrl: ${s.klaviyo.url}
    jobPollIntervalMs: 50
mappings:
  hubspot: [{ local: plan, remote: segsync_plan }]
  mailchimp: [{ local: plan, remote: PLAN }]
  klaviyo: [{ local: plan, remote: plan }]
`;
}

describe('crash safety', () => {
  let s: Sandboxes;
  let dir: string;
  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-crash-'));
  });
  afterAll(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`converges to exactly the desired state after ${KILLS} SIGKILLs at random points of a push`, async () => {
    const cfg = join(dir, 'segsync.yaml');
    const db = join(dir, 'segsync.db');
    writeFileSync(cfg, configFor(s));
    const rand = seededRandom(7);
    const store = new SqliteStore({ path: db });
    store.upsertContacts(
      Array.from({ length: CONTACTS }, (_, i) => ({
        email: `c${i}@x.com`,
        properties: { plan: 'free' },
        source: 'local' as const,
        consent: 'subscribed' as const,
      })),
    );
    const env = { ...process.env, ...SECRETS, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' };
    const killedMidway: number[] = [];
    for (let round = 0; round < KILLS; round++) {
      // Desired state moves between crashes too: a few hundred contacts change plan.
      store.transaction(() => {
        for (let k = 0; k < 300; k++) {
          const id = 1 + Math.floor(rand() * CONTACTS);
          store.setProperty(id, 'plan', { value: ['free', 'pro', 'team'][Math.floor(rand() * 3)]!, updatedAt: Date.now(), source: 'local' });
        }
      });
      const child = spawn(process.execPath, [BIN, '--config', cfg, '--store', db, 'push'], { env, stdio: 'ignore' });
      const delay = 400 + Math.floor(rand() * 1600);
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const code = await exited;
      clearTimeout(timer);
      if (code === null) killedMidway.push(delay);
    }
    expect(killedMidway.length).toBeGreaterThanOrEqual(KILLS / 2);

    // Asynchronously: the sandboxes answer from this process's event loop.
    const final = spawn(process.execPath, [BIN, '--config', cfg, '--store', db, 'push'], { env });
    let stderr = '';
    final.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => final.on('exit', (c) => r(c)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    const counts = store.counts();
    expect(counts.outbox).toEqual([]);
    const mismatches: string[] = [];
    for (let id = 1; id <= CONTACTS; id++) {
      const c = store.getContact(id)!;
      const plan = c.properties.plan!.value;
      const hs = s.hubspot.contact(c.email)?.properties.segsync_plan;
      const mc = s.mailchimp.member(c.email)?.merge_fields.PLAN;
      const kl = s.klaviyo.profileByEmail(c.email)?.properties.plan;
      if (hs !== plan || mc !== plan || kl !== plan)
        mismatches.push(`${c.email}: local ${String(plan)}, hubspot ${String(hs)}, mailchimp ${String(mc)}, klaviyo ${String(kl)}`);
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect([s.hubspot.contactCount(), s.mailchimp.audience().members.size, s.klaviyo.state.profiles.size]).toEqual([CONTACTS, CONTACTS, CONTACTS]);
    store.close();
  }, 180_000);
});
