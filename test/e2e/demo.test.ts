import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(__dirname, '../../bin/segsync.js');

describe('segsync demo', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-demo-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the sandboxes, the daemon and the shoppers, ends with every ESP carrying what segsync computed, writes a report, exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--dir', join(dir, 'demo'), '--duration', '4', '--contacts', '80'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', SEGSYNC_CONFIG: '', SEGSYNC_STORE: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    expect(stdout).toContain('80 contacts in the local store');
    expect(stdout).toMatch(/\+ cart_abandoner\s+\S+@example\.com\s+on in HubSpot, Mailchimp, Klaviyo/);
    // The closing table: each pushed segment, segsync's members, then each ESP's count (— where not pushed).
    const table = stdout.slice(stdout.indexOf('Pushed segments'));
    const rows = table.split('\n').slice(2).filter((l) => /^ {2}[a-z_]+\s+\d/.test(l)).map((l) => l.trim().split(/\s+/));
    expect(rows.map((r) => r[0])).toEqual(expect.arrayContaining(['cart_abandoner', 'browse_abandoner', 'vip', 'lifecycle_stage', 'rfm']));
    for (const [segment, local, ...esps] of rows) {
      for (const n of esps) if (n !== '—') expect(`${segment!}: ${n}`).toBe(`${segment!}: ${local!}`);
    }
    expect(table).toContain('0 operations still queued');

    const report = /Preview report of \d+ example templates over demo contacts: (\S+)/.exec(stdout)?.[1];
    expect(report && existsSync(report)).toBe(true);
    expect(readFileSync(report!, 'utf8')).toContain('cart-abandonment');
  }, 90_000);
});
