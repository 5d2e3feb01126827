import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { systemClock } from '../../src/model/clock';
import { GONE_ON_WRITE, unlink } from '../../src/sync/links';

const BIN = resolve(__dirname, '../../bin/segsync.js');

function segsync(cwd: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('segsync CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('init writes the example config and templates, and refuses to overwrite them', () => {
    const first = segsync(dir, 'init');
    expect(first.code).toBe(0);
    expect(existsSync(join(dir, 'segsync.yaml'))).toBe(true);
    expect(readFileSync(join(dir, 'segsync.yaml'), 'utf8')).toMatch(/^version: 1$/m);
    expect(readFileSync(join(dir, 'segsync.yaml'), 'utf8')).toMatch(
      /^daemon:\n {2}host: 127\.0\.0\.1 .*\n {2}port: 8787\n {2}writeKey: \$\{SEGSYNC_WRITE_KEY\} .*\n {2}serverKey: \$\{SEGSYNC_SERVER_KEY\}/m,
    );
    const again = segsync(dir, 'init');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not overwriting existing files: segsync\.yaml/);
  });

  it('imports events, exits 1 when lines were rejected, and status counts what was kept', () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, '{"email":"a@x.com","name":"Viewed Product","time":"2026-04-01T10:00:00Z"}\n{"email":"a@x.com"}\n');
    const env = ['--store', join(dir, 'store.db')];
    const imp = segsync(dir, ...env, '--config', join(dir, 'none.yaml'), 'import', 'events', file);
    expect(imp.code).toBe(1);
    expect(imp.stdout).toMatch(/2 read, 1 imported/);
    expect(imp.stderr).toContain(`${file}:2: missing event name`);
    const rejects = /rejected records, as they were: (\S+)/.exec(imp.stderr)?.[1];
    expect(readFileSync(rejects!, 'utf8')).toBe('{"email":"a@x.com"}\n');
    const again = segsync(dir, ...env, '--config', join(dir, 'none.yaml'), 'import', 'events', file, '--json');
    expect(again.code).toBe(1);
    const summary = JSON.parse(again.stdout) as {
      read: number;
      imported: number;
      duplicates: number;
      rejected: number;
      rejectsFile: string;
      errorsFile: string;
    };
    expect(summary).toMatchObject({ read: 2, imported: 0, duplicates: 1, rejected: 1 });
    expect(summary.rejectsFile).not.toBe(rejects);
    expect(readFileSync(summary.errorsFile, 'utf8')).toMatch(/:1 \(events\.jsonl:2\): missing event name/);
    const status = segsync(dir, ...env, '--config', join(dir, 'none.yaml'), 'status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ contacts: 1, events: 1 });
  });

  it('status counts anonymous visitors apart from contacts (kept locally, never pushed)', () => {
    const db = join(dir, 'anonymous.db');
    const store = new SqliteStore({ path: db });
    const profile = store.identities.createProfile(Date.now());
    store.identities.link({ kind: 'anonymousId', value: 'anon-1' }, { profileId: profile }, Date.now());
    store.identities.appendProfileEvents(
      profile,
      [{ eventId: 'p1', name: 'Viewed Page', time: Date.now(), propertiesJson: '{}', source: 'track' }],
      Date.now(),
    );
    store.close();
    const text = segsync(dir, '--config', join(dir, 'none.yaml'), '--store', db, 'status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^anonymous 1 visitors, 1 events \(not pushed until they identify\)$/m);
    const json = JSON.parse(segsync(dir, '--config', join(dir, 'none.yaml'), '--store', db, 'status', '--json').stdout) as {
      contacts: number;
      anonymous: unknown;
    };
    expect(json).toMatchObject({ contacts: 0, anonymous: { profiles: 1, events: 1 } });
  });

  it('status counts the contacts unlinked from each ESP, per reason', () => {
    const db = join(dir, 'unlinked.db');
    const store = new SqliteStore({ path: db });
    const ids = store.upsertContacts(['a@x.com', 'b@x.com', 'c@x.com'].map((email) => ({ email, properties: {}, source: 'local' }))).map((c) => c.contactId);
    ids.forEach((id, i) => unlink(store, systemClock, id, 'klaviyo', i === 0 ? 'archived or deleted' : GONE_ON_WRITE, Date.now(), `k${i}`));
    store.close();
    const text = segsync(dir, '--config', join(dir, 'none.yaml'), '--store', db, 'status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^unlinked {2}\(records archived or deleted there: not written; `segsync explain EMAIL FIELD` shows why\)\n {2}klaviyo {4}3 \(1 archived or deleted, 2 not found there\)$/m,
    );
    const json = JSON.parse(segsync(dir, '--config', join(dir, 'none.yaml'), '--store', db, 'status', '--json').stdout) as { unlinked: unknown };
    expect(json.unlinked).toEqual({ klaviyo: { 'archived or deleted': 1, 'not found there': 2 } });
  });

  it('exits 2 on bad usage and on an invalid config, naming the line', () => {
    expect(segsync(dir, 'frobnicate').code).toBe(2);
    expect(segsync(dir, 'import', 'widgets', 'x.jsonl').code).toBe(2);
    const batch = segsync(dir, 'import', 'events', 'x.jsonl', '--batch-size', 'lots');
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain('--batch-size lots is not a positive whole number');
    writeFileSync(join(dir, 'bad.yaml'), 'version: 1\nconectors: {}\n');
    const bad = segsync(dir, '--config', join(dir, 'bad.yaml'), 'status');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad.yaml:2:1: unknown key "conectors" in the top level');
  });

  it("demo refuses a folder it did not make (exit 2) and leaves the user's files alone", () => {
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'segsync.yaml'), 'version: 1\n');
    writeFileSync(join(project, 'notes.md'), 'mine');
    const r = segsync(project, 'demo', '--dir', '.', '--duration', '1', '--contacts', '5');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('holds files that a demo did not make (notes.md, segsync.yaml)');
    expect(readFileSync(join(project, 'notes.md'), 'utf8')).toBe('mine');
    expect(readFileSync(join(project, 'segsync.yaml'), 'utf8')).toBe('version: 1\n');
  });

  it('has --help on every command', () => {
    const top = segsync(dir, '--help');
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const c of commands) {
      const r = segsync(dir, c, '--help');
      expect({ c, code: r.code }).toEqual({ c, code: 0 });
      expect(r.stdout).toContain(`Usage: segsync ${c}`);
    }
  });
});
