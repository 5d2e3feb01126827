import type { ContactChange } from '../../../../connectors/connector';
import { consentOf, isNeverSubscribed, readField, readTags, tagEdits, toSdkProfile } from '../../../../connectors/klaviyo/fields';
import { changeProblem } from '../../../../connectors/klaviyo/validate';
import type { WireProfile } from '../../../../connectors/klaviyo/wire';

const change = (extra: Partial<ContactChange> = {}): ContactChange => ({
  ref: { email: 'a@x.com' },
  set: {},
  clear: [],
  addTags: [],
  removeTags: [],
  ...extra,
});

describe('Klaviyo profile fields', () => {
  test('standard attributes use the SDK spelling, custom fields go to properties, clears are null', () => {
    const p = toSdkProfile(change({ set: { first_name: 'A', 'location.zip': '1000', plan: 'pro' }, clear: ['last_name', 'old'] }), 'segsync_tags');
    expect(p).toEqual({
      type: 'profile',
      attributes: { email: 'a@x.com', firstName: 'A', lastName: null, location: { zip: '1000' }, properties: { plan: 'pro', old: null } },
    });
  });

  test('tag edits: no append of what Klaviyo has, no unappend of what it lacks, removal wins', () => {
    expect(tagEdits(change({ addTags: ['a', 'b', 'c'], removeTags: ['c', 'd'], remoteTags: ['a', 'd'] }))).toEqual({ add: ['b'], remove: ['d'] });
    expect(tagEdits(change({ addTags: ['a'], removeTags: ['z'] }))).toEqual({ add: ['a'], remove: ['z'] });
  });

  test('reads fields, tags and consent from a wire profile', () => {
    const wire: WireProfile = {
      type: 'profile',
      id: '01',
      attributes: {
        email: 'a@x.com',
        first_name: 'A',
        location: { city: 'Paris' },
        properties: { plan: 'pro', segsync_tags: ['x', 'x', 3, 'y'] },
        subscriptions: { email: { marketing: { consent: 'NEVER_SUBSCRIBED', suppression: [] } } },
      },
    };
    expect([readField(wire, 'first_name'), readField(wire, 'location.city'), readField(wire, 'plan'), readField(wire, 'missing')]).toEqual([
      'A',
      'Paris',
      'pro',
      null,
    ]);
    expect(readTags(wire, 'segsync_tags')).toEqual(['x', 'y']);
    expect(consentOf(wire.attributes.subscriptions ?? undefined)).toBe('non-marketing');
    expect(isNeverSubscribed(wire.attributes.subscriptions ?? undefined)).toBe(true);
  });

  test('suppressions decide consent before the consent value', () => {
    const m = (consent: string, reasons: string[]) => ({
      email: { marketing: { consent, suppression: reasons.map((reason) => ({ reason, timestamp: null })) } },
    });
    expect(consentOf(m('SUBSCRIBED', ['HARD_BOUNCE']))).toBe('cleaned');
    expect(consentOf(m('SUBSCRIBED', ['UNSUBSCRIBE']))).toBe('unsubscribed');
    expect(consentOf(m('SUBSCRIBED', []))).toBe('subscribed');
    expect(isNeverSubscribed(m('NEVER_SUBSCRIBED', ['SPAM_COMPLAINT']))).toBe(false);
  });
});

describe('Klaviyo local validation', () => {
  test.each([
    [change({ ref: { email: 'nope' } }), /not a valid address/],
    [change({ set: { phone_number: '0612' } }), /E\.164/],
    [change({ set: { first_name: 3 } }), /needs a string/],
    [change({ set: { $source: 'x' } }), /not allowed/],
    [change({ set: { segsync_tags: ['a'] } }), /tag property/],
    [change({ addTags: [' '] }), /empty tag/],
  ])('rejects %j', (c, message) => {
    expect(changeProblem(c, 'segsync_tags', 100)?.message).toMatch(message);
  });

  test('rejects a profile over 100 KB and accepts a normal one', () => {
    expect(changeProblem(change(), 'segsync_tags', 200_000)?.message).toMatch(/at most/);
    expect(changeProblem(change({ set: { first_name: 'A', 'location.latitude': 48.8 } }), 'segsync_tags', 100)).toBeUndefined();
  });
});
