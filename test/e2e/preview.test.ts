import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import { buildProgram, exitCodeFor } from '../../src/cli/main';
import { runPreview, writeReport } from '../../src/preview/preview';
import { servePreview } from '../../src/preview/serve';
import { openStore } from '../../src/store/sqlite/sqlite-store';

const TEMPLATES = join(__dirname, '..', '..', 'templates');

/** Runs the CLI in-process; returns exit code and stdout. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  const previous = process.exitCode;
  process.exitCode = undefined;
  let code = 0;
  try {
    await buildProgram().parseAsync(['node', 'segsync', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    code = exitCodeFor(err);
  } finally {
    write.mockRestore();
    process.exitCode = previous;
  }
  return { code, out: chunks.join('') };
}

describe('segsync preview (CLI)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-preview-e2e-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the report for an example template and passes --check', async () => {
    const out = join(dir, 'report');
    const r = await cli(['preview', join(TEMPLATES, 'cart-abandonment', 'cart-abandonment.klaviyo.html'), '--out', out, '--check']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/branches reached: 8\/8; warnings: 0/);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { scenarios: { name: string; subject: string }[]; blocks: unknown[] };
    expect(json.scenarios.map((s) => s.name)).toEqual([
      'VIP with a full cart',
      'regular over the free-shipping threshold',
      'small cart, no first name',
      '(empty profile)',
    ]);
    expect(json.scenarios[0]!.subject).toBe('Ada, your cart is waiting');
    expect(readdirSync(join(out, 'emails'))).toHaveLength(8);
  });

  it('exits 1 with --check when there are warnings, 0 without --check', async () => {
    const t = join(dir, 'bad.liquid');
    writeFileSync(t, 'Hi {{ customer.first_name }},\n{% if customer.vip %}VIP{% endif %}');
    expect((await cli(['preview', t, '--cover', '--out', join(dir, 'o1'), '--check'])).code).toBe(1);
    const r = await cli(['preview', t, '--cover', '--out', join(dir, 'o2')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/no-fallback line 1/);
  });

  it('fails with the template line when the template does not parse', async () => {
    const t = join(dir, 'broken.mc.html');
    writeFileSync(t, 'Hi\n*|IF:FNAME|*never closed');
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const r = await cli(['preview', t, '--out', join(dir, 'o')]);
      expect(r.code).toBe(1);
    } finally {
      stderr.mockRestore();
    }
    expect(() => runPreview(t)).toThrow(/never closed/);
  });

  it('renders contacts sampled from the store with --sample', async () => {
    const db = join(dir, 's.db');
    const store = openStore(db);
    store.upsertContacts([
      { email: 'ada@example.com', properties: { first_name: 'Ada', loyalty_points: 1500 }, tags: ['vip'], source: 'local' },
      { email: 'bob@example.com', properties: { first_name: 'Bob', loyalty_points: 10 }, source: 'local' },
    ]);
    store.close();
    const out = join(dir, 'sample');
    const r = await cli(['--store', db, '--config', join(dir, 'none.yaml'), 'preview', join(TEMPLATES, 'vip', 'vip.liquid'), '--sample', '5', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/3 scenarios from 5 contacts sampled from the store/);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { scenarios: { name: string; subject: string }[] };
    expect(json.scenarios.map((s) => [s.name, s.subject])).toEqual([
      ['ada@example.com', 'Your Gold rewards are here'],
      ['bob@example.com', 'Your member rewards are here'],
      ['(empty profile)', 'Your member rewards are here'],
    ]);
  });

  it('previews a segment as its members see it with --segment NAME --sample N', async () => {
    const db = join(dir, 'seg.db');
    const store = openStore(db);
    const [ada, bob, cy] = store.upsertContacts([
      { email: 'ada@example.com', properties: { first_name: 'Ada', loyalty_points: 1500 }, tags: ['vip'], source: 'local' },
      { email: 'bob@example.com', properties: { first_name: 'Bob', loyalty_points: 10 }, source: 'local' },
      { email: 'cy@example.com', properties: { first_name: 'Cy', loyalty_points: 900 }, source: 'local' },
    ]);
    store.appendEvents([
      { email: 'cy@example.com', name: 'Placed Order', time: Date.parse('2026-04-01T10:00:00Z'), properties: { total: 42 }, source: 'local' },
    ]);
    store.saveEvaluation(ada!.contactId, [{ contactId: ada!.contactId, segment: 'big_spender', value: 'gold', since: 0 }], undefined);
    store.saveEvaluation(bob!.contactId, [{ contactId: bob!.contactId, segment: 'big_spender', value: false, since: 0 }], undefined);
    store.saveEvaluation(cy!.contactId, [{ contactId: cy!.contactId, segment: 'big_spender', value: true, since: 0 }], undefined);
    store.close();
    const out = join(dir, 'segment');
    const base = ['--store', db, '--config', join(dir, 'none.yaml'), 'preview', join(TEMPLATES, 'vip', 'vip.liquid')];
    const r = await cli([...base, '--segment', 'big_spender', '--sample', '5', '--no-empty', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/2 scenarios from 2 members of segment big_spender sampled from the store/);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { scenarios: { name: string; origin: string }[] };
    expect(json.scenarios.map((s) => [s.name, s.origin])).toEqual([
      ['ada@example.com', 'store'],
      ['cy@example.com', 'store'],
    ]);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('member of big_spender (&quot;gold&quot;)');
    expect((await cli([...base, '--segment', 'nobody', '--sample', '5', '--out', out])).code).toBe(2);
    expect((await cli([...base, '--segment', 'big_spender', '--out', out])).code).toBe(2);
  });

  it('previews every template under a folder, reporting a broken one without stopping the others', async () => {
    const src = join(dir, 'src');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(src, 'nested'), { recursive: true });
    writeFileSync(join(src, 'ok.liquid'), '<p>Hi {{ first_name | default: "there" }}</p><a href="https://example.com/unsubscribe">Unsubscribe</a>');
    writeFileSync(join(src, 'nested', 'broken.mc.html'), '*|IF:FNAME|*never closed');
    writeFileSync(join(src, 'notes.txt'), 'not a template');
    const out = join(dir, 'all');
    const r = await cli(['preview', src, '--cover', '--out', out, '--junit', join(dir, 'junit.xml')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ok\.liquid: 0\/0 branches, 0 warnings/);
    expect(r.out).toMatch(/nested\/broken\.mc\.html: ERROR .*broken\.mc\.html:1:1: \*\|IF:FNAME\|\* opened at line 1 is never closed/);
    const index = readFileSync(join(out, 'index.html'), 'utf8');
    expect(index).toContain('href="ok.liquid/index.html"');
    expect(existsSync(join(out, 'ok.liquid', 'index.html'))).toBe(true);
    const junit = readFileSync(join(dir, 'junit.xml'), 'utf8');
    expect(junit).toContain('<testsuite name="ok.liquid" tests="2" failures="0">');
    expect(junit).toMatch(/<testsuite name="nested\/broken\.mc\.html" tests="1" failures="1">.*never closed/);
  });

  it('refuses two scenario sources at once', async () => {
    const r = await cli([
      'preview',
      join(TEMPLATES, 'vip', 'vip.liquid'),
      '--cover',
      '--scenarios',
      join(TEMPLATES, 'vip', 'scenarios.yaml'),
      '--out',
      join(dir, 'o'),
    ]);
    expect(r.code).toBe(2);
  });
});

describe('preview --serve', () => {
  it('serves the report on 127.0.0.1 and rebuilds it when the template changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segsync-serve-'));
    const t = join(dir, 'live.liquid');
    writeFileSync(t, '<p>version one</p><a href="https://example.com/unsubscribe">Unsubscribe</a>');
    const server = await servePreview({
      outDir: join(dir, 'out'),
      watchFiles: [t],
      debounceMs: 20,
      build: (live) => writeReport(runPreview(t, { cover: true }), join(dir, 'out'), { liveReloadScript: live }).html,
    });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const first = await (await fetch(server.url)).text();
      expect(first).toContain('version one');
      expect(await (await fetch(`${server.url}__version`)).text()).toBe('1');
      writeFileSync(t, '<p>version two</p><a href="https://example.com/unsubscribe">Unsubscribe</a>');
      for (let i = 0; i < 100 && server.builds() < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(server.builds()).toBeGreaterThanOrEqual(2);
      expect(await (await fetch(server.url)).text()).toContain('version two');
      writeFileSync(t, '{% if x %}broken');
      for (let i = 0; i < 100 && server.builds() < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await (await fetch(server.url)).text()).toMatch(/does not render[\s\S]*live\.liquid:1/);
      expect((await fetch(`${server.url}..%2f..%2fetc%2fpasswd`)).status).toBe(403);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A raw GET (fetch would normalise the URL and refuses to set Host). */
function rawGet(url: string, path: string, host: string): Promise<number> {
  const { port } = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('preview --serve hardening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'segsync-serve-hard-'));
  const t = join(dir, 'live.liquid');
  writeFileSync(t, '<p>secret report</p>');
  const start = (allowedHosts?: string[]): ReturnType<typeof servePreview> =>
    servePreview({
      outDir: join(dir, 'out'),
      watchFiles: [t],
      allowedHosts,
      build: (live) => writeReport(runPreview(t, { cover: true }), join(dir, 'out'), { liveReloadScript: live }).html,
    });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers 400 to a malformed URL and keeps serving', async () => {
    const server = await start();
    try {
      const host = new URL(server.url).host;
      expect(await rawGet(server.url, '/%E0%A4%A', host)).toBe(400);
      expect(await rawGet(server.url, '/emails/%', host)).toBe(400);
      expect(await rawGet(server.url, '/', host)).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('refuses a Host that is not a loopback name (DNS rebinding), unless configured', async () => {
    const server = await start(['devbox.internal']);
    try {
      const port = new URL(server.url).port;
      expect(await rawGet(server.url, '/', `attacker.example:${port}`)).toBe(403);
      expect(await rawGet(server.url, '/report.json', 'attacker.example')).toBe(403);
      expect(await rawGet(server.url, '/', `127.0.0.1.attacker.example:${port}`)).toBe(403);
      for (const ok of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST.:${port}`, `devbox.internal:${port}`])
        expect([ok, await rawGet(server.url, '/', ok)]).toEqual([ok, 200]);
    } finally {
      await server.close();
    }
  });
});
