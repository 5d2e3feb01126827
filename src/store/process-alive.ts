import { readFileSync } from 'node:fs';
import type { Store } from './store';

/** Whether a process with this pid runs on this host (one of another user's counts: EPERM). */
export function processRuns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/**
 * Whether the running process `pid` may be segsync: its command line names it, or cannot be read
 * (no /proc on this system). A pid reused after a crash by another program is not.
 */
export function maybeSegsync(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true;
  }
  return cmdline.includes('segsync');
}

/** The pid of a segsync daemon that announced itself on this store and still runs (not this process), if any. */
export function runningDaemon(store: Pick<Store, 'liveReaderElsewhere'>): number | undefined {
  const pid = store.liveReaderElsewhere();
  return pid !== undefined && maybeSegsync(pid) ? pid : undefined;
}
