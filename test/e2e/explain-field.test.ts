import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CliRun } from '../support/cli';
import { runCliIn } from '../support/cli';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';

const TEMPLATE = resolve(__dirname, '../../templates/segsync.yaml');
const ENV = { HUBSPOT_ACCESS_TOKEN: 'pat-test', MAILCHIMP_API_KEY: 'key-us1', KLAVIYO_API_KEY: 'pk_test' };
const T = Date.UTC(2026, 5, 1, 12);

const segsync = (dir: string, ...args: string[]): CliRun => runCliIn(dir, ENV, ...args);

describe('segsync explain EMAIL FIELD', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-explain-field-'));
    copyFileSync(TEMPLATE, join(dir, 'segsync.yaml'));
    const store = new SqliteStore({ path: join(dir, 'store.db') });
    const id = store.upsertContacts([{ email: 'eve@example.com', properties: { first_name: 'Evie' }, source: 'klaviyo', time: T }])[0]!.contactId;
    store.setExternalId(id, 'klaviyo', 'PROFILE1');
    store.putSyncState([
      { contactId: id, esp: 'klaviyo', key: 'first_name', remoteValue: 'Evie', pushedValue: undefined, remoteModifiedAt: T },
      { contactId: id, esp: 'hubspot', key: 'firstname', remoteValue: 'Eve', pushedValue: 'Eve', remoteModifiedAt: T - 60_000 },
    ]);
    store.recordDecision({
      contactId: id,
      field: 'first_name',
      winner: 'klaviyo',
      reason: 'latest wins: klaviyo changed it',
      at: T,
      detail: { esp: 'klaviyo', remote: 'Evie', local: 'Eve' },
    });
    store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows the value per ESP with change times, the last pushed value and every decision', () => {
    const r = segsync(dir, 'explain', 'eve@example.com', 'first_name');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('eve@example.com · first_name');
    expect(r.stdout).toContain(`local: "Evie" (changed ${new Date(T).toISOString()}) from klaviyo`);
    expect(r.stdout).toContain(`hubspot firstname (both): "Eve" (changed ${new Date(T - 60_000).toISOString()}) [no record yet]`);
    expect(r.stdout).toContain('last pushed by segsync: "Eve"');
    expect(r.stdout).toContain('klaviyo first_name (both): "Evie"');
    expect(r.stdout).toContain('[record PROFILE1]');
    expect(r.stdout).toContain('mailchimp FNAME (both): (never seen)');
    expect(r.stdout).toContain(`${new Date(T).toISOString()}  klaviyo won: latest wins: klaviyo changed it`);
  });

  it('answers --json, and names segments and fields when neither matches', () => {
    const json = JSON.parse(segsync(dir, 'explain', 'eve@example.com', 'first_name', '--json').stdout) as { esps: { esp: string }[]; decisions: unknown[] };
    expect(json.esps.map((e) => e.esp)).toEqual(['hubspot', 'mailchimp', 'klaviyo']);
    expect(json.decisions).toHaveLength(1);
    const email = segsync(dir, 'explain', 'eve@example.com', 'email');
    expect(email.stdout).toContain('eve@example.com · email');
    expect(email.stdout).toContain('policy: the contact identity');
    expect(email.stdout).toContain('klaviyo @email (both): (never seen) [record PROFILE1]');
    const bad = segsync(dir, 'explain', 'eve@example.com', 'first_nam');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/no segment or mapped field "first_nam"[\s\S]*did you mean "first_name"/);
  });
});
