/**
 * A daemon with no segments configured still pushes what another process (`segsync import contacts`)
 * changes while it runs: with no rules engine to read the noted contact changes, the daemon takes
 * them itself, queues what each contact needs and clears them; its own writes are never noted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../../src/daemon/free-port';
import { openStore } from '../../../src/store/sqlite/sqlite-store';
import { SERVER_KEY, startInProcess } from '../../support/intake-daemon';
import type { InProcess } from '../../support/intake-daemon';
import type { Sandboxes } from '../../support/sandboxes';
import { SECRETS, sandboxConnectorsYaml, startSandboxes } from '../../support/sandboxes';
import { eventually } from '../../support/wait';

describe('daemon without segments: contacts another process changes', () => {
  let s: Sandboxes;
  let dir: string;
  let db: string;
  let daemon: InProcess;

  beforeAll(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-foreign-writes-'));
    db = join(dir, 'segsync.db');
    const configFile = join(dir, 'segsync.yaml');
    const port = await freeLoopbackPort();
    writeFileSync(
      configFile,
      `version: 1
store: { path: ${db} }
fields:
  first_name: { type: string }
${sandboxConnectorsYaml(s)}
mappings:
  hubspot: [{ local: first_name, remote: firstname }]
  mailchimp: [{ local: first_name, remote: FNAME }]
  klaviyo: [{ local: first_name, remote: first_name }]
daemon: { port: ${port}, serverKey: "\${SERVER_KEY}", pullIntervalSeconds: 3600 }
`,
    );
    const env = { ...process.env, ...SECRETS, SERVER_KEY } as Record<string, string>;
    daemon = await startInProcess({ dir, db, cfg: configFile, port, url: `http://127.0.0.1:${port}`, env }, {}, { reevaluateIntervalMs: 100 });
  }, 30_000);

  afterAll(async () => {
    await daemon?.close();
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pushes an imported contact and its later opt-out, and leaves no change noted', async () => {
    const email = 'imported@example.com';
    const other = openStore(db);
    try {
      other.upsertContacts([{ email, properties: { first_name: 'Ola' }, consent: 'subscribed', source: 'local', time: Date.now() }]);
      await eventually(() => {
        expect(s.hubspot.contact(email)?.properties.firstname).toBe('Ola');
        expect(s.mailchimp.member(email)?.merge_fields.FNAME).toBe('Ola');
        expect(s.klaviyo.profileByEmail(email)?.first_name).toBe('Ola');
      });
      other.upsertContacts([{ email, properties: {}, consent: 'unsubscribed', source: 'local', time: Date.now() + 1 }]);
      await eventually(() => {
        expect(s.hubspot.contact(email)?.properties.hs_email_optout).toBe('true');
        expect(s.mailchimp.member(email)?.status).toBe('unsubscribed');
        expect(s.klaviyo.profileByEmail(email)?.marketing.consent).toBe('UNSUBSCRIBED');
      });
      await eventually(() => expect(other.contactChanges()).toEqual([]));
    } finally {
      other.close();
    }
  }, 30_000);

  it("notes none of the daemon's own contact writes (tracked identities are queued where they are made)", async () => {
    const res = await daemon.post('/v1/identify', { email: 'tracked@example.com', traits: { first_name: 'Tia' } });
    expect(res.status).toBeLessThan(300);
    expect(daemon.store.contactChanges()).toEqual([]);
    await eventually(() => expect(s.hubspot.contact('tracked@example.com')?.properties.firstname).toBe('Tia'));
  }, 30_000);

  it('never resubscribes a member who unsubscribed on the ESP since the last push, when it pushes an imported field', async () => {
    const email = 'left-on-the-esp@example.com';
    const other = openStore(db);
    try {
      other.upsertContacts([{ email, properties: { first_name: 'Ivo' }, consent: 'subscribed', source: 'local', time: Date.now() }]);
      // Klaviyo's subscribe job follows the profile write within the push: wait for it too, or the
      // unsubscribe below can come first and the job's subscription after it.
      await eventually(() => {
        expect(s.mailchimp.member(email)?.merge_fields.FNAME).toBe('Ivo');
        expect(s.klaviyo.profileByEmail(email)?.first_name).toBe('Ivo');
        expect(s.klaviyo.profileByEmail(email)?.marketing.consent).toBe('SUBSCRIBED');
      });
      // Unsubscribed on Mailchimp and Klaviyo, and not pulled yet: segsync still believes subscribed.
      s.mailchimp.admin.update(email, { status: 'unsubscribed' });
      s.klaviyo.state.unsubscribe([email], undefined);
      other.upsertContacts([{ email, properties: { first_name: 'Iva' }, consent: 'subscribed', source: 'local', time: Date.now() + 1 }]);
      await eventually(() => {
        expect(s.mailchimp.member(email)?.merge_fields.FNAME).toBe('Iva');
        expect(s.klaviyo.profileByEmail(email)?.first_name).toBe('Iva');
      });
      expect(s.mailchimp.member(email)?.status).toBe('unsubscribed');
      expect(s.klaviyo.profileByEmail(email)?.marketing.consent).toBe('UNSUBSCRIBED');
    } finally {
      other.close();
    }
  }, 30_000);
});
