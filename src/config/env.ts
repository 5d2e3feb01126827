/** segsync's own environment settings (SEGSYNC_*), read in one way everywhere. */

export type SettingName = 'SEGSYNC_STORE' | 'SEGSYNC_CONFIG' | 'SEGSYNC_LOG_LEVEL' | 'SEGSYNC_LOG_FORMAT' | 'SEGSYNC_CHROMIUM';

/**
 * A setting's value, with an empty value counting as unset: `SEGSYNC_STORE=` in a unit file or a
 * shell must not mean an empty path (SQLite would open a temporary database and lose everything).
 */
export function envSetting(name: SettingName, env: Record<string, string | undefined> = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}
