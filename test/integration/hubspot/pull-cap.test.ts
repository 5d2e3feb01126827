/** HubSpot search pages through at most 10,000 results: the pull opens new windows instead of paging past the cap. */
import type { Clock } from '../../../src/model/clock';
import type { RemoteContact } from '../../../connectors/connector';
import type { Harness } from '../../support/hubspot';
import { startHarness } from '../../support/hubspot';

/** The sandbox's clock, set by hand so seeded contacts get chosen modification times. */
function settableClock(start: number): Clock & { t: number } {
  const c = { t: start, now: () => c.t, sleep: () => Promise.resolve() };
  return c;
}

const T0 = Date.UTC(2026, 5, 1);

async function pullEverything(h: Harness, cursor: string, until: Date): Promise<{ contacts: RemoteContact[]; next: string }> {
  const contacts: RemoteContact[] = [];
  let next = cursor;
  for await (const page of h.connector.pull({ cursor, until, fields: [] })) {
    contacts.push(...page.contacts);
    next = page.next;
  }
  return { contacts, next };
}

describe('HubSpot pull past the 10,000-result search cap', () => {
  const noLimits = { limits: { windows: { search: { limit: 10_000, windowMs: 1_000 } } } };

  it('re-windows on the last modification time seen and returns every contact once, oldest first', async () => {
    const clock = settableClock(T0);
    const h = await startHarness({ clock, rateLimits: false }, noLimits);
    try {
      for (let i = 0; i < 10_250; i++) {
        clock.t = T0 + 1 + i;
        h.sandbox.seed([{ email: `c${i}@example.com` }]);
      }
      const { contacts, next } = await pullEverything(h, JSON.stringify({ v: 1, mode: 'time', t: T0 }), new Date(T0 + 20_000));
      expect(new Set(contacts.map((c) => c.externalId)).size).toBe(10_250);
      expect(contacts).toHaveLength(10_250);
      expect(contacts.every((c, i) => i === 0 || c.modifiedAt >= contacts[i - 1]!.modifiedAt)).toBe(true);
      const searches = h.exchanges.filter((x) => x.path === '/crm/v3/objects/contacts/search');
      expect(searches.every((x) => x.status === 200)).toBe(true);
      expect(searches.every((x) => Number((x.requestBody as { after: string }).after) + 200 <= 10_000)).toBe(true);
      expect(searches.length).toBeLessThanOrEqual(Math.ceil(10_250 / 200) + 2);
      expect(JSON.parse(next)).toMatchObject({ mode: 'time', t: T0 + 10_250 });
    } finally {
      await h.close();
    }
  });

  it('walks more than 10,000 contacts that share one modification time by id, then carries on after it', async () => {
    const clock = settableClock(T0);
    const h = await startHarness({ clock, rateLimits: false }, noLimits);
    try {
      clock.t = T0 + 5;
      h.sandbox.seed(Array.from({ length: 10_100 }, (_, i) => ({ email: `same${i}@example.com` })));
      clock.t = T0 + 9;
      h.sandbox.seed([{ email: 'later1@example.com' }, { email: 'later2@example.com' }]);
      const { contacts } = await pullEverything(h, JSON.stringify({ v: 1, mode: 'time', t: T0 }), new Date(T0 + 100));
      expect(new Set(contacts.map((c) => c.externalId)).size).toBe(10_102);
      expect(contacts.slice(-2).map((c) => c.email)).toEqual(['later1@example.com', 'later2@example.com']);
      const searches = h.exchanges.filter((x) => x.path === '/crm/v3/objects/contacts/search');
      expect(searches.every((x) => x.status === 200)).toBe(true);
      expect(searches.some((x) => JSON.stringify(x.requestBody).includes('"hs_object_id"'))).toBe(true);
    } finally {
      await h.close();
    }
  });
});
