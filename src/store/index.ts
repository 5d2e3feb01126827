export * from './store';
export * from './identities';
export { SqliteStore, openStore } from './sqlite/sqlite-store';
export type { SqliteStoreOptions } from './sqlite/sqlite-store';
