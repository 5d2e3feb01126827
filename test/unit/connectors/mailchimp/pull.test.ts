import { advanceWindow, consentOf, parseCursor, seenKey } from '../../../../connectors/mailchimp/pull';
import type { Member } from '../../../../connectors/mailchimp/wire';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString().replace('.000Z', '+00:00');
const m = (id: string, s: number): Member => ({ id, email_address: `${id}@x.com`, status: 'subscribed', last_changed: at(s) });

describe('advanceWindow', () => {
  it('moves the window to the newest second seen and remembers who was emitted at it', () => {
    const r = advanceWindow({ offset: 0, skip: [] }, [m('a', 1), m('b', 2), m('c', 2)], 3);
    expect(r.fresh.map((x) => x.id)).toEqual(['a', 'b', 'c']);
    expect(r.next).toEqual({ since: new Date(Date.UTC(2026, 0, 1, 0, 0, 2)).toISOString(), offset: 0, skip: [seenKey(m('b', 2)), seenKey(m('c', 2))] });
    expect(r.done).toBe(false);
  });

  it('drops the overlap and what was already emitted at the window start', () => {
    const start = { since: new Date(Date.UTC(2026, 0, 1, 0, 0, 2)).toISOString(), offset: 0, skip: [seenKey(m('b', 2)), seenKey(m('c', 2))] };
    const r = advanceWindow(start, [m('a', 1), m('b', 2), m('c', 2), m('d', 2)], 10);
    expect(r.fresh.map((x) => x.id)).toEqual(['d']);
    expect(r.done).toBe(true);
  });

  it('pages by offset while a whole page shares the window’s second', () => {
    const start = { since: new Date(Date.UTC(2026, 0, 1, 0, 0, 2)).toISOString(), offset: 0, skip: [seenKey(m('b', 2))] };
    const r = advanceWindow(start, [m('b', 2), m('c', 2)], 2);
    expect(r.next).toEqual({ since: start.since, offset: 2, skip: [seenKey(m('b', 2)), seenKey(m('c', 2))] });
  });

  it('starts the next window at offset 0 after a short page on the window’s second (an idle pull moves nothing)', () => {
    const start = { since: new Date(Date.UTC(2026, 0, 1, 0, 0, 2)).toISOString(), offset: 0, skip: [seenKey(m('b', 2)), seenKey(m('c', 2))] };
    const r = advanceWindow(start, [m('b', 2), m('c', 2)], 10);
    expect(r.fresh).toEqual([]);
    expect(r.next).toEqual(start);
  });

  it('emits a member edited again within the window’s second (same last_changed, new content)', () => {
    const start = { since: new Date(Date.UTC(2026, 0, 1, 0, 0, 2)).toISOString(), offset: 0, skip: [seenKey(m('b', 2))] };
    const edited = { ...m('b', 2), merge_fields: { FNAME: 'M2' } };
    expect(advanceWindow(start, [edited], 10).fresh).toEqual([edited]);
  });
});

describe('parseCursor and consentOf', () => {
  it('starts a full scan without a cursor and maps statuses to consent', () => {
    expect(parseCursor(undefined).members).toEqual({ offset: 0, skip: [] });
    expect(() => parseCursor('not json')).toThrow(/not one segsync wrote/);
    expect(consentOf('transactional')).toBe('non-marketing');
    expect(consentOf('archived')).toBeUndefined();
  });
});
