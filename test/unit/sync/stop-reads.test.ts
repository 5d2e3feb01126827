/**
 * A stop during a read (SyncEngine.stopReads, the daemon's SIGTERM): the pull ends after the page it
 * applied, and nothing that needed the whole read counts on it. The first push to an account pulls it
 * whole first; cut short, that pull must not mark the account as seen, or the next start would write
 * over records segsync never read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PullRequest, RemotePage } from '../../../connectors/connector';
import { ManualClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import type { SyncEngine } from '../../../src/sync/engine';
import { MemoryEsp, firstNameEngine } from '../../support/memory-esp';

/** An ESP that gives one record a page, and calls `beforePage` before each. */
class PagedEsp extends MemoryEsp {
  beforePage: (() => void) | undefined;
  pagesRead = 0;
  override async *pull(request: PullRequest): AsyncIterable<RemotePage> {
    for await (const page of super.pull(request))
      for (const contact of page.contacts) {
        this.beforePage?.();
        this.pagesRead++;
        yield { contacts: [contact], next: String(contact.modifiedAt) };
      }
  }
}

describe('a stop during a read', () => {
  let dir: string;
  let store: SqliteStore;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const engineOn = (esp: MemoryEsp): SyncEngine => firstNameEngine(store, clock, esp, 'latest');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-stop-reads-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => clock.now() });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a first push whose whole pull was cut short writes nothing; the next start reads on and then writes', async () => {
    const esp = new PagedEsp('hubspot', clock);
    // Three people already on the ESP, edited there at different times; one of them is also local.
    for (const [i, email] of ['a@x.com', 'b@x.com', 'c@x.com'].entries())
      esp.records.set(`r${i}`, {
        id: `r${i}`,
        email,
        fields: { firstname: `Remote ${i}` },
        tags: new Set(),
        consent: 'subscribed',
        modifiedAt: clock.now() - 3_000 + i,
      });
    const { contactId } = store.upsertContacts([
      { email: 'c@x.com', properties: { first_name: 'Local' }, consent: 'subscribed', source: 'local', time: clock.now() - 10_000 },
    ])[0]!;
    const first = engineOn(esp);
    first.enqueue([contactId]);
    esp.beforePage = () => {
      if (esp.pagesRead === 0) first.stopReads();
    };
    const report = await first.drain('hubspot');
    expect(report).toMatchObject({ items: 0, calls: 0 });
    expect(esp.calls).toBe(0);
    expect(esp.pagesRead).toBe(1);
    expect(store.getCursor('hubspot', 'adopted')).toBeUndefined();
    first.close();

    // The next start: the pull goes on after the page already applied, reads the rest, then pushes.
    esp.beforePage = undefined;
    const second = engineOn(esp);
    await second.drainAll('hubspot');
    expect(esp.pagesRead).toBe(3);
    expect(store.getCursor('hubspot', 'adopted')).toBeDefined();
    // c's remote name is newer than the local one: the whole read saw it, so nothing overwrote it.
    expect(store.getContact(contactId)!.properties.first_name?.value).toBe('Remote 2');
    expect(esp.byEmail('c@x.com')!.fields.firstname).toBe('Remote 2');
    second.close();
  });
});
