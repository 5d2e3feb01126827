/** `segsync sandbox VENDOR --seed N --state FILE`, run as a user runs it: seeded, stopped, restarted, killed. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_CREDENTIALS } from '../../connectors/registry';
import { subscriberHash } from '../../src/model/identity';
import { ESP_NAMES } from '../../src/model/types';
import type { EspName } from '../../src/model/types';
import type { SandboxProcess } from '../support/sandbox-process';
import { startSandboxProcess } from '../support/sandbox-process';

const HEADERS: Record<EspName, Record<string, string>> = {
  hubspot: { authorization: `Bearer ${SANDBOX_CREDENTIALS.hubspot}`, 'content-type': 'application/json' },
  mailchimp: { authorization: `Basic ${Buffer.from(`any:${SANDBOX_CREDENTIALS.mailchimp}`).toString('base64')}`, 'content-type': 'application/json' },
  klaviyo: { authorization: `Klaviyo-API-Key ${SANDBOX_CREDENTIALS.klaviyo}`, revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
};

async function call(esp: EspName, url: string, method = 'GET', body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method, headers: HEADERS[esp], ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Every contact as "id email", read through the vendor's own list endpoint. */
async function contactsOf(esp: EspName, base: string): Promise<string[]> {
  switch (esp) {
    case 'hubspot': {
      const out: string[] = [];
      for (let after: string | undefined = '0'; after !== undefined;) {
        const page = (await call(esp, `${base}/crm/v3/objects/contacts?limit=100&properties=email&after=${after}`)) as {
          results: { id: string; properties: { email: string } }[];
          paging?: { next: { after: string } };
        };
        out.push(...page.results.map((c) => `${c.id} ${c.properties.email}`));
        after = page.paging?.next.after;
      }
      return out.sort();
    }
    case 'mailchimp': {
      const page = (await call(esp, `${base}/3.0/lists/sandbox0001/members?count=1000`)) as { members: { id: string; email_address: string }[] };
      return page.members.map((m) => `${m.id} ${m.email_address}`).sort();
    }
    case 'klaviyo': {
      const page = (await call(esp, `${base}/api/profiles?page[size]=100`)) as { data: { id: string; attributes: { email: string } }[] };
      return page.data.map((p) => `${p.id} ${p.attributes.email}`).sort();
    }
  }
}

/** Adds one contact through the vendor's API, as a user's own code would. */
async function addContact(esp: EspName, base: string, email: string): Promise<void> {
  if (esp === 'hubspot')
    await call(esp, `${base}/crm/v3/objects/contacts/batch/upsert`, 'POST', { inputs: [{ idProperty: 'email', id: email, properties: { email } }] });
  if (esp === 'mailchimp')
    await call(esp, `${base}/3.0/lists/sandbox0001/members/${subscriberHash(email)}`, 'PUT', { email_address: email, status_if_new: 'subscribed' });
  if (esp === 'klaviyo') await call(esp, `${base}/api/profile-import`, 'POST', { data: { type: 'profile', attributes: { email } } });
}

describe('sandbox --seed and --state', () => {
  let dir: string;
  const running: SandboxProcess[] = [];
  const start = async (args: string[]): Promise<SandboxProcess> => {
    const p = await startSandboxProcess(['sandbox', ...args, '--port', '0'], dir);
    running.push(p);
    return p;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-sandbox-state-'));
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(ESP_NAMES)('%s: a sandbox restarted with --state keeps its seeded and API-written contacts, under the same ids', async (esp) => {
    const file = join(dir, `${esp}.json`);
    const first = await start([esp, '--seed', '12', '--seed-value', '7', '--state', file]);
    expect(first.output()).toMatch(/seeded 12 shoppers/);
    await addContact(esp, first.url, 'written.by.api@example.org');
    const before = await contactsOf(esp, first.url);
    expect(before).toHaveLength(13);
    expect(await first.stop('SIGTERM')).toBe(0);

    const second = await start([esp, '--seed', '12', '--state', file]);
    expect(second.output()).toMatch(/kept 13 contacts from .*--seed seeds an empty sandbox only/);
    expect(await contactsOf(esp, second.url)).toEqual(before);
    await second.stop('SIGTERM');
  });

  it('the same --seed-value gives the same shoppers; the Klaviyo sandbox also gets their engagement events', async () => {
    const a = await start(['klaviyo', '--seed', '5', '--seed-value', '3']);
    const b = await start(['klaviyo', '--seed', '5', '--seed-value', '3']);
    const emails = async (p: SandboxProcess): Promise<string[]> => (await contactsOf('klaviyo', p.url)).map((l) => l.split(' ')[1]!);
    expect(await emails(a)).toEqual(await emails(b));
    const events = (await call('klaviyo', `${a.url}/api/events?page[size]=200`)) as { data: unknown[] };
    expect(events.data.length).toBeGreaterThan(0);
    expect(a.output()).toMatch(/seeded 5 shoppers and \d+ events/);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('a change is on disk shortly after it is made: a SIGKILLed sandbox restarts with it', async () => {
    const file = join(dir, 'killed.json');
    const first = await start(['hubspot', '--state', file]);
    await addContact('hubspot', first.url, 'before.the.kill@example.org');
    await new Promise((r) => setTimeout(r, 800));
    await first.stop('SIGKILL');
    const second = await start(['hubspot', '--state', file]);
    expect(await contactsOf('hubspot', second.url)).toEqual(['1001 before.the.kill@example.org']);
    await second.stop();
  });

  it('refuses a state file it cannot read, naming it, and leaves it untouched', async () => {
    const file = join(dir, 'notes.json');
    writeFileSync(file, 'my notes, not a sandbox\n');
    const error = await startSandboxProcess(['sandbox', 'mailchimp', '--state', file, '--port', '0'], dir).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(error).toMatch(/exited with 2/);
    expect(error).toContain(`${file} is not a sandbox state file`);
    expect(readFileSync(file, 'utf8')).toBe('my notes, not a sandbox\n');

    const hubspotFile = join(dir, 'hubspot.json');
    const wrong = await startSandboxProcess(['sandbox', 'klaviyo', '--state', hubspotFile, '--port', '0'], dir).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(wrong).toMatch(/holds a hubspot sandbox, not klaviyo/);
  });
});
