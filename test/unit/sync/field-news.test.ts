import type { SyncFieldState } from '../../../src/store/store';
import { fieldNews } from '../../../src/sync/field-news';

const row = (remoteValue: SyncFieldState['remoteValue'], pushedValue: SyncFieldState['pushedValue'], remoteModifiedAt = 100): SyncFieldState => ({
  contactId: 1,
  esp: 'klaviyo',
  key: 'first_name',
  remoteValue,
  pushedValue,
  remoteModifiedAt,
});

describe('fieldNews', () => {
  it('keeps the field change time of a value that did not change, whatever the record time', () => {
    expect(fieldNews(row('Eve', undefined, 100), 'Eve', 900)).toEqual({ verdict: 'unchanged', pushedValue: undefined, changedAt: 100 });
  });

  it('treats an empty value on a field never seen on the ESP as "not set", and an empty after a value as a change', () => {
    expect(fieldNews(undefined, null, 900).verdict).toBe('unset');
    expect(fieldNews(undefined, '', 900).verdict).toBe('unset');
    expect(fieldNews(row('Eve', undefined), null, 900)).toEqual({ verdict: 'change', pushedValue: undefined, changedAt: 900 });
  });

  it('expires the echo guard once the ESP was seen holding another value (an edit back is a change)', () => {
    const afterEdit = fieldNews(row('Eve', 'Eve'), 'Evie', 200);
    expect(afterEdit).toEqual({ verdict: 'change', pushedValue: undefined, changedAt: 200 });
    expect(fieldNews(row('Evie', afterEdit.pushedValue, 200), 'Eve', 300).verdict).toBe('change');
    // A row from before the guard expired (pushed Eve, seen Evie) does not make Eve an echo either.
    expect(fieldNews(row('Evie', 'Eve', 200), 'Eve', 300).verdict).toBe('change');
  });

  it('recognises the pushed value coming back before the ESP was seen holding anything else', () => {
    expect(fieldNews(row(undefined, 'Eve'), 'Eve', 300)).toEqual({ verdict: 'echo', pushedValue: 'Eve', changedAt: 300 });
  });
});
