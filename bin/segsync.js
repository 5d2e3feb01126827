#!/usr/bin/env node
// Runs the TypeScript sources through tsx so a fresh clone needs no build step.
require('tsx/cjs');
// A closed pipe (`segsync status | head`) ends output quietly instead of crashing.
process.stdout.on('error', (err) => { if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw err; });
require('../src/cli/main.ts').main(process.argv);
