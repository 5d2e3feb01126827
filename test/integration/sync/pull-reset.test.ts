/**
 * Declared cursors: each ESP's stored pull cursor resumes (a second pull reads nothing new), a cursor
 * segsync cannot read is a named error whose hint is `segsync pull --reset ESP`, and resetting reads
 * the ESP whole again.
 */
import { ValidationError } from '../../../src/errors';
import type { EspName } from '../../../src/model/types';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { FIRST_NAME_MAPPING, harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

describe.each<EspName>(['hubspot', 'mailchimp', 'klaviyo'])('pull --reset %s', (esp) => {
  let s: Sandboxes;
  let h: Harness;
  beforeAll(async () => {
    s = await startSandboxes();
    h = harness(sandboxConfig(s, FIRST_NAME_MAPPING));
    s[esp].seedContacts(Array.from({ length: 5 }, (_, i) => ({ email: `seed${i}@x.com` })));
    // Mailchimp times changes to the second: a pull leaves the current second to the next pull.
    await new Promise((resolve) => setTimeout(resolve, 1100));
  });
  afterAll(async () => {
    await h.close();
    await s.close();
  });

  it('resumes from its cursor, names the reset for a cursor it cannot read, and reads everything after a reset', async () => {
    expect((await h.engine.pull(esp)).contacts).toBe(5);
    expect((await h.engine.pull(esp)).contacts).toBe(0);

    h.store.setCursor(esp, 'contacts', '{"v":9,"from":"another segsync"}');
    const err = await h.engine.pull(esp).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).hint).toContain(`\`segsync pull --reset ${esp}\``);

    expect(h.engine.resetPull(esp)).toBeGreaterThanOrEqual(1);
    expect(h.store.getCursor(esp, 'contacts')).toBeUndefined();
    expect((await h.engine.pull(esp)).contacts).toBe(5);
    expect((await h.engine.pull(esp)).contacts).toBe(0);
  });
});
