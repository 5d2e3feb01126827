/**
 * A contact import with the consent states real ESP exports carry, with creation times, and with
 * values checked against the types segsync.yaml declares: no unknown or unfit value costs a record,
 * each is a warning naming the line and the field, and `created_at` becomes the time rules read as
 * `created_at`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importFile } from '../../../src/ingest/importer';
import type { ImportWarning } from '../../../src/ingest/importer';
import { toIncomingContact } from '../../../src/ingest/records';
import { ManualClock } from '../../../src/model/clock';
import { consentVocabulary } from '../../../src/model/consent';
import { SegmentEngine } from '../../../src/rules/engine';
import { inlineSources } from '../../../src/rules/ruleset';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';

const NOW = Date.UTC(2026, 4, 1);
const DAY = 86_400_000;

describe('contact import: consent vocabulary and creation times', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-contacts-'));
    store = new SqliteStore({ path: join(dir, 'db.sqlite'), now: () => NOW });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function importLines(lines: unknown[]): Promise<{ summary: Awaited<ReturnType<typeof importFile>>; warnings: ImportWarning[] }> {
    const file = join(dir, 'contacts.jsonl');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const warnings: ImportWarning[] = [];
    const summary = await importFile({ kind: 'contacts', file, store, now: () => NOW, onWarning: (w) => warnings.push(w) });
    return { summary, warnings };
  }

  it('maps the states ESPs report onto segsync consent', async () => {
    const states: [string, string][] = [
      ['bounced', 'cleaned'],
      ['Hard Bounce', 'cleaned'],
      ['complained', 'unsubscribed'],
      ['spam', 'unsubscribed'],
      ['SPAM_COMPLAINT', 'unsubscribed'],
      ['suppressed', 'cleaned'],
      ['cleaned', 'cleaned'],
      ['opted-out', 'unsubscribed'],
      ['transactional', 'non-marketing'],
      ['NEVER_SUBSCRIBED', 'non-marketing'],
      ['unconfirmed', 'pending'],
      ['SUBSCRIBED', 'subscribed'],
    ];
    const { summary, warnings } = await importLines(states.map(([consent], i) => ({ email: `c${i}@x.com`, consent })));
    expect(summary).toMatchObject({ read: states.length, imported: states.length, rejected: 0, warnings: 0 });
    expect(warnings).toEqual([]);
    states.forEach(([, status], i) => expect([states[i]![0], store.findContactByEmail(`c${i}@x.com`)!.consent?.status]).toEqual([states[i]![0], status]));
  });

  it('keeps a contact whose consent is unknown, with its properties and tags, and names the field in a warning', async () => {
    const { summary, warnings } = await importLines([
      { email: 'ok@x.com', consent: 'subscribed' },
      { email: 'odd@x.com', consent: 'soft-bounced-twice', properties: { plan: 'pro' }, tags: ['vip'] },
      { email: 'num@x.com', consent: 7, properties: { plan: 'free' } },
    ]);
    expect(summary).toMatchObject({ read: 3, imported: 3, rejected: 0, contactsCreated: 3, warnings: 2, rejectsFile: undefined });
    expect(warnings).toEqual([
      expect.objectContaining({ line: 2, field: 'consent', message: expect.stringContaining('unknown consent "soft-bounced-twice"') }),
      expect.objectContaining({ line: 3, field: 'consent' }),
    ]);
    const odd = store.findContactByEmail('odd@x.com')!;
    expect(odd.consent).toBeUndefined();
    expect(odd.properties.plan!.value).toBe('pro');
    expect([...odd.tags]).toEqual(['vip']);
    expect(store.findContactByEmail('num@x.com')!.properties.plan!.value).toBe('free');
  });

  it('does not let an unknown consent change a consent already stored', async () => {
    await importLines([{ email: 'a@x.com', consent: 'unsubscribed' }]);
    await importLines([{ email: 'a@x.com', consent: 'whatever', properties: { plan: 'pro' } }]);
    const a = store.findContactByEmail('a@x.com')!;
    expect(a.consent?.status).toBe('unsubscribed');
    expect(a.properties.plan!.value).toBe('pro');
  });

  it('never lets an undated or older consent undo a newer one: an old export imported today resubscribes nobody', async () => {
    // Opted out on an ESP yesterday (as a pull records it), and one contact opted out by an earlier import.
    const [ann, bo] = store
      .upsertContacts([
        { email: 'ann@x.com', properties: {}, consent: 'subscribed', source: 'local', time: NOW - 30 * DAY },
        { email: 'bo@x.com', properties: {}, source: 'local', time: NOW - 30 * DAY },
      ])
      .map((o) => o.contactId);
    store.setConsent(ann!, { status: 'unsubscribed', updatedAt: NOW - DAY, source: 'hubspot' });
    store.setConsent(bo!, { status: 'cleaned', updatedAt: NOW - 2 * DAY, source: 'local' });
    const { summary, warnings } = await importLines([
      { email: 'ann@x.com', consent: 'subscribed', properties: { plan: 'pro' } },
      { email: 'bo@x.com', consent: 'subscribed', time: new Date(NOW - 10 * DAY).toISOString() },
      { email: 'cy@x.com', consent: 'subscribed' },
    ]);
    expect(summary).toMatchObject({ imported: 3, rejected: 0, warnings: 2 });
    expect(warnings).toEqual([
      {
        line: 1,
        field: 'consent',
        message:
          '"subscribed" would lift the opt-out stored since 2026-04-30 00:00 UTC (from hubspot), and this record does not say when it was given: left as it was',
        hint: 'if the person subscribed again after that, give the record a "time" (when they did); an export taken before the opt-out must not undo it',
      },
      {
        line: 2,
        field: 'consent',
        message: '"subscribed" is older than the stored consent, cleaned since 2026-04-29 00:00 UTC: left as it was',
        hint: 'a newer consent stands',
      },
    ]);
    expect(store.getContact(ann!)!.consent).toEqual({ status: 'unsubscribed', updatedAt: NOW - DAY, source: 'hubspot' });
    expect(store.getContact(ann!)!.properties.plan!.value).toBe('pro');
    expect(store.getContact(bo!)!.consent?.status).toBe('cleaned');
    expect(store.findContactByEmail('cy@x.com')!.consent?.status).toBe('subscribed');

    // A record that says the person subscribed again after the opt-out is taken, at that time; an undated opt-out always is.
    const again = NOW - 3_600_000;
    const later = await importLines([
      { email: 'ann@x.com', consent: 'subscribed', time: new Date(again).toISOString() },
      { email: 'cy@x.com', consent: 'unsubscribed' },
    ]);
    expect(later.warnings).toEqual([]);
    expect(store.getContact(ann!)!.consent).toEqual({ status: 'subscribed', updatedAt: again, source: 'local' });
    expect(store.findContactByEmail('cy@x.com')!.consent?.status).toBe('unsubscribed');
  });

  it('keeps the record when tags or the creation time are not understood', async () => {
    const { summary, warnings } = await importLines([{ email: 'a@x.com', tags: 5, created_at: 'last spring', properties: { plan: 'pro' } }]);
    expect(summary).toMatchObject({ imported: 1, rejected: 0, warnings: 2 });
    expect(warnings.map((w) => w.field).sort()).toEqual(['created_at', 'tags']);
    const a = store.findContactByEmail('a@x.com')!;
    expect(a.properties.plan!.value).toBe('pro');
    expect(a.createdAt).toBe(NOW);
    expect(a.properties.created_at).toBeUndefined();
  });

  it("sets the contact creation time from created_at (or Segment's createdAt), not a property, for new and known contacts", async () => {
    const created = Date.UTC(2025, 10, 2, 8, 30);
    await importLines([{ email: 'known@x.com' }]);
    expect(store.findContactByEmail('known@x.com')!.createdAt).toBe(NOW);
    await importLines([
      { email: 'new@x.com', created_at: '2025-11-02T08:30:00Z' },
      { email: 'known@x.com', properties: { created_at: created } },
      { email: 'seg@x.com', traits: { createdAt: '2025-11-02T08:30:00Z', name: 'Ada' } },
    ]);
    for (const email of ['new@x.com', 'known@x.com', 'seg@x.com']) {
      const c = store.findContactByEmail(email)!;
      expect([email, c.createdAt]).toEqual([email, created]);
      expect(c.properties.created_at).toBeUndefined();
      expect(c.properties.createdAt).toBeUndefined();
    }
    expect(store.findContactByEmail('seg@x.com')!.properties.name!.value).toBe('Ada');
  });

  it('makes a lifecycle rule on created_at read the imported creation time', async () => {
    await importLines([
      { email: 'old@x.com', created_at: new Date(NOW - 400 * DAY).toISOString() },
      { email: 'fresh@x.com', created_at: new Date(NOW - 3 * DAY).toISOString() },
      { email: 'unknown@x.com' },
    ]);
    const engine = SegmentEngine.fromSources(inlineSources({ fresh: 'now - created_at < 14d' }), store, new ManualClock(NOW + DAY));
    engine.recomputeAll();
    const member = (email: string): unknown => store.getSegmentStates(store.findContactByEmail(email)!.id).find((s) => s.segment === 'fresh')?.value ?? false;
    expect(member('old@x.com')).toBe(false);
    expect(member('fresh@x.com')).toBe(true);
    // Without created_at the contact is as new as its first sighting.
    expect(member('unknown@x.com')).toBe(true);
  });

  it("reads a CSV's cells as the types segsync.yaml declares, and leaves out a value that does not fit, naming line and field", async () => {
    const file = join(dir, 'contacts.csv');
    writeFileSync(file, 'email,first_name,plan,score,vip,signed_up\na@x.com,Ann,pro,42,yes,2026-04-02\nb@x.com,Bob,gold,n/a,no,04/02/2026\n');
    const warnings: ImportWarning[] = [];
    const fields = {
      plan: { type: 'enum' as const, options: ['free', 'pro'] },
      score: { type: 'number' as const },
      vip: { type: 'boolean' as const },
      signed_up: { type: 'date' as const },
    };
    const summary = await importFile({ kind: 'contacts', file, store, now: () => NOW, fields, onWarning: (w) => warnings.push(w) });
    expect(summary).toMatchObject({ read: 2, imported: 2, rejected: 0, contactsCreated: 2, warnings: 3 });
    const props = (email: string): Record<string, unknown> =>
      Object.fromEntries(Object.entries(store.findContactByEmail(email)!.properties).map(([k, v]) => [k, v.value]));
    expect(props('a@x.com')).toEqual({ first_name: 'Ann', plan: 'pro', score: 42, vip: true, signed_up: '2026-04-02' });
    expect(props('b@x.com')).toEqual({ first_name: 'Bob', vip: false });
    expect(warnings).toEqual([
      expect.objectContaining({ line: 3, field: 'plan', message: expect.stringContaining('"gold" is not one of plan\'s options (free, pro): left out') }),
      expect.objectContaining({ line: 3, field: 'score', message: expect.stringContaining('"n/a" is not a number') }),
      expect.objectContaining({ line: 3, field: 'signed_up', hint: expect.stringContaining('YYYY-MM-DD') }),
    ]);
  });

  it('takes every value as it is without declared fields (no segsync.yaml)', async () => {
    const { warnings } = await importLines([{ email: 'c@x.com', properties: { plan: 'gold', score: 'n/a' } }]);
    expect(warnings).toEqual([]);
    expect(store.findContactByEmail('c@x.com')!.properties.plan?.value).toBe('gold');
  });

  it('still refuses a record without a usable email', () => {
    expect(() => toIncomingContact({ consent: 'bounced' }, 'local', NOW)).toThrow(/missing email/);
    expect(() => toIncomingContact(['a@x.com'], 'local', NOW)).toThrow(/JSON object/);
  });
});

test('docs/rules.md lists every consent spelling segsync accepts, under the status it maps to', () => {
  const docs = readFileSync(join(__dirname, '../../../docs/rules.md'), 'utf8');
  for (const [status, words] of Object.entries(consentVocabulary())) {
    const row = docs.split('\n').find((l) => l.startsWith(`| \`${status}\` |`));
    expect([status, row]).toEqual([status, expect.any(String)]);
    for (const word of words.filter((w) => w !== status)) expect([status, word, row!.includes(`\`${word}\``)]).toEqual([status, word, true]);
  }
});
