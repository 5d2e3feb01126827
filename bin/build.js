#!/usr/bin/env node
// The compiled build of segsync's TypeScript: one CommonJS bundle for the CLI (dist/<key>/cli.js)
// and one per worker thread, made with esbuild (which tsx already ships). The key is a hash of every
// source file's path, size, inode and modification and change times, so an edited source never runs
// from an old build: it gets a new key, hence a new build. A build is written to a temporary folder
// and renamed into place, so a process that finds dist/<key>/ finds it complete, and concurrent first
// runs are safe.
// `node bin/build.js` (npm run build, and npm's prepare at install) builds ahead; bin/segsync.js
// builds on first run when that was not done.
'use strict';
const { createHash } = require('node:crypto');
const { isAscii } = require('node:buffer');
const { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { basename, join, relative, sep } = require('node:path');

const ROOT = join(__dirname, '..');
const SOURCE_DIRS = ['src', 'connectors'];
// Besides the sources: what changes the output (the inlined package.json, compiler settings; and this file).
const INPUT_FILES = ['package.json', 'tsconfig.json'];
// Pure-JS packages most commands need at start, inlined into the bundle: one file loads faster than
// their hundreds (yaml, zod, pino with its dependencies; 13 % off `segments --contact`) and an
// ESM-only one (cel-js) needs no ESM loader. All other packages stay in node_modules: native ones
// (better-sqlite3), and big ones a command loads only when it runs (SDKs, fastify, mjml). pino is
// bundled without its transports (worker threads found by path), which segsync does not use.
const INLINED = new Set(['commander', 'yaml', 'zod', '@marcbachmann/cel-js', 'pino']);
// A worker's TypeScript entry `NAME-worker-main.ts` is built to `<build>/NAME-worker.js`, the same name
// as the tsx shim beside the source, so `join(__dirname, 'NAME-worker.js')` finds the right one both ways.
const WORKER_ENTRY = /-worker-main\.ts$/;
// Other builds are removed once an hour old, the two newest of them excepted: a process started from
// one (an import starting its workers, a daemon writing its code cache) keeps finding its files.
const KEEP_OLD_BUILDS_MS = 3_600_000;
const KEEP_OLD_BUILDS = 2;

/** The source files, relative to the root, sorted. A walk by hand: readdir's `recursive` is ~10x slower on node 20. */
function sourceFiles(root) {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  return files.concat(INPUT_FILES).sort();
}

/** One file's part of the key: any write changes it, even one that keeps the size and sets the old mtime back (ctime). */
function stamp(path) {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? `${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}` : 'absent';
}

/** The build key: a hash of each input's path, size, inode and change times (a stat each, no reads). */
function buildKey(root = ROOT) {
  const hash = createHash('sha256').update(`${stamp(__filename)}\n`);
  for (const file of sourceFiles(root)) hash.update(`${file}\0${stamp(join(root, file))}\n`);
  return hash.digest('hex').slice(0, 16);
}

/** esbuild, hoisted or as tsx's own dependency; undefined when neither can be loaded. */
function loadEsbuild() {
  try {
    return require('esbuild');
  } catch {
    try {
      return createRequire(require.resolve('tsx/package.json'))('esbuild');
    } catch {
      return undefined;
    }
  }
}

/** Every declared package but the inlined ones, with its subpaths: esbuild leaves these to require(). */
function externalPackages(root) {
  const pkg = require(join(root, 'package.json'));
  const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((name) => !INLINED.has(name));
  return names.flatMap((name) => [name, `${name}/*`]);
}

function entryPoints(root) {
  const entries = [{ in: join(root, 'src/cli/main.ts'), out: 'cli' }];
  for (const file of sourceFiles(root)) {
    if (WORKER_ENTRY.test(file)) entries.push({ in: join(root, file), out: basename(file).replace(WORKER_ENTRY, '-worker') });
  }
  return entries;
}

/**
 * Rewrites what non-ASCII characters esbuild leaves (in regular expression literals: `charset: 'ascii'`
 * escapes strings and identifiers only) as \u escapes, which mean the same there, in strings and in
 * identifiers; the minified bundle has no comments. Then checks the file is ASCII.
 */
function escapeNonAscii(file) {
  const bytes = readFileSync(file);
  if (isAscii(bytes)) return;
  const text = bytes.toString('utf8').replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (!isAscii(Buffer.from(text, 'utf8'))) throw new Error(`segsync build: ${file} is not ASCII after escaping`);
  writeFileSync(file, text);
}

/** Removes other builds but the newest few once they are old, and temporary folders a crashed build left. */
function pruneOldBuilds(dist, current) {
  const now = Date.now();
  const others = [];
  for (const name of readdirSync(dist)) {
    if (name === current || !(/^[0-9a-f]{16}$/.test(name) || name.startsWith('.tmp-'))) continue;
    try {
      others.push({ name, mtimeMs: statSync(join(dist, name)).mtimeMs });
    } catch {
      // Another process removed it first: nothing to do.
    }
  }
  others.sort((a, b) => b.mtimeMs - a.mtimeMs);
  let kept = 0;
  for (const { name, mtimeMs } of others) {
    if (!name.startsWith('.tmp-') && kept < KEEP_OLD_BUILDS) {
      kept++;
      continue;
    }
    if (now - mtimeMs > KEEP_OLD_BUILDS_MS) rmSync(join(dist, name), { recursive: true, force: true });
  }
}

/**
 * The path of the compiled CLI for the sources under `root` as they are now, built first when missing;
 * undefined when it cannot be built here (no esbuild, or a read-only install), so the caller runs the
 * sources.
 */
function ensureBuilt(root = ROOT) {
  const dist = join(root, 'dist');
  const key = buildKey(root);
  const dir = join(dist, key);
  const cli = join(dir, 'cli.js');
  if (existsSync(cli)) return cli;
  const esbuild = loadEsbuild();
  if (!esbuild) return undefined;
  const tmp = join(dist, `.tmp-${key}-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(tmp, { recursive: true });
  } catch {
    return undefined;
  }
  try {
    esbuild.buildSync({
      entryPoints: entryPoints(root),
      outdir: tmp,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      // Error classes report their own names (`this.name = new.target.name`), whatever the bundle renames.
      keepNames: true,
      sourcemap: true,
      // No comments or indentation, every character ASCII: bin/segsync.js reads the bundle as latin1,
      // ~20x faster than decoding UTF-8 (1 ms against 15-25 ms for 2.7 MB, a tenth of a start).
      minifyWhitespace: true,
      legalComments: 'none',
      charset: 'ascii',
      external: externalPackages(root),
      // import() of a package becomes require(): bin/segsync.js runs the bundle as a vm.Script, which
      // has no ESM loader of its own.
      supported: { 'dynamic-import': false },
      logLevel: 'error',
    });
    for (const file of readdirSync(tmp)) if (file.endsWith('.js')) escapeNonAscii(join(tmp, file));
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another process finished the same build first: use it.
    if (existsSync(cli)) return cli;
    throw err;
  }
  pruneOldBuilds(dist, key);
  return cli;
}

module.exports = { ensureBuilt, buildKey };

if (require.main === module) {
  const started = Date.now();
  const cli = ensureBuilt();
  // Not an error: bin/segsync.js runs the sources then, so an install (npm's prepare) still succeeds.
  if (!cli) console.error('segsync build: esbuild is not installed or dist/ is not writable; bin/segsync.js will run the TypeScript sources through tsx');
  else {
    console.log(`segsync build: ${relative(process.cwd(), cli).split(sep).join('/')} (${Date.now() - started} ms)`);
  }
}
