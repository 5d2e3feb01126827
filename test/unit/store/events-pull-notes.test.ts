/**
 * The store's notes of an ESP's events being read (`events_pull:ESP` = pid): a daemon waits before
 * pushing while another process that still runs reads events, and never for itself, a process killed
 * mid-pull, or a pid some other program took since.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

describe('notes of events pulls', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-events-pull-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("sees another running segsync's pull, not its own, a dead one's, or a pid another program took", async () => {
    const path = join(dir, 'segsync.db');
    const store = new SqliteStore({ path });
    const note = (esp: string, pid: number): void => {
      const db = new Database(path);
      db.prepare('INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(
        `events_pull:${esp}`,
        String(pid),
      );
      db.close();
    };
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => 0, 30000)', 'segsync', 'pull'], { stdio: 'ignore' });
    const notSegsync = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      store.noteEventsPull('klaviyo', true);
      expect(store.eventsPullsElsewhere()).toEqual([]);
      note('klaviyo', other.pid!);
      expect(store.eventsPullsElsewhere()).toEqual(['klaviyo']);
      // Only this process's own note is taken back by it.
      store.noteEventsPull('klaviyo', false);
      expect(store.eventsPullsElsewhere()).toEqual(['klaviyo']);
      if (existsSync('/proc/self/cmdline')) {
        note('mailchimp', notSegsync.pid!);
        expect(store.eventsPullsElsewhere()).toEqual(['klaviyo']);
      }
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
      expect(store.eventsPullsElsewhere()).toEqual([]);
    } finally {
      other.kill();
      notSegsync.kill();
      store.close();
    }
  });
});
