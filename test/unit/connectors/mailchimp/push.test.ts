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
  it('never sends a status to an existing member unless an opt-out was asked for, and then only unsubscribed', () => {
    fc.assert(
      fc.property(consent, consent, fc.boolean(), fc.boolean(), (localConsent, remoteConsent, hasFields, optOut) => {
        const route = routeFor({ localConsent, remoteConsent, ...(optOut ? { optOut: { at: 1 } } : {}) }, hasFields);
        if (remoteConsent !== undefined) {
          expect(['patch', 'none']).toContain(route.kind);
          if (route.kind === 'patch' && route.status !== undefined) {
            expect(optOut).toBe(true);
            expect(route.status).toBe('unsubscribed');
          }
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

  it('re-sends neither pending (a second opt-in email) nor cleaned (not settable), and does not re-send an opt-out', () => {
    expect(routeFor({ remoteConsent: 'pending' }, true)).toEqual({ kind: 'patch' });
    expect(routeFor({ remoteConsent: 'cleaned', localConsent: 'subscribed' }, true)).toEqual({ kind: 'patch' });
    expect(routeFor({ remoteConsent: 'subscribed' }, false)).toEqual({ kind: 'none' });
    expect(routeFor({ remoteConsent: 'subscribed', optOut: { at: 1 } }, false)).toEqual({ kind: 'patch', status: 'unsubscribed' });
    expect(routeFor({ remoteConsent: 'cleaned', optOut: { at: 1 } }, false)).toEqual({ kind: 'none' });
  });
});
