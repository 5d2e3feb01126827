import { envSetting } from '../../../src/config/env';

describe('envSetting', () => {
  it('treats an empty or blank value as unset, and keeps any other value as written', () => {
    expect(envSetting('SEGSYNC_STORE', {})).toBeUndefined();
    expect(envSetting('SEGSYNC_STORE', { SEGSYNC_STORE: '' })).toBeUndefined();
    expect(envSetting('SEGSYNC_STORE', { SEGSYNC_STORE: '  ' })).toBeUndefined();
    expect(envSetting('SEGSYNC_STORE', { SEGSYNC_STORE: 'data/s.db' })).toBe('data/s.db');
  });
});
