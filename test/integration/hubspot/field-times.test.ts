import type { Connector, RemoteContact } from '../../../connectors/connector';
import { createConnectors } from '../../../connectors/registry';
import { createLogger } from '../../../src/log/logger';
import { ManualClock } from '../../../src/model/clock';
import type { Sandboxes } from '../../support/sandboxes';
import { FIRST_NAME_MAPPING, sandboxConfig, startSandboxes } from '../../support/sandboxes';

describe('HubSpot pull: field change times from property history', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  let s: Sandboxes;
  let c: Connector;
  beforeAll(async () => {
    s = await startSandboxes({ clock });
    c = createConnectors(sandboxConfig(s, FIRST_NAME_MAPPING), { clock, logger: createLogger({ level: 'silent' }), ownedTags: [], only: ['hubspot'] }).get(
      'hubspot',
    )!;
  });
  afterAll(async () => {
    await c.close();
    await s.close();
  });

  it('gives every contact of a full 200-record search page its field time (batch reads of at most 100)', async () => {
    const named = clock.now();
    s.hubspot.seedContacts(Array.from({ length: 250 }, (_, i) => ({ email: `h${i}@x.com`, properties: { firstname: `H${i}` } })));
    await clock.advance(1000);
    let cursor: string | undefined;
    for await (const page of c.pull({ cursor, until: new Date(clock.now()), fields: ['firstname'] })) cursor = page.next;
    await clock.advance(60_000);
    for (let i = 0; i < 250; i++) s.hubspot.edit(`h${i}@x.com`, { lastname: 'L' });
    await clock.advance(1000);
    const seen: RemoteContact[] = [];
    for await (const page of c.pull({ cursor, until: new Date(clock.now()), fields: ['firstname'] })) seen.push(...page.contacts);
    expect(seen).toHaveLength(250);
    // The records changed a minute later (lastname); the first names kept the time they were set.
    expect(seen.every((r) => r.fieldModifiedAt?.firstname === named && r.modifiedAt > named)).toBe(true);
  });
});
