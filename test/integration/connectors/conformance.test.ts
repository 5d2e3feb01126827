/**
 * The connector conformance suite: what every ESP connector must do, run against each vendor's
 * sandbox through the real SDK (and, for answers a sandbox never gives, against a bare HTTP server).
 * A new connector joins by adding its ESP to `ESPS` and must pass all of it; see
 * docs/connectors/adding-an-esp.md.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EMAIL_KEY } from '../../../connectors/connector';
import type { ChangeResult, Connector, ContactChange } from '../../../connectors/connector';
import { createConnectors } from '../../../connectors/registry';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import type { Clock } from '../../../src/model/clock';
import type { EspName } from '../../../src/model/types';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { FIRST_NAME_MAPPING, harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const ESPS: EspName[] = ['hubspot', 'mailchimp', 'klaviyo'];
/** Each ESP's name for the mapped first-name field. */
const FIRST_NAME: Record<EspName, string> = { hubspot: 'firstname', mailchimp: 'FNAME', klaviyo: 'first_name' };

/** A clock whose sleeps pass at once, so backoffs and Retry-After waits cost no test time. */
class JumpingClock implements Clock {
  private t = Date.now();
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += Math.max(0, ms);
  }
}

const change = (email: string, set: ContactChange['set'], extra: Partial<ContactChange> = {}): ContactChange => ({
  ref: { email },
  set,
  clear: [],
  addTags: [],
  removeTags: [],
  ...extra,
});
const summary = (results: ChangeResult[]): { email: string; status: string; code?: string; retryAfterMs?: number }[] =>
  results.map((r) => ({
    email: r.ref.email,
    status: r.status,
    ...(r.status !== 'ok' ? { code: r.error.code } : {}),
    ...(r.status === 'retry' && r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}),
  }));

describe('connector conformance against the sandboxes', () => {
  let s: Sandboxes;
  let h: Harness;
  beforeAll(async () => {
    s = await startSandboxes();
    h = harness(sandboxConfig(s, FIRST_NAME_MAPPING));
    for (const esp of ESPS) await h.engine.connector(esp).ensureSchema([{ name: FIRST_NAME[esp], type: 'string' }], []);
  });
  afterAll(async () => {
    await h.close();
    await s.close();
  });

  describe.each(ESPS)('%s', (esp) => {
    const connector = (): Connector => h.engine.connector(esp);
    const field = FIRST_NAME[esp];

    it('answers one result per input, in input order, also for an email twice and an input it refuses', async () => {
      const batch = [
        change(`${esp}-a@x.com`, { [field]: 'Ann' }),
        change(`${esp}-b@x.com`, { [field]: 'Ben' }),
        change(`${esp}-c@x.com`, { [EMAIL_KEY]: `${esp}-c@x.com` }),
        change(`${esp}-a@x.com`, { [field]: 'Anna' }),
        change(`${esp}-d@x.com`, { [field]: 'Dee' }),
      ];
      const results = await connector().push(batch);
      expect(results.map((r) => r.ref)).toEqual(batch.map((c) => c.ref));
      // An email change needs the record's id on the ESP: refused locally, for that input only.
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'failed', 'ok', 'ok']);
    });

    it('re-pushing the same state makes no request at all', async () => {
      h.store.upsertContacts([{ email: `${esp}-same@x.com`, properties: { first_name: 'Sam' }, consent: 'subscribed', source: 'local' }]);
      await h.pushAll();
      const before = connector().requestCount();
      expect(h.engine.enqueueAll({}, [esp])).toBe(0);
      expect((await h.engine.drainAll(esp)).requests).toBe(0);
      expect(connector().requestCount() - before).toBe(0);
    });

    it('resumes a pull from its cursor: a second pull reads nothing new', async () => {
      s[esp].seedContacts([{ email: `${esp}-pulled@x.com` }]);
      // Mailchimp times changes to the second, so a pull leaves the current second to the next one.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await h.engine.pull(esp)).contacts).toBeGreaterThan(0);
      expect((await h.engine.pull(esp)).contacts).toBe(0);
    });

    it('never writes consent it was not asked to: a field write leaves an unsubscribed contact unsubscribed', async () => {
      const email = `${esp}-optedout@x.com`;
      s[esp].seedContacts([{ email, consent: 'unsubscribed' }]);
      // segsync believes the contact subscribed and does not know what the ESP holds: still no consent write.
      const [result] = await connector().push([change(email, { [field]: 'Olga' }, { localConsent: 'subscribed' })]);
      expect(result!.status).toBe('ok');
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const seen = [];
      for await (const page of connector().pull({ cursor: undefined, until: new Date(), fields: [field] }))
        seen.push(...page.contacts.filter((c) => c.email === email));
      expect(seen.at(-1)).toMatchObject({ consent: 'unsubscribed', fields: { [field]: 'Olga' } });
    });
  });
});

describe('connector conformance on answers no sandbox gives', () => {
  let server: Server;
  let answer: { status: number; headers: Record<string, string>; body: string };
  let connectors: Map<EspName, Connector>;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const text = `version: 1
connectors:
  hubspot: { accessToken: "\${T}", baseUrl: "${url}" }
  mailchimp: { apiKey: "\${T}", listId: L1, baseUrl: "${url}" }
  klaviyo: { apiKey: "\${T}", baseUrl: "${url}" }
`;
    connectors = createConnectors(parseConfig(text, 'segsync.yaml', { env: { T: 'key-us1' } }).config, {
      clock: new JumpingClock(),
      logger: createLogger({ level: 'silent' }),
    });
  });
  afterAll(async () => {
    for (const c of connectors.values()) await c.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const batch = (esp: EspName): ContactChange[] => [change('u1@x.com', { [FIRST_NAME[esp]]: 'U' }), change('u2@x.com', { [FIRST_NAME[esp]]: 'V' })];

  it.each(ESPS)('%s: an answer of unknown shape is transient (retried, then dead-lettered by the outbox)', async (esp) => {
    answer = { status: 200, headers: {}, body: 'not json' };
    expect(summary(await connectors.get(esp)!.push(batch(esp))).map((r) => [r.status, r.code])).toEqual([
      ['retry', 'E_ESP_TRANSIENT'],
      ['retry', 'E_ESP_TRANSIENT'],
    ]);
  });

  it.each(ESPS)('%s: a client error it has no rule for is permanent', async (esp) => {
    answer = { status: 418, headers: {}, body: '{"weird":true}' };
    expect(summary(await connectors.get(esp)!.push(batch(esp))).map((r) => [r.status, r.code])).toEqual([
      ['failed', 'E_ESP_PERMANENT'],
      ['failed', 'E_ESP_PERMANENT'],
    ]);
  });

  it.each(ESPS)('%s: honours Retry-After: the result says to come back no sooner than the ESP asked', async (esp) => {
    answer = { status: 429, headers: { 'retry-after': '30' }, body: '{"errors":[]}' };
    const results = summary(await connectors.get(esp)!.push(batch(esp)));
    expect(results.map((r) => [r.status, r.code])).toEqual([
      ['retry', 'E_ESP_RATE_LIMIT'],
      ['retry', 'E_ESP_RATE_LIMIT'],
    ]);
    for (const r of results) expect(r.retryAfterMs).toBeGreaterThanOrEqual(30_000);
  });
});
