/**
 * A short command loads only what it uses: `--help`, `status` and `segments --contact` start without
 * any vendor SDK, the daemon's server, the template renderers, the browser or the demo's generator
 * (their cost was most of every command's start). Run as a user runs them: bin/segsync.js, the build.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(__dirname, '../../bin/segsync.js');
const HEAVY = [
  '@hubspot/api-client',
  '@mailchimp/mailchimp_marketing',
  'klaviyo-api',
  'fastify',
  'mjml',
  'playwright-core',
  'liquidjs',
  'handlebars',
  'nunjucks',
  'juice',
  'html-to-text',
  '@faker-js/faker',
  'prom-client',
  'csv-parse',
];

describe('segsync start', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let hook: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-start-'));
    hook = join(dir, 'record-packages.js');
    // Records every package the process requires, by name, into the file $RECORD names.
    writeFileSync(
      hook,
      `const Module = require('node:module'); const seen = new Set(); const load = Module._load;
Module._load = function (request, ...rest) { if (!/^(node:|\\.|\\/)/.test(request)) seen.add(request.startsWith('@') ? request.split('/').slice(0, 2).join('/') : request.split('/')[0]); return load.call(this, request, ...rest); };
process.on('exit', () => require('node:fs').writeFileSync(process.env.RECORD, [...seen].join('\\n')));\n`,
    );
    writeFileSync(join(dir, 'segsync.yaml'), 'version: 1\nsegments:\n  buyer:\n    rule: count("Placed Order", 30d) >= 1\n');
    writeFileSync(join(dir, 'contacts.jsonl'), '{"email":"ada@example.com"}\n');
    env = { ...process.env, SEGSYNC_CONFIG: join(dir, 'segsync.yaml'), SEGSYNC_STORE: join(dir, 'store.db'), SEGSYNC_LOG_LEVEL: '' };
    const imported = spawnSync(process.execPath, [BIN, 'import', 'contacts', join(dir, 'contacts.jsonl')], { env, encoding: 'utf8', timeout: 120_000 });
    expect(imported.stderr).toBe('');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function packagesLoadedBy(args: string[]): { stdout: string; packages: string[] } {
    const record = join(dir, `record-${args[0]}.txt`);
    const r = spawnSync(process.execPath, ['--require', hook, BIN, ...args], { env: { ...env, RECORD: record }, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    return { stdout: r.stdout, packages: readFileSync(record, 'utf8').split('\n').filter(Boolean) };
  }

  // The sh prelude of bin/segsync.js: run as a command (npm's bin link), the file execs node on itself.
  it('run as a command, it stays one process and asks glibc for huge pages, keeping the tunables the user set', () => {
    const probe = join(dir, 'probe.js');
    writeFileSync(
      probe,
      `require('node:fs').writeFileSync(process.env.PROBE, JSON.stringify({ pid: process.pid, tunables: process.env.GLIBC_TUNABLES ?? null }));\n`,
    );
    const run = (tunables: string | undefined): { pid: number; tunables: string | null; childPid: number } => {
      const out = join(dir, 'probe.json');
      const base: NodeJS.ProcessEnv = { ...env, PROBE: out, NODE_OPTIONS: `--require ${probe}` };
      delete base.GLIBC_TUNABLES;
      const r = spawnSync(BIN, ['--version'], {
        env: tunables === undefined ? base : { ...base, GLIBC_TUNABLES: tunables },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
      return { ...(JSON.parse(readFileSync(out, 'utf8')) as { pid: number; tunables: string | null }), childPid: r.pid! };
    };
    const plain = run(undefined);
    expect(plain.pid).toBe(plain.childPid);
    expect(plain.tunables).toBe('glibc.malloc.hugetlb=1');
    expect(run('glibc.malloc.check=0').tunables).toBe('glibc.malloc.check=0:glibc.malloc.hugetlb=1');
    expect(run('glibc.malloc.hugetlb=0').tunables).toBe('glibc.malloc.hugetlb=0');
  });

  it('--help loads no package from node_modules at all', () => {
    const { stdout, packages } = packagesLoadedBy(['--help']);
    expect(stdout).toContain('segments');
    expect(packages).toEqual([]);
  });

  it.each([[['status']], [['segments', '--contact', 'ada@example.com']]])('%j loads the store and config, nothing heavy', (args) => {
    const { stdout, packages } = packagesLoadedBy(args);
    expect(stdout).toMatch(/contacts\s+1|ada@example\.com/);
    expect(packages).toContain('better-sqlite3');
    expect(packages.filter((p) => HEAVY.includes(p))).toEqual([]);
  });
});
