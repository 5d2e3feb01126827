import { SANDBOX_CREDENTIALS, startSandbox } from '../../../connectors/registry';
import type { SandboxServer } from '../../../connectors/connector';
import { subscriberHash } from '../../../src/model/identity';
import { ESP_NAMES } from '../../../src/model/types';
import type { EspName } from '../../../src/model/types';

const FIRST_NAME: Record<EspName, string> = { hubspot: 'firstname', mailchimp: 'FNAME', klaviyo: 'first_name' };

describe.each(ESP_NAMES)('%s sandbox, seen through the uniform sandbox surface', (esp) => {
  let server: SandboxServer;
  beforeAll(async () => {
    server = (await startSandbox(esp, { rateLimits: false })).server;
  });
  afterAll(async () => server.close());

  it('creates seeded contacts under the vendor field names and lists them back in one shape', async () => {
    server.seedContacts([
      { email: ' Ada@Example.com ', properties: { [FIRST_NAME[esp]]: 'Ada' } },
      { email: 'bo@example.com' },
    ]);
    const seen = server.contacts().sort((a, b) => a.email.localeCompare(b.email));
    expect(seen.map((c) => c.email)).toEqual(['ada@example.com', 'bo@example.com']);
    expect(seen[0]!.properties[FIRST_NAME[esp]]).toBe('Ada');
    for (const c of seen) {
      expect(Array.isArray(c.tags)).toBe(true);
      expect(Array.isArray(c.lists)).toBe(true);
    }
  });

  it('shows what the vendor API wrote, as a connector would see it', async () => {
    const auth: Record<EspName, Record<string, string>> = {
      hubspot: { authorization: `Bearer ${SANDBOX_CREDENTIALS.hubspot}` },
      mailchimp: { authorization: `Basic ${Buffer.from(`any:${SANDBOX_CREDENTIALS.mailchimp}`).toString('base64')}` },
      klaviyo: { authorization: `Klaviyo-API-Key ${SANDBOX_CREDENTIALS.klaviyo}`, revision: '2026-07-15' },
    };
    const write: Record<EspName, () => Promise<Response>> = {
      hubspot: () =>
        fetch(`${server.url}/crm/v3/objects/contacts/batch/upsert`, {
          method: 'POST',
          headers: { ...auth.hubspot, 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ idProperty: 'email', id: 'cy@example.com', properties: { email: 'cy@example.com', firstname: 'Cy' } }] }),
        }),
      mailchimp: async () => {
        const listId = (server as unknown as { listId: string }).listId;
        return fetch(`${server.url}/3.0/lists/${listId}/members/${subscriberHash('cy@example.com')}`, {
          method: 'PUT',
          headers: { ...auth.mailchimp, 'content-type': 'application/json' },
          body: JSON.stringify({ email_address: 'cy@example.com', status_if_new: 'subscribed', merge_fields: { FNAME: 'Cy' } }),
        });
      },
      klaviyo: () =>
        fetch(`${server.url}/api/profile-import`, {
          method: 'POST',
          headers: { ...auth.klaviyo, 'content-type': 'application/vnd.api+json' },
          body: JSON.stringify({ data: { type: 'profile', attributes: { email: 'cy@example.com', first_name: 'Cy' } } }),
        }),
    };
    const res = await write[esp]();
    expect(res.status).toBeLessThan(300);
    expect(server.contacts().find((c) => c.email === 'cy@example.com')?.properties[FIRST_NAME[esp]]).toBe('Cy');
  });
});
