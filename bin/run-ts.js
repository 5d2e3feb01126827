#!/usr/bin/env node
// Runs a TypeScript module's exported `run()` through tsx: `node bin/run-ts.js FILE.ts [args]`.
require('tsx/cjs');
const path = require('node:path');
const file = process.argv[2];
if (!file) {
  console.error('usage: node bin/run-ts.js FILE.ts [args]');
  process.exit(2);
}
process.argv.splice(2, 1);
const mod = require(path.resolve(file));
if (typeof mod.run !== 'function') {
  console.error(`${file} exports no run()`);
  process.exit(2);
}
Promise.resolve(mod.run()).catch((err) => {
  console.error(err);
  process.exit(1);
});
