// Worker entry: registers tsx so the TypeScript sweep loop runs in a worker thread too.
require('tsx/cjs');
require('./sweep-worker-main.ts');
