// Worker entry: registers tsx so the TypeScript parse loop runs in a worker thread too.
require('tsx/cjs');
require('./parse-worker-main.ts');
