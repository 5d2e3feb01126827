/**
 * Telling a daemon that announced itself in the store from a process that only reuses its pid
 * (src/store/process-alive.ts): a false "another daemon runs" would keep the daemon from starting.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { maybeSegsync, processRuns } from '../../../src/store/process-alive';

describe('process liveness', () => {
  it('knows a running process from one that exited', () => {
    expect(processRuns(process.pid)).toBe(true);
    expect(processRuns(spawnSync(process.execPath, ['-e', '0']).pid!)).toBe(false);
    expect(processRuns(0)).toBe(false);
  });

  it('takes a running program whose command line does not name segsync for no segsync (a pid reused after a crash)', async () => {
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    const named = spawn(process.execPath, ['-e', 'setTimeout(() => 0, 30000)', 'segsync', 'daemon'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      // Without /proc the command line cannot be read, and a running pid counts as segsync.
      expect(maybeSegsync(other.pid!)).toBe(!existsSync('/proc/self/cmdline'));
      expect(maybeSegsync(named.pid!)).toBe(true);
    } finally {
      other.kill();
      named.kill();
    }
  });
});
