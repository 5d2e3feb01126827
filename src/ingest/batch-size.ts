/** The importer's default transaction size, apart so the CLI can show it without loading the importer. */

/**
 * Records per transaction. Large on purpose: when the store keeps its event indexes up (an import
 * smaller than the table), inserts land all over them and each commit rewrites every page it
 * touched; 50,000 per commit is ~3x faster than 5,000 and still holds only a few tens of MB.
 */
export const DEFAULT_BATCH = 50_000;
