#!/usr/bin/env node
// Runs one TypeScript entry file (benchmarks, scripts) through tsx: `node bin/run-ts.js FILE [args]`.
require('tsx/cjs');
const path = require('node:path');
const file = process.argv[2];
if (!file) { console.error('usage: node bin/run-ts.js FILE.ts [args]'); process.exit(2); }
process.argv.splice(2, 1);
require(path.resolve(file));
