export * from './store';
export { SqliteStore, openStore } from './sqlite/sqlite-store';
export type { SqliteStoreOptions } from './sqlite/sqlite-store';
