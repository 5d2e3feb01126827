#!/bin/sh
//usr/bin/env true; case "$GLIBC_TUNABLES" in *glibc.malloc.hugetlb=*) ;; *) export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1" ;; esac; exec node "$0" "$@"
// The two lines above are sh, and a comment to node: run as a command, this file starts node in the
// same process (exec: same PID, signals straight to node) with glibc's malloc asking for transparent
// huge pages, which Linux grants on request by default ("madvise"). Fresh typed arrays then cost a
// page fault per 2 MiB instead of per 4 KiB: the rules engine's load at a start (hundreds of MiB of
// columns) takes about half the time. A GLIBC_TUNABLES the user set is kept, and theirs wins for
// hugetlb; musl and macOS ignore it. `node bin/segsync.js` runs without it (docs/deploy.md).
// Runs the compiled CLI (bin/build.js: built at install, or here on first run and after any source
// edit), or the TypeScript sources through tsx when no build can be made, so a fresh clone needs no
// build step either way.
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { dirname } = require('node:path');
const vm = require('node:vm');
const { ensureBuilt } = require('./build');

// A closed pipe (`segsync status | head`) ends output quietly instead of crashing.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  else throw err;
});

/**
 * Loads the bundle with V8's code cache, kept per command beside it: node 20 has no compile cache of
 * its own (module.enableCompileCache is node 22), and compiling the bundle's functions is most of a
 * short command's start. V8 checks a cache against the source and ignores one that does not fit; a
 * missing or ignored cache is written when the command ends well.
 */
function loadBundle(file, argv) {
  const command = argv.slice(2).find((a) => /^[a-z]+$/.test(a)) ?? 'help';
  const cacheFile = `${file}.${command}.v8-${process.versions.v8}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // The build is ASCII (bin/build.js checks), and latin1 reads it ~20x faster than UTF-8.
  const source = readFileSync(file, 'latin1');
  const script = new vm.Script(wrap(source), { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', (code) => {
      // A failed run (a mistyped command, say) leaves no cache: only real commands get one.
      if (code !== 0) return;
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        // A read-only build folder: the next start compiles again, nothing else changes.
      }
    });
  }
  const module = { exports: {}, filename: file };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/** The compiled CLI, or undefined (with a warning when the build failed) to run the sources instead. */
function compiled() {
  try {
    return ensureBuilt();
  } catch (err) {
    process.stderr.write(`segsync: the build failed, running the TypeScript sources (${err && err.message ? err.message.split('\n')[0] : err})\n`);
    return undefined;
  }
}

async function start() {
  const cli = compiled();
  if (cli) return loadBundle(cli, process.argv).main(process.argv);
  require('tsx/cjs');
  // The commands' lazy `import()`s need tsx's ESM hooks too.
  await import('tsx/esm');
  return require('../src/cli/main.ts').main(process.argv);
}

start().catch((err) => {
  process.stderr.write(`segsync: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
