/** `segsync unlink --esp E` on a store file, as a user runs it. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { SEGSYNC_BIN } from '../support/sandbox-process';

function segsync(cwd: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SEGSYNC_BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('segsync unlink', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-unlink-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("forgets one ESP's ids, sync state and cursors, and nothing of the other ESPs or of the contacts", () => {
    const db = join(dir, 'segsync.db');
    const store = new SqliteStore({ path: db });
    const { contactId } = store.upsertContacts([{ email: 'ada@example.com', properties: { first_name: 'Ada' }, source: 'local', time: Date.now() }])[0]!;
    store.setExternalId(contactId, 'hubspot', '1001');
    store.setExternalId(contactId, 'klaviyo', '01K');
    store.putSyncState([{ contactId, esp: 'hubspot', key: 'firstname', remoteValue: 'Ada', pushedValue: 'Ada', remoteModifiedAt: 1 }]);
    store.setCursor('hubspot', 'contacts', 'c1');
    store.setCursor('klaviyo', 'contacts', 'k1');
    store.close();

    const r = segsync(dir, '--store', db, 'unlink', '--esp', 'hubspot');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^hubspot: forgot 1 record ids, 1 sync states, 1 pull cursors and 0 seen webhook ids/);
    expect(r.stdout).toContain('segsync pull --esp hubspot');

    const after = new SqliteStore({ path: db });
    try {
      expect(after.getContact(contactId)?.externalIds).toEqual({ klaviyo: '01K' });
      expect(after.getSyncState(contactId, 'hubspot')).toEqual([]);
      expect([after.getCursor('hubspot', 'contacts'), after.getCursor('klaviyo', 'contacts')]).toEqual([undefined, 'k1']);
      expect(after.findContactByEmail('ada@example.com')).toBeDefined();
    } finally {
      after.close();
    }
  });

  it('refuses an unknown ESP with exit code 2', () => {
    const r = segsync(dir, '--store', join(dir, 'other.db'), 'unlink', '--esp', 'sendgrid');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown ESP "sendgrid"/);
  });
});
