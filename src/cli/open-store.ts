/**
 * Opens the store a command names, turning the file-system and SQLite errors of a wrong path (a typo, a
 * folder, a file of another kind, no permission) into errors that name the path and the fix.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../errors';
import { openStore } from '../store/sqlite/sqlite-store';
import type { SqliteStore, SqliteStoreOptions } from '../store/sqlite/sqlite-store';

/** Where a store path can come from, for hints. */
const WHERE = '--store, $SEGSYNC_STORE or store.path in segsync.yaml';

/**
 * Opens the store at `path`. With `mustExist`, a path with no store is an error instead of a new empty
 * store: a read-only command (status, members) on a mistyped path must not answer zeros.
 */
export function openStoreAt(path: string, options: { mustExist?: boolean } & Omit<SqliteStoreOptions, 'path'> = {}): SqliteStore {
  const { mustExist, ...storeOptions } = options;
  if (mustExist && !existsSync(path)) {
    throw new StoreError(`no store at ${path}`, {
      hint: `check the path (${WHERE}); a store is created by the first \`segsync import\` or \`segsync pull\``,
    });
  }
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new StoreError(`the store path ${path} is a folder`, {
      hint: `give the store file inside it, e.g. ${path.replace(/\/+$/, '')}/segsync.db (${WHERE})`,
    });
  }
  try {
    return openStore(path, storeOptions);
  } catch (err) {
    throw storePathError(path, err) ?? err;
  }
}

/** The error a user can act on for a failure to open `path`, or undefined when it is not about the path. */
export function storePathError(path: string, err: unknown): StoreError | undefined {
  const code = (err as { code?: unknown }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
  switch (code) {
    case 'ENOTDIR':
    case 'EEXIST':
      return new StoreError(`cannot create the folder for the store ${path}: part of ${dirname(path)} is a file, not a folder`, {
        cause: err,
        hint: `choose another store path (${WHERE}), or move that file away`,
      });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'SQLITE_READONLY':
      return new StoreError(`no permission to write the store ${path}`, {
        cause: err,
        hint: `choose a folder this user can write to (${WHERE}), or fix the permissions of ${dirname(path)}`,
      });
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return new StoreError(`${path} is not a segsync store (it is not an SQLite database)`, {
        cause: err,
        hint: `check the path (${WHERE}): it names some other file. Nothing was written to it`,
      });
    case 'SQLITE_CANTOPEN':
      return new StoreError(`cannot open the store ${path}`, { cause: err, hint: `check the path and its permissions (${WHERE})` });
    default:
      return undefined;
  }
}
