/** The daemon names, at its start, each field it wrote on an ESP and segsync.yaml no longer maps. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { capturedLogger } from '../../support/captured-log';
import { startInProcess, writeDaemonConfig } from '../../support/intake-daemon';

describe('the daemon start', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-daemon-unwritten-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('warns once per field segsync wrote and no longer writes (not for those it still writes), and per tag it put on contacts and no longer owns', async () => {
    const { logger, text: logged } = capturedLogger('warn');
    const setup = await writeDaemonConfig(dir);
    const store = new SqliteStore({ path: join(dir, 'segsync.db') });
    const id = store.upsertContacts([{ email: 'ann@x.com', properties: {}, source: 'local' }])[0]!.contactId;
    const at = Date.UTC(2026, 10, 2, 9, 30);
    // `rfm` was pushed to Klaviyo under an earlier segsync.yaml; `plan` and `lifetime_value` still are.
    store.putSyncState(
      ['rfm', 'plan', 'lifetime_value'].map((key) => ({
        contactId: id,
        esp: 'klaviyo' as const,
        key,
        remoteValue: 'x',
        pushedValue: 'x',
        remoteModifiedAt: at,
        pushedAt: at,
      })),
    );
    // `old_tag` was pushed as a segment tag (outside the owned prefix) under an earlier segsync.yaml.
    store.putSyncState([
      { contactId: id, esp: 'klaviyo', key: '@tags-added', remoteValue: undefined, pushedValue: ['old_tag'], remoteModifiedAt: undefined, pushedAt: at },
    ]);
    store.noteAddedTags('klaviyo', ['old_tag'], at);
    store.close();
    const d = await startInProcess(setup, {}, { logger });
    await d.close();
    const lines = logged()
      .split('\n')
      .filter((l) => l.includes('no longer in segsync.yaml'))
      .map((l) => JSON.parse(l) as { esp: string; field: string; msg: string });
    const tagLines = logged()
      .split('\n')
      .filter((l) => l.includes('is no longer pushed by segsync.yaml'))
      .map((l) => JSON.parse(l) as { esp: string; tag: string; contacts: number });
    expect(tagLines).toEqual([expect.objectContaining({ esp: 'klaviyo', tag: 'old_tag', contacts: 1 })]);
    expect(lines).toEqual([
      expect.objectContaining({
        esp: 'klaviyo',
        field: 'rfm',
        msg: 'klaviyo: field rfm is no longer in segsync.yaml (last written 2026-11-02 09:30 UTC): its records keep the last value segsync wrote, which nothing updates now; clear it on klaviyo if anything there reads it, then `segsync unlink --esp klaviyo --field rfm` to stop this notice',
      }),
    ]);
  });
});
