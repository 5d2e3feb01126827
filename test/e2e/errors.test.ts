/** The mistakes of a first hour: wrong store paths, sandboxes not started. Each error names the path or URL and the fix. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freeLoopbackPort } from '../../src/daemon/free-port';

const BIN = resolve(__dirname, '../../bin/segsync.js');
const TEMPLATE = resolve(__dirname, '../../templates/segsync.yaml');
const ENV = { HUBSPOT_ACCESS_TOKEN: 'sandbox-token', MAILCHIMP_API_KEY: 'sandbox-key-us1', KLAVIYO_API_KEY: 'pk_sandbox' };

function segsync(cwd: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...ENV, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '', SEGSYNC_LOG_LEVEL: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('errors that point somewhere', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-errors-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('status on a store that does not exist says so, exits 1 and creates nothing', () => {
    const r = segsync(dir, '--store', join(dir, 'typo.db'), 'status');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no store at ${join(dir, 'typo.db')}`);
    expect(r.stderr).toContain('hint: check the path (--store, $SEGSYNC_STORE or store.path in segsync.yaml)');
    expect(existsSync(join(dir, 'typo.db'))).toBe(false);
    expect(segsync(dir, '--store', join(dir, 'typo.db'), 'status', '--json').code).toBe(1);
  });

  it('a store path that is another kind of file, a folder, or under a file names the path and the fix', () => {
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'my notes\n');
    const notDb = segsync(dir, '--store', notes, 'status');
    expect(notDb.code).toBe(1);
    expect(notDb.stderr).toContain(`${notes} is not a segsync store (it is not an SQLite database)`);
    expect(readFileSync(notes, 'utf8')).toBe('my notes\n');

    const folder = join(dir, 'folder');
    mkdirSync(folder);
    const isFolder = segsync(dir, '--store', folder, 'status');
    expect(isFolder.code).toBe(1);
    expect(isFolder.stderr).toContain(`the store path ${folder} is a folder`);
    expect(isFolder.stderr).toContain(`${folder}/segsync.db`);

    const events = join(dir, 'events.jsonl');
    writeFileSync(events, '{"email":"a@x.com","name":"Viewed Product","time":"2026-04-01T10:00:00Z"}\n');
    const underFile = segsync(dir, '--store', join(notes, 'sub', 'x.db'), 'import', 'events', events);
    expect(underFile.code).toBe(1);
    expect(underFile.stderr).toContain(`the store's folder ${join(notes, 'sub')} cannot exist: ${notes} is a file, not a folder`);
    for (const r of [notDb, isFolder, underFile]) expect(r.stderr).not.toMatch(/EEXIST|ENOTDIR|SQLITE_|file is not a database/);
  });

  it('pull with no sandbox running: one error per ESP naming its URL and the sandbox to start, no JSON log lines, status shows the failure', async () => {
    const ports = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
    // One pass: replacing port by port would find "4102" inside a first port such as 41023.
    const config = readFileSync(TEMPLATE, 'utf8').replace(/127\.0\.0\.1:410([123])\b/g, (_, n: string) => `127.0.0.1:${ports[Number(n) - 1]}`);
    writeFileSync(join(dir, 'segsync.yaml'), config);
    const store = ['--store', join(dir, 'pull.db')];
    const r = segsync(dir, ...store, 'pull');
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    for (const [i, esp] of (['hubspot', 'mailchimp', 'klaviyo'] as const).entries()) {
      const said = lines.filter((l) => l.startsWith(`segsync: ${esp}:`));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(new RegExp(`no answer from http://127\\.0\\.0\\.1:${ports[i]}\\S* \\(connection refused\\)`));
      expect(r.stderr).toContain(`hint: is the sandbox on 127.0.0.1:${ports[i]} running? Start it with \`segsync sandbox ${esp} --port ${ports[i]}\``);
    }

    const json = segsync(dir, ...store, 'pull', '--esp', 'mailchimp', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      esps: [{ esp: 'mailchimp', ok: false, error: { code: 'E_ESP_TRANSIENT', hint: expect.stringContaining(`127.0.0.1:${ports[1]}`) } }],
    });

    const status = segsync(dir, ...store, 'status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/hubspot {4}last pull \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(just now\) FAILED: hubspot: .*no answer from/);
    expect(JSON.parse(segsync(dir, ...store, 'status', '--json').stdout)).toMatchObject({ sync: { klaviyo: { pull: { ok: false } } } });
  }, 90_000);
});
