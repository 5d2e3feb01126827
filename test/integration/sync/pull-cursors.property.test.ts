/**
 * Cursors that cannot skip: random interleavings of creates, edits (re-edits of one record, edits
 * within one second or one millisecond, clears), clock ticks and incremental pulls against each
 * sandbox, through the real connector and SDK. The sandbox's own state is the oracle: after every pull,
 * each contact whose last change is safely older than the pull's upper bound must have arrived with
 * its current value, and after a final pull every contact must have.
 */
import fc from 'fast-check';
import type { Connector, Cursor, EspName } from '../../../connectors/connector';
import { createConnectors } from '../../../connectors/registry';
import { createLogger } from '../../../src/log/logger';
import { ManualClock } from '../../../src/model/clock';
import type { Sandboxes } from '../../support/sandboxes';
import { sandboxConfig, startSandboxes } from '../../support/sandboxes';

const FIELD: Record<EspName, string> = { hubspot: 'firstname', mailchimp: 'FNAME', klaviyo: 'first_name' };

type Op = { kind: 'write'; who: number; name: string } | { kind: 'tick'; ms: number } | { kind: 'pull' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), who: fc.integer({ min: 0, max: 3 }), name: fc.constantFrom('A', 'B', 'C', '') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.constantFrom(0, 1, 250, 999, 1000, 1500) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'pull' as const }) },
);

/** How the test writes to one sandbox, as a person in the vendor's app would. */
interface Driver {
  write(email: string, name: string): void;
  value(email: string): string;
}

function driver(s: Sandboxes, esp: EspName): Driver {
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  switch (esp) {
    case 'hubspot':
      return {
        write: (email, name) =>
          s.hubspot.contact(email)
            ? void s.hubspot.edit(email, { firstname: name })
            : s.hubspot.seedContacts([{ email, properties: name ? { firstname: name } : {} }]),
        value: (email) => text(s.hubspot.contact(email)?.properties.firstname),
      };
    case 'mailchimp':
      return {
        write: (email, name) =>
          s.mailchimp.member(email)
            ? s.mailchimp.admin.update(email, { merges: { FNAME: name } })
            : s.mailchimp.seedContacts([{ email, properties: { FNAME: name } }]),
        value: (email) => text(s.mailchimp.member(email)?.merge_fields.FNAME),
      };
    case 'klaviyo':
      return {
        write: (email, name) => void s.klaviyo.seedProfile({ email, first_name: name === '' ? (null as unknown as string) : name }),
        value: (email) => text(s.klaviyo.profileByEmail(email)?.first_name),
      };
  }
}

const w = (who: number, name: string): Op => ({ kind: 'write', who, name });
const tick = (ms: number): Op => ({ kind: 'tick', ms });
const pull: Op = { kind: 'pull' };
/** The reproductions, run first on every sandbox. */
const FINDINGS: Op[][] = [
  // Finding 1: create, pull; edit, pull; pull again (idle); edit; pull: the last edit must arrive.
  [w(0, 'H1'), tick(1500), pull, w(0, 'H2'), tick(1500), pull, pull, w(0, 'H3'), tick(1500), pull],
  // Finding 2: an idle pull on a short page must not move the window past the changed member.
  [w(0, 'M1'), tick(1500), pull, tick(1500), pull, w(0, 'M2'), tick(1500), pull],
  // A record going back to an earlier version within one millisecond (A → B → A) arrives again.
  [w(0, 'A'), tick(1500), pull, w(0, 'B'), pull, w(0, 'A'), tick(1500), pull],
];

describe.each<EspName>(['hubspot', 'mailchimp', 'klaviyo'])('%s incremental pull under random edits and pulls', (esp) => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0, 400));
  let s: Sandboxes;
  let connector: Connector;

  beforeAll(async () => {
    s = await startSandboxes({ clock });
    const logger = createLogger({ level: 'silent' });
    connector = createConnectors(sandboxConfig(s, ''), { clock, logger, ownedTags: [], only: [esp] }).get(esp)!;
  });
  afterAll(async () => {
    await connector.close();
    await s.close();
  });

  it('never misses an edit: every contact arrives with its current value (sandbox state is the oracle)', async () => {
    const d = driver(s, esp);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        run++;
        const emails = [0, 1, 2, 3].map((i) => `r${run}.p${i}@x.com`);
        const lastWrite = new Map<string, number>();
        const seen = new Map<string, string>();
        let cursor: Cursor | undefined;
        const pullAll = async (): Promise<number> => {
          const until = clock.now();
          for await (const page of connector.pull({ cursor, until: new Date(until), fields: [FIELD[esp]] })) {
            for (const c of page.contacts) if (c.email) seen.set(c.email, typeof c.fields[FIELD[esp]] === 'string' ? (c.fields[FIELD[esp]] as string) : '');
            cursor = page.next;
          }
          return until;
        };
        const check = (settledBefore: number): void => {
          for (const email of emails) {
            const at = lastWrite.get(email);
            if (at === undefined || at >= settledBefore) continue;
            expect({ email, pulled: seen.get(email) ?? '(never pulled)' }).toEqual({ email, pulled: d.value(email) });
          }
        };
        for (const op of ops) {
          if (op.kind === 'write') {
            d.write(emails[op.who]!, op.name);
            lastWrite.set(emails[op.who]!, clock.now());
          } else if (op.kind === 'tick') await clock.advance(op.ms);
          else {
            const until = await pullAll();
            // Vendors' change times have whole seconds (Mailchimp, Klaviyo): a change is surely inside
            // a pull's window once a whole second lies between it and the window's upper bound.
            check(Math.floor(until / 1000) * 1000 - 1000);
          }
        }
        await clock.advance(2001);
        await pullAll();
        check(Number.POSITIVE_INFINITY);
      }),
      { numRuns: 40, seed: 15_2026, endOnFailure: true, examples: FINDINGS.map((ops) => [ops]) },
    );
  }, 120_000);
});
