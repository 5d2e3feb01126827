// Worker entry: registers tsx so the TypeScript range reader runs in a worker thread too.
require('tsx/cjs');
require('./range-reader-worker-main.ts');
