import { isRefused, networkCode, networkReason, unreachableError, unreachableHint } from '../../../connectors/unreachable';

describe('errors for calls that got no answer', () => {
  it('names the sandbox and how to start it when the address is on this machine', () => {
    expect(unreachableHint('hubspot', 'http://127.0.0.1:4101')).toBe(
      'is the sandbox on 127.0.0.1:4101 running? Start it with `segsync sandbox hubspot --port 4101`, or correct connectors.hubspot.baseUrl in segsync.yaml',
    );
    expect(unreachableHint('mailchimp', 'http://localhost:4102/3.0')).toContain('`segsync sandbox mailchimp --port 4102`');
  });

  it('points at the network and the baseUrl for a remote API', () => {
    expect(unreachableHint('klaviyo', 'https://a.klaviyo.com')).toBe(
      "check this machine's network (DNS, proxy, firewall) and connectors.klaviyo.baseUrl in segsync.yaml; segsync retries later",
    );
  });

  it('finds the socket error inside the errors SDKs wrap it in, and says it in words', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4101'), { code: 'ECONNREFUSED' });
    const wrapped = Object.assign(new Error('request failed'), { name: 'FetchError', cause: socket });
    expect(networkCode(wrapped)).toBe('ECONNREFUSED');
    expect(networkReason(wrapped)).toBe('connection refused');
    expect(networkReason({ timeout: 30000 })).toBe('timed out after 30000 ms');
    expect(networkReason({ type: 'request-timeout' })).toBe('timed out');
    expect(networkReason({ code: 'EWEIRD' })).toBe('EWEIRD');
    expect(isRefused(wrapped)).toBe(true);
    expect(isRefused({ code: 'ECONNRESET' })).toBe(false);
  });

  it('is one retryable error with the URL in its message and the check in its hint', () => {
    const err = unreachableError('hubspot', 'http://127.0.0.1:4101', 'contacts.getPage', { code: 'ECONNREFUSED' });
    expect(err.retryable).toBe(true);
    expect(err.message).toBe('hubspot: contacts.getPage: no answer from http://127.0.0.1:4101 (connection refused)');
    expect(err.hint).toMatch(/is the sandbox on 127\.0\.0\.1:4101 running\?/);
  });
});
