/**
 * A segment pushed as a property whose type no longer fits the property segsync made for it (a flag
 * turned into a value): the schema step names the segment's push as the thing to change, not
 * segsync.yaml's `fields`, which does not hold it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Harness, Sandboxes } from '../../support/sandboxes';
import { harness, sandboxConfig, startSandboxes } from '../../support/sandboxes';

const segments = (vip: string): string => `segments:
  vip:
${vip}
    push: [{ esp: hubspot, as: property, name: is_vip }]
`;

describe("a segment's property that no longer fits", () => {
  let s: Sandboxes;
  let dir: string;
  let h: Harness | undefined;
  beforeEach(async () => {
    s = await startSandboxes();
    dir = mkdtempSync(join(tmpdir(), 'segsync-segment-schema-'));
  });
  afterEach(async () => {
    await h?.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("names the segment's push in the hint, and leaves the property as it is", async () => {
    h = harness(sandboxConfig(s, segments('    rule: contact.plan == "pro"')), undefined, undefined, join(dir, 'segsync.db'));
    expect((await h.engine.ensureSchema('hubspot')).created).toContain('is_vip');
    await h.close();
    h = harness(
      sandboxConfig(s, segments('    type: value\n    rule: \'contact.plan == "pro" ? "gold" : "standard"\'')),
      undefined,
      undefined,
      join(dir, 'segsync.db'),
    );
    const report = await h.engine.ensureSchema('hubspot');
    expect(report.problems).toEqual([
      {
        field: 'is_vip',
        message: 'HubSpot property "is_vip" is bool/booleancheckbox, which cannot hold a string',
        hint: 'segment vip (a value) is pushed to it: give segments.vip.push another property name, or change the property on hubspot',
      },
    ]);
    expect(s.hubspot.state.properties.get('is_vip')).toMatchObject({ type: 'bool' });
  });
});
