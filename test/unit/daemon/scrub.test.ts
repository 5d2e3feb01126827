import { scrubEmails } from '../../../src/daemon/scrub';
import { hashEmail } from '../../../src/log/logger';

describe('scrubEmails', () => {
  it('replaces every email address with its hash and leaves the rest of the text', () => {
    const out = scrubEmails('upsert of "Ada.Lovelace+vip@Example.co.uk" and <bob@example.com> failed: 400');
    expect(out).toBe(`upsert of "${hashEmail('ada.lovelace+vip@example.co.uk')}" and <${hashEmail('bob@example.com')}> failed: 400`);
  });

  it('leaves text without addresses alone', () => {
    expect(scrubEmails('rate limited @ 10/s, retry in 2 s')).toBe('rate limited @ 10/s, retry in 2 s');
  });
});
