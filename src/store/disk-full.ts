/** Recognises a write that failed for want of disk space, and names the disk and the fix. */
import { dirname, resolve } from 'node:path';
import { StoreFullError } from '../errors';

/** SQLite's and the file system's codes for "no room": a full disk, or the user's quota spent. */
const FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);

/** True when `err` (or what it wraps) says the disk had no room left. */
export function isDiskFull(err: unknown): boolean {
  if (err instanceof StoreFullError) return true;
  const code = (err as { code?: unknown } | undefined)?.code ?? (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof code === 'string' && FULL_CODES.has(code);
}

/** The hint for a full disk under `folder`, ending with what to do once there is room. */
export function freeSpaceHint(folder: string, then: string): string {
  return `free space on the disk that holds ${folder} (\`df -h ${folder}\` shows it), then ${then}`;
}

/**
 * The error to show for a store write that failed for want of space, or undefined for any other
 * failure. SQLite rolls the failed transaction back, so nothing of it was written: running the same
 * thing again once there is room is safe.
 */
export function diskFullError(err: unknown, storePath: string): StoreFullError | undefined {
  if (err instanceof StoreFullError) return err;
  if (!isDiskFull(err)) return undefined;
  const folder = dirname(resolve(storePath));
  return new StoreFullError(`no room left to write the store ${storePath}: the disk that holds it is full`, {
    cause: err,
    folder,
    hint: freeSpaceHint(folder, 'run it again: what failed was not written at all'),
  });
}
