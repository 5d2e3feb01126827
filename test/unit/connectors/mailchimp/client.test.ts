import { mailchimpBaseUrl } from '../../../../connectors/mailchimp/client';
import { EspPermanentError } from '../../../../src/errors';

describe('mailchimpBaseUrl', () => {
  it('takes the data centre from the key suffix for production', () => {
    expect(mailchimpBaseUrl('0123abcd-us21')).toBe('https://us21.api.mailchimp.com/3.0');
  });

  it('keeps a sandbox URL intact, even one containing "server", and adds /3.0 once', () => {
    expect(mailchimpBaseUrl('k-us1', 'http://mock-server:4010')).toBe('http://mock-server:4010/3.0');
    expect(mailchimpBaseUrl('k-us1', 'http://127.0.0.1:4010/3.0/')).toBe('http://127.0.0.1:4010/3.0');
  });

  it('refuses a key without a data centre, saying where to find the whole key', () => {
    expect(() => mailchimpBaseUrl('nodatacentre')).toThrow(EspPermanentError);
  });
});
