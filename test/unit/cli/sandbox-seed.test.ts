import { sandboxSeed, shoppersOf } from '../../../src/cli/sandbox-seed';

describe('sandbox seed', () => {
  const now = Date.UTC(2026, 5, 1);

  it('gives each vendor N shoppers who live there, under its own field names, the same for the same seed value', () => {
    const hubspot = sandboxSeed('hubspot', 40, 3, now);
    expect(hubspot.contacts).toHaveLength(40);
    expect(Object.keys(hubspot.contacts[0]!.properties!).sort()).toEqual(['country', 'firstname', 'lastname']);
    expect(Object.keys(sandboxSeed('mailchimp', 1, 3, now).contacts[0]!.properties!).sort()).toEqual(['FNAME', 'LNAME']);
    expect(sandboxSeed('hubspot', 40, 3, now)).toEqual(hubspot);
    expect(sandboxSeed('hubspot', 40, 4, now).contacts).not.toEqual(hubspot.contacts);
    expect(shoppersOf('hubspot', 40, 3).every((s) => s.homes.includes('hubspot'))).toBe(true);
    expect(new Set(hubspot.contacts.map((c) => c.email)).size).toBe(40);
  });

  it('seeds consent as on real lists: most subscribed, the dormant shoppers unsubscribed', () => {
    const consents = sandboxSeed('mailchimp', 200, 1, now).contacts.map((c) => c.consent);
    const unsubscribed = consents.filter((c) => c === 'unsubscribed').length;
    expect(consents.every((c) => c === 'subscribed' || c === 'unsubscribed')).toBe(true);
    expect(unsubscribed).toBeGreaterThan(5);
    expect(unsubscribed).toBeLessThan(60);
  });

  it('casts overlap across vendors for one seed value, as real accounts do', () => {
    const emails = (esp: 'hubspot' | 'mailchimp' | 'klaviyo'): Set<string> => new Set(sandboxSeed(esp, 100, 1, now).contacts.map((c) => c.email));
    const [h, m, k] = [emails('hubspot'), emails('mailchimp'), emails('klaviyo')];
    const shared = [...h].filter((e) => m.has(e) || k.has(e)).length + [...m].filter((e) => k.has(e)).length;
    expect(shared).toBeGreaterThan(0);
    expect(shared).toBeLessThan(100);
  });

  it('gives Klaviyo 60 days of events before now for its shoppers, and the others none', () => {
    const { contacts, events } = sandboxSeed('klaviyo', 20, 1, now);
    const emails = new Set(contacts.map((c) => c.email));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => emails.has(e.email) && e.time < now && e.time >= now - 60 * 86_400_000)).toBe(true);
    expect(new Set(events.map((e) => e.name))).toEqual(new Set(['Viewed Product', 'Added to Cart', 'Placed Order', 'Opened Email', 'Clicked Email']));
    expect(sandboxSeed('hubspot', 20, 1, now).events).toEqual([]);
  });
});
