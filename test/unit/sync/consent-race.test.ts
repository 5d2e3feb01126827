/**
 * The opt-out the chaos test lost: Klaviyo stamps consent to the second, the local consent carried the
 * milliseconds of the pull that set it, and an opt-out 37 ms later in the same second lost to it; the
 * recorded remote value then hid every later pull of the same opt-out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RemoteContact } from '../../../connectors/connector';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/log/logger';
import { ManualClock } from '../../../src/model/clock';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { remoteConsentWins } from '../../../src/sync/consent';
import type { InboundContext } from '../../../src/sync/inbound';
import { applyRemoteContacts } from '../../../src/sync/inbound';
import { resolveMapping } from '../../../src/sync/mapping';

const SECOND = Date.UTC(2026, 11, 3, 17, 18, 58);

describe('consent from an ESP against a local consent of the same second', () => {
  it('an opt-out stamped in the same second as the local consent wins; a subscribe does not', () => {
    const local = { status: 'subscribed' as const, updatedAt: SECOND + 57, source: 'klaviyo' as const };
    expect(remoteConsentWins(local, 'unsubscribed', SECOND)).toBe(true);
    expect(remoteConsentWins(local, 'unsubscribed', SECOND - 1000)).toBe(false);
    const optedOut = { status: 'unsubscribed' as const, updatedAt: SECOND + 57, source: 'klaviyo' as const };
    expect(remoteConsentWins(optedOut, 'subscribed', SECOND)).toBe(false);
  });

  describe('through a pull', () => {
    let dir: string;
    let store: SqliteStore;
    let ctx: InboundContext;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'segsync-consent-race-'));
      store = new SqliteStore({ path: join(dir, 'segsync.db') });
      const config = parseConfig(`version: 1\nconnectors:\n  klaviyo: { apiKey: "\${KL_KEY}" }\n`, 'segsync.yaml', { env: { KL_KEY: 'k' } }).config;
      ctx = { store, mapping: resolveMapping(config), clock: new ManualClock(SECOND + 57), logger: createLogger({ level: 'silent' }) };
    });
    afterEach(() => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const profile = (consent: 'subscribed' | 'unsubscribed', consentAt: number | undefined, modifiedAt: number): RemoteContact => ({
      externalId: 'P1',
      email: 'c11@chaos.test',
      fields: {},
      consent,
      ...(consentAt !== undefined ? { consentAt } : {}),
      modifiedAt,
    });

    it('applies the opt-out of the same second, and a later opt-out the recorded one would have hidden', () => {
      // The first pull: subscribed with no consent time, stamped with the pull's own milliseconds.
      applyRemoteContacts(ctx, 'klaviyo', [profile('subscribed', undefined, SECOND - 5000)]);
      expect(store.findContactByEmail('c11@chaos.test')!.consent).toMatchObject({ status: 'subscribed', updatedAt: SECOND + 57 });
      applyRemoteContacts(ctx, 'klaviyo', [profile('unsubscribed', SECOND, SECOND)]);
      expect(store.findContactByEmail('c11@chaos.test')!.consent?.status).toBe('unsubscribed');
    });

    it('a consent seen again with a newer consent time is news, even when its value was recorded', () => {
      const id = store.upsertContacts([{ email: 'c11@chaos.test', properties: {}, source: 'local', consent: 'subscribed', time: SECOND + 5000 }])[0]!.contactId;
      store.setExternalId(id, 'klaviyo', 'P1');
      // An opt-out older than the local subscribe loses, but its value is recorded as what Klaviyo holds.
      applyRemoteContacts(ctx, 'klaviyo', [profile('unsubscribed', SECOND, SECOND)]);
      expect(store.getContact(id)!.consent?.status).toBe('subscribed');
      // The person opts out again later: the same value, a newer consent time.
      applyRemoteContacts(ctx, 'klaviyo', [profile('unsubscribed', SECOND + 60_000, SECOND + 60_000)]);
      expect(store.getContact(id)!.consent?.status).toBe('unsubscribed');
    });
  });
});
