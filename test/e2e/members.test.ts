import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { csvCell, memberLine } from '../../src/cli/members';

const BIN = resolve(__dirname, '../../bin/segsync.js');
const TEMPLATE = resolve(__dirname, '../../templates/segsync.yaml');
const T = Date.UTC(2026, 10, 1, 9, 0, 0);

function segsync(dir: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--config', join(dir, 'segsync.yaml'), '--store', join(dir, 'store.db'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('segsync members', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-members-'));
    copyFileSync(TEMPLATE, join(dir, 'segsync.yaml'));
    const store = new SqliteStore({ path: join(dir, 'store.db') });
    const [a, b, c] = store.upsertContacts(
      ['ada@example.com', 'bob@example.com', 'odd@example.com'].map((email) => ({ email, properties: {}, source: 'local' as const, time: T })),
    );
    store.saveEvaluation(
      a!.contactId,
      [
        { contactId: a!.contactId, segment: 'vip', value: true, since: T },
        { contactId: a!.contactId, segment: 'rfm', value: '555', since: T + 1000 },
      ],
      undefined,
    );
    store.saveEvaluation(
      b!.contactId,
      [
        { contactId: b!.contactId, segment: 'vip', value: false, since: T },
        { contactId: b!.contactId, segment: 'rfm', value: '111', since: T },
      ],
      undefined,
    );
    store.saveEvaluation(
      c!.contactId,
      [
        { contactId: c!.contactId, segment: 'vip', value: true, since: T + 2000 },
        { contactId: c!.contactId, segment: 'rfm', value: '4,"5"', since: T },
      ],
      undefined,
    );
    store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists a flag segment's members as CSV with a header, quoting what needs it", () => {
    const r = segsync(dir, 'members', 'vip');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('email,since\nada@example.com,2026-11-01T09:00:00.000Z\nodd@example.com,2026-11-01T09:00:02.000Z\n');
    const values = segsync(dir, 'members', 'rfm');
    expect(values.stdout).toBe(
      'email,value,since\nada@example.com,555,2026-11-01T09:00:01.000Z\nbob@example.com,111,2026-11-01T09:00:00.000Z\nodd@example.com,"4,""5""",2026-11-01T09:00:00.000Z\n',
    );
  });

  it('lists a value segment as JSON lines with each value', () => {
    const r = segsync(dir, 'members', 'rfm', '--format', 'jsonl');
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      { email: 'ada@example.com', value: '555', since: '2026-11-01T09:00:01.000Z' },
      { email: 'bob@example.com', value: '111', since: '2026-11-01T09:00:00.000Z' },
      { email: 'odd@example.com', value: '4,"5"', since: '2026-11-01T09:00:00.000Z' },
    ]);
  });

  it('refuses an unknown segment (exit 2, naming the known ones) and one never computed', () => {
    const unknown = segsync(dir, 'members', 'vips');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown segment "vips"');
    expect(unknown.stderr).toMatch(/hint: segments in .*segsync\.yaml: cart_abandoner, /);
    const never = segsync(dir, 'members', 'loyal');
    expect(never.code).toBe(2);
    expect(never.stderr).toContain('segment "loyal" has not been computed yet');
  });

  it('writes cells and lines the way spreadsheets and JSON tools read them', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    expect(memberLine({ email: 'x@y.z', value: 12.5, since: T }, 'csv', true)).toBe('x@y.z,12.5,2026-11-01T09:00:00.000Z');
  });
});
