import { SANDBOX_CREDENTIALS, startSandbox } from '../../../connectors/registry';
import type { SandboxServer } from '../../../connectors/connector';
import { subscriberHash } from '../../../src/model/identity';
import { ESP_NAMES } from '../../../src/model/types';
import type { EspName } from '../../../src/model/types';

const FIRST_NAME: Record<EspName, string> = { hubspot: 'firstname', mailchimp: 'FNAME', klaviyo: 'first_name' };
const auth: Record<EspName, Record<string, string>> = {
  hubspot: { authorization: `Bearer ${SANDBOX_CREDENTIALS.hubspot}`, 'content-type': 'application/json' },
  mailchimp: { authorization: `Basic ${Buffer.from(`any:${SANDBOX_CREDENTIALS.mailchimp}`).toString('base64')}`, 'content-type': 'application/json' },
  klaviyo: { authorization: `Klaviyo-API-Key ${SANDBOX_CREDENTIALS.klaviyo}`, revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
};

/** Calls a sandbox path with the vendor's auth and a JSON body; fails the test on an error status. */
async function call(esp: EspName, url: string, method: string, body?: unknown): Promise<Record<string, unknown>> {
  const headers = body === undefined ? Object.fromEntries(Object.entries(auth[esp]).filter(([k]) => k !== 'content-type')) : auth[esp];
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

describe.each(ESP_NAMES)('%s sandbox, seen through the uniform sandbox surface', (esp) => {
  let server: SandboxServer;
  beforeAll(async () => {
    server = (await startSandbox(esp, { rateLimits: false })).server;
  });
  afterAll(async () => server.close());

  it('creates seeded contacts under the vendor field names and lists them back in one shape', async () => {
    server.seedContacts([{ email: ' Ada@Example.com ', properties: { [FIRST_NAME[esp]]: 'Ada' } }, { email: 'bo@example.com' }]);
    const seen = server.contacts().sort((a, b) => a.email.localeCompare(b.email));
    expect(seen.map((c) => c.email)).toEqual(['ada@example.com', 'bo@example.com']);
    expect(seen[0]!.properties[FIRST_NAME[esp]]).toBe('Ada');
    for (const c of seen) expect([c.tags, c.lists]).toEqual([[], []]);
  });

  it('seeds consent the way the vendor records it, read back through its API', async () => {
    server.seedContacts([
      { email: 'yes@example.com', consent: 'subscribed' },
      { email: 'no@example.com', consent: 'unsubscribed' },
    ]);
    const consentOf: Record<EspName, (email: string) => Promise<string>> = {
      hubspot: async (email) => {
        const r = (await call(esp, `${server.url}/communication-preferences/v3/status/email/${email}`, 'GET')) as {
          subscriptionStatuses: { status: string }[];
        };
        return [...new Set(r.subscriptionStatuses.map((x) => x.status))].join();
      },
      mailchimp: async (email) =>
        ((await call(esp, `${server.url}/3.0/lists/${server.connectorSettings.listId!}/members/${subscriberHash(email)}`, 'GET')) as { status: string }).status,
      klaviyo: async (email) => {
        const r = (await call(
          esp,
          `${server.url}/api/profiles?filter=${encodeURIComponent(`equals(email,"${email}")`)}&additional-fields[profile]=subscriptions`,
          'GET',
        )) as {
          data: { attributes: { subscriptions: { email: { marketing: { consent: string; can_receive_email_marketing: boolean } } } } }[];
        };
        const m = r.data[0]!.attributes.subscriptions.email.marketing;
        return `${m.consent}${m.can_receive_email_marketing ? '' : ' (cannot receive)'}`;
      },
    };
    const expected: Record<EspName, [string, string]> = {
      hubspot: ['SUBSCRIBED', 'NOT_SUBSCRIBED'],
      mailchimp: ['subscribed', 'unsubscribed'],
      klaviyo: ['SUBSCRIBED', 'UNSUBSCRIBED (cannot receive)'],
    };
    expect([await consentOf[esp]('yes@example.com'), await consentOf[esp]('no@example.com')]).toEqual(expected[esp]);
  });

  it('shows what the vendor API wrote, as a connector would see it', async () => {
    const write: Record<EspName, () => Promise<Response>> = {
      hubspot: () =>
        fetch(`${server.url}/crm/v3/objects/contacts/batch/upsert`, {
          method: 'POST',
          headers: auth.hubspot,
          body: JSON.stringify({ inputs: [{ idProperty: 'email', id: 'cy@example.com', properties: { email: 'cy@example.com', firstname: 'Cy' } }] }),
        }),
      mailchimp: async () => {
        const listId = server.connectorSettings.listId!;
        return fetch(`${server.url}/3.0/lists/${listId}/members/${subscriberHash('cy@example.com')}`, {
          method: 'PUT',
          headers: auth.mailchimp,
          body: JSON.stringify({ email_address: 'cy@example.com', status_if_new: 'subscribed', merge_fields: { FNAME: 'Cy' } }),
        });
      },
      klaviyo: () =>
        fetch(`${server.url}/api/profile-import`, {
          method: 'POST',
          headers: auth.klaviyo,
          body: JSON.stringify({ data: { type: 'profile', attributes: { email: 'cy@example.com', first_name: 'Cy' } } }),
        }),
    };
    const res = await write[esp]();
    expect(res.status).toBeLessThan(300);
    expect(server.contacts().find((c) => c.email === 'cy@example.com')?.properties[FIRST_NAME[esp]]).toBe('Cy');
  });

  it("shows the vendor's own tags (Mailchimp) or list memberships (HubSpot, Klaviyo) that its API wrote", async () => {
    const email = 'dee@example.com';
    const tagOrList: Record<EspName, () => Promise<void>> = {
      hubspot: async () => {
        const upserted = await call(esp, `${server.url}/crm/v3/objects/contacts/batch/upsert`, 'POST', {
          inputs: [{ idProperty: 'email', id: email, properties: { email } }],
        });
        const contactId = (upserted.results as { id: string }[])[0]!.id;
        const { list } = (await call(esp, `${server.url}/crm/v3/lists`, 'POST', { name: 'seg:vip', objectTypeId: '0-1', processingType: 'MANUAL' })) as {
          list: { listId: string };
        };
        await call(esp, `${server.url}/crm/v3/lists/${list.listId}/memberships/add`, 'PUT', [contactId]);
      },
      mailchimp: async () => {
        const member = `${server.url}/3.0/lists/${server.connectorSettings.listId!}/members/${subscriberHash(email)}`;
        await call(esp, member, 'PUT', { email_address: email, status_if_new: 'subscribed' });
        await call(esp, `${member}/tags`, 'POST', { tags: [{ name: 'seg:vip', status: 'active' }] });
      },
      klaviyo: async () => {
        const profile = (await call(esp, `${server.url}/api/profile-import`, 'POST', { data: { type: 'profile', attributes: { email } } })) as {
          data: { id: string };
        };
        const list = (await call(esp, `${server.url}/api/lists`, 'POST', { data: { type: 'list', attributes: { name: 'seg:vip' } } })) as {
          data: { id: string };
        };
        await call(esp, `${server.url}/api/lists/${list.data.id}/relationships/profiles`, 'POST', { data: [{ type: 'profile', id: profile.data.id }] });
      },
    };
    await tagOrList[esp]();
    const dee = server.contacts().find((c) => c.email === email)!;
    expect(esp === 'mailchimp' ? dee.tags : dee.lists).toEqual(['seg:vip']);
    expect(esp === 'mailchimp' ? dee.lists : dee.tags).toEqual([]);
    const others = server.contacts().filter((c) => c.email !== email);
    expect(others.every((c) => c.tags.length === 0 && c.lists.length === 0)).toBe(true);
  });
});
