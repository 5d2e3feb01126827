import fc from 'fast-check';
import { routeFor, statusIfNew } from '../../../../connectors/mailchimp/push';
import { CONSENT_STATUSES } from '../../../../src/model/types';
import type { ConsentStatus } from '../../../../src/model/types';

const consent = fc.option(fc.constantFrom<ConsentStatus>(...CONSENT_STATUSES), { nil: undefined });

describe('statusIfNew', () => {
  it('never defaults to subscribed and never creates a cleaned address', () => {
    expect(statusIfNew(undefined)).toBe('pending');
    expect(statusIfNew('pending')).toBe('pending');
    expect(statusIfNew('subscribed')).toBe('subscribed');
    expect(statusIfNew('non-marketing')).toBe('transactional');
    expect(statusIfNew('unsubscribed')).toBe('unsubscribed');
    expect(statusIfNew('cleaned')).toBeUndefined();
  });
});

describe('routeFor', () => {
  it('never sends a status other than the one Mailchimp last showed to an existing member', () => {
    fc.assert(
      fc.property(consent, consent, fc.boolean(), (localConsent, remoteConsent, hasFields) => {
        const route = routeFor({ localConsent, remoteConsent }, hasFields);
        if (route.kind === 'batch-existing') {
          expect(remoteConsent).toBeDefined();
          expect(route.status).toBe(remoteConsent === 'non-marketing' ? 'transactional' : remoteConsent);
        }
        // Only a member segsync has never seen may be created, and only as its local consent allows.
        if (route.kind === 'batch-new') {
          expect(remoteConsent).toBeUndefined();
          expect(route.status === 'subscribed').toBe(localConsent === 'subscribed');
        }
        if (remoteConsent === 'cleaned' || (localConsent === 'cleaned' && remoteConsent === undefined)) expect(['patch', 'none']).toContain(route.kind);
      }),
    );
  });

  it('re-sends neither pending (a second opt-in email) nor cleaned (not settable)', () => {
    expect(routeFor({ remoteConsent: 'pending' }, true)).toEqual({ kind: 'upsert', statusIfNew: 'pending' });
    expect(routeFor({ remoteConsent: 'cleaned', localConsent: 'subscribed' }, true)).toEqual({ kind: 'patch' });
    expect(routeFor({ remoteConsent: 'subscribed' }, false)).toEqual({ kind: 'none' });
  });
});
