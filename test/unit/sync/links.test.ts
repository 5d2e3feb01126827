import type { SyncFieldState } from '../../../src/store/store';
import { CREATED_KEY, isReusedId } from '../../../src/sync/links';

const row = (key: string, remoteValue: SyncFieldState['remoteValue'], remoteModifiedAt: number | undefined): SyncFieldState => ({
  contactId: 1,
  esp: 'hubspot',
  key,
  remoteValue,
  pushedValue: undefined,
  remoteModifiedAt,
});

describe('isReusedId', () => {
  it('compares the creation time with the one seen for the linked record, when segsync saw it', () => {
    const state = [row(CREATED_KEY, 1_000, 1_000), row('firstname', 'Carol', 5_000)];
    expect(isReusedId(state, 1_000)).toBe(false);
    expect(isReusedId(state, 9_000)).toBe(true);
    // Even a record created earlier than the linked one is another record.
    expect(isReusedId(state, 500)).toBe(true);
  });

  it('without a seen creation time, calls a record created after everything segsync knew of the linked one reused', () => {
    const state = [row('@email', 'carol@x.com', 4_000), row('firstname', 'Carol', 5_000)];
    expect(isReusedId(state, 5_001)).toBe(true);
    expect(isReusedId(state, 5_000)).toBe(false);
    expect(isReusedId(state, 100)).toBe(false);
  });

  it('says nothing without a creation time or without anything known of the linked record', () => {
    expect(isReusedId([row('firstname', 'Carol', 5_000)], undefined)).toBe(false);
    expect(isReusedId([], 9_000)).toBe(false);
    expect(isReusedId([row('firstname', 'Carol', undefined)], 9_000)).toBe(false);
  });
});
