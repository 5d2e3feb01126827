import { planBulkChunks, profileIndexOf } from '../../../../connectors/klaviyo/bulk';
import { consentIntent } from '../../../../connectors/klaviyo/consent';
import { advance, decodeProfileCursor, encodeCursor, lowerBound } from '../../../../connectors/klaviyo/cursor';
import { eventFilter } from '../../../../connectors/klaviyo/events';
import { klaviyoLimits } from '../../../../connectors/klaviyo/limits';
import { profileFilter } from '../../../../connectors/klaviyo/pull';
import type { Sendable } from '../../../../connectors/klaviyo/push';
import { minimumDurationMs } from '../../../../connectors/ratelimit';
import { ValidationError } from '../../../../src/errors';

const sendable = (index: number, bytes: number): Sendable => ({
  index,
  bytes,
  change: { ref: { email: `${index}@x.com` }, set: {}, clear: [], addTags: [], removeTags: [] },
  profile: { type: 'profile', attributes: {} },
});

describe('Klaviyo batching, cursors and filters', () => {
  test('bulk chunks respect both the profile count and the byte budget', () => {
    const items = Array.from({ length: 25 }, (_, i) => sendable(i, 100));
    expect(planBulkChunks(items, 10, 1_000_000).map((c) => c.length)).toEqual([10, 10, 5]);
    expect(planBulkChunks(items, 10_000, 256 + 5 * 101).map((c) => c.length)).toEqual([5, 5, 5, 5, 5]);
  });

  test('a JSON pointer names the profile index of a job', () => {
    expect(profileIndexOf('/data/attributes/profiles/data/17/attributes/email')).toBe(17);
    expect(profileIndexOf('/data/attributes/profiles/data/3')).toBe(3);
    expect(profileIndexOf('/data/attributes')).toBeUndefined();
  });

  test('cursors round-trip, advance within one second, and reject foreign versions', () => {
    let position = advance(undefined, '2026-01-01T00:00:01+00:00', 'a');
    position = advance(position, '2026-01-01T00:00:01+00:00', 'b');
    expect(position.ids).toEqual(['a', 'b']);
    position = advance(position, '2026-01-01T00:00:02+00:00', 'c');
    expect(position).toEqual({ at: '2026-01-01T00:00:02+00:00', ids: ['c'] });
    const text = encodeCursor({ v: 1, kind: 'klaviyo-profiles', position });
    expect(decodeProfileCursor(text)?.position).toEqual(position);
    expect(() => decodeProfileCursor('{"v":2}')).toThrow(ValidationError);
    expect(lowerBound(position)).toBe('2026-01-01T00:00:01.999Z');
  });

  test('filters use the operators Klaviyo allows for each field', () => {
    const until = new Date('2026-02-01T00:00:00Z');
    expect(profileFilter(undefined, until)).toBe('less-than(updated,2026-02-01T00:00:00.000Z)');
    expect(profileFilter({ at: '2026-01-01T00:00:05+00:00', ids: [] }, until)).toBe(
      'greater-than(updated,2026-01-01T00:00:04.999Z),less-than(updated,2026-02-01T00:00:00.000Z)',
    );
    expect(eventFilter('M1', { at: '2026-01-01T00:00:05.000Z', ids: [] }, until)).toBe(
      'equals(metric_id,"M1"),greater-or-equal(datetime,2026-01-01T00:00:05.000Z),less-than(datetime,2026-02-01T00:00:00.000Z)',
    );
  });

  test('consent intent never subscribes an unsubscribed or cleaned contact', () => {
    const c = (localConsent?: 'subscribed' | 'unsubscribed', remoteConsent?: 'subscribed' | 'unsubscribed' | 'cleaned' | 'non-marketing') => ({
      ref: { email: 'a@x.com' },
      set: {},
      clear: [],
      addTags: [],
      removeTags: [],
      ...(localConsent ? { localConsent } : {}),
      ...(remoteConsent ? { remoteConsent } : {}),
    });
    expect(consentIntent(c('subscribed'))).toBe('subscribe');
    expect(consentIntent(c('subscribed', 'non-marketing'))).toBe('subscribe');
    expect(consentIntent(c('subscribed', 'unsubscribed'))).toBeUndefined();
    expect(consentIntent(c('subscribed', 'cleaned'))).toBeUndefined();
    expect(consentIntent(c('subscribed', 'subscribed'))).toBeUndefined();
    // An opt-out is only written when segsync carries one, never because a field push happens.
    expect(consentIntent(c('unsubscribed', 'subscribed'))).toBeUndefined();
    expect(consentIntent({ ...c('unsubscribed', 'subscribed'), optOut: { at: 1 } })).toBe('unsubscribe');
    expect(consentIntent({ ...c('unsubscribed', 'unsubscribed'), optOut: { at: 1 } })).toBeUndefined();
    expect(consentIntent(c())).toBeUndefined();
  });

  test('declared limits: per-endpoint fixed windows, 10,000 per upsert batch, 1,000 per list call', () => {
    const limits = klaviyoLimits();
    expect(limits.maxBatch).toEqual({ upsert: 10_000 });
    expect(limits.windows['profiles.burst']).toEqual({ limit: 75, windowMs: 1000, kind: 'fixed' });
    expect(limits.windows['bulkJobs.steady']).toEqual({ limit: 150, windowMs: 60_000, kind: 'fixed' });
    expect(limits.buckets['dataPrivacy']).toEqual(['dataPrivacy.burst', 'dataPrivacy.steady']);
    expect(minimumDurationMs(151, [limits.windows['bulkJobs.burst']!, limits.windows['bulkJobs.steady']!])).toBe(60_000);
  });
});
