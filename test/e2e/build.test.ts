/**
 * bin/build.js: the compiled build bin/segsync.js runs. A source edit always gets a build of its own
 * (never the old one), processes that build at once all end with the same complete build, and where
 * no build can be made bin/segsync.js runs the sources.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BUILD = resolve(__dirname, '../../bin/build.js');
const BIN = resolve(__dirname, '../../bin/segsync.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain-JS bin module, typed here by its use
const { ensureBuilt } = require(BUILD) as { ensureBuilt(root: string): string | undefined };

/** A project in segsync's shape, small enough to build in a moment: its CLI prints one word. */
function project(): string {
  const root = mkdtempSync(join(tmpdir(), 'segsync-build-'));
  mkdirSync(join(root, 'src/cli'), { recursive: true });
  mkdirSync(join(root, 'connectors'));
  writeFileSync(join(root, 'package.json'), '{ "name": "mini", "version": "1.0.0", "dependencies": {} }\n');
  writeFileSync(join(root, 'src/cli/word.ts'), "export const word: string = 'one';\n");
  writeFileSync(join(root, 'src/cli/main.ts'), "import { word } from './word';\nexport function main(): void {\n  process.stdout.write(`${word}\\n`);\n}\n");
  return root;
}

/** What the built CLI prints. */
function runBuilt(cli: string): string {
  return execFileSync(process.execPath, ['-e', `require(${JSON.stringify(cli)}).main()`], { encoding: 'utf8' }).trim();
}

describe('bin/build.js', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  it('builds once, then reuses the build while no source changes', () => {
    const root = project();
    roots.push(root);
    const cli = ensureBuilt(root)!;
    expect(cli).toMatch(/dist[/\\][0-9a-f]{16}[/\\]cli\.js$/);
    expect(runBuilt(cli)).toBe('one');
    const built = statSync(cli).mtimeMs;
    expect(ensureBuilt(root)).toBe(cli);
    expect(statSync(cli).mtimeMs).toBe(built);
  });

  it('never runs an old build after a source edit, even one that keeps the size and sets the old mtime back', () => {
    const root = project();
    roots.push(root);
    const word = join(root, 'src/cli/word.ts');
    // A whole second, so that setting it back restores the very same mtime (as `cp -p` or a restore can).
    const then = 1_700_000_000;
    utimesSync(word, then, then);
    const first = ensureBuilt(root)!;
    const before = statSync(word);
    writeFileSync(word, "export const word: string = 'two';\n");
    utimesSync(word, then, then);
    expect(statSync(word).size).toBe(before.size);
    expect(statSync(word).mtimeMs).toBe(before.mtimeMs);
    const second = ensureBuilt(root)!;
    expect(second).not.toBe(first);
    expect(runBuilt(second)).toBe('two');
    writeFileSync(join(root, 'src/cli/extra.ts'), 'export const extra = 1;\n');
    expect(ensureBuilt(root)).not.toBe(second);
  });

  it('runs the TypeScript sources through tsx when no build can be made, lazy commands included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'segsync-nobuild-'));
    roots.push(dir);
    // Stands in for a machine without esbuild or with a read-only install: ensureBuilt finds nothing.
    const stub = join(dir, 'no-build.js');
    writeFileSync(
      stub,
      `require.cache[${JSON.stringify(BUILD)}] = { id: ${JSON.stringify(BUILD)}, filename: ${JSON.stringify(BUILD)}, loaded: true, exports: { ensureBuilt: () => undefined } };\n`,
    );
    writeFileSync(join(dir, 'segsync.yaml'), 'version: 1\nsegments:\n  buyer:\n    rule: count("Placed Order", 30d) >= 1\n');
    writeFileSync(join(dir, 'contacts.jsonl'), '{"email":"ada@example.com"}\n');
    const segsync = (...args: string[]): string =>
      execFileSync(process.execPath, ['--require', stub, BIN, '--config', join(dir, 'segsync.yaml'), '--store', join(dir, 'store.db'), ...args], {
        encoding: 'utf8',
        timeout: 120_000,
      });
    expect(segsync('import', 'contacts', join(dir, 'contacts.jsonl'))).toMatch(/1 imported/);
    expect(segsync('segments', '--contact', 'ada@example.com')).toMatch(/buyer\s+false/);
  });

  it('leaves one complete build when several processes build at once', async () => {
    const root = project();
    roots.push(root);
    const build = (): Promise<string> =>
      new Promise((done, fail) => {
        const child = spawn(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(BUILD)}).ensureBuilt(${JSON.stringify(root)}))`]);
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', fail);
        child.on('exit', (code) => (code === 0 ? done(out) : fail(new Error(`build exited ${code}`))));
      });
    const paths = await Promise.all([build(), build(), build()]);
    expect(new Set(paths).size).toBe(1);
    expect(runBuilt(paths[0]!)).toBe('one');
  });
});
