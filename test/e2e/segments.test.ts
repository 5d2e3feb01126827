import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CliRun } from '../support/cli';
import { runCliIn } from '../support/cli';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';

const TEMPLATE = resolve(__dirname, '../../templates/segsync.yaml');
const HOUR = 3_600_000;
const ENV = { HUBSPOT_ACCESS_TOKEN: 'pat-test', MAILCHIMP_API_KEY: 'key-us1', KLAVIYO_API_KEY: 'pk_test' };

const segsync = (dir: string, ...args: string[]): CliRun => runCliIn(dir, ENV, ...args);

describe('segsync segments and explain', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-segments-'));
    copyFileSync(TEMPLATE, join(dir, 'segsync.yaml'));
    const store = new SqliteStore({ path: join(dir, 'store.db') });
    const now = Date.now();
    store.upsertContacts([
      {
        email: 'cart@example.com',
        properties: { country: 'DE', plan: 'pro' },
        tags: ['newsletter'],
        consent: 'subscribed',
        source: 'local',
        time: now - 100 * 24 * HOUR,
      },
      { email: 'buyer@example.com', properties: { country: 'FR' }, consent: 'subscribed', source: 'local', time: now - 100 * 24 * HOUR },
    ]);
    store.appendEvents([
      { email: 'cart@example.com', name: 'Added to Cart', time: now - 30 * HOUR, properties: { product: 'boots' }, source: 'track' },
      { email: 'buyer@example.com', name: 'Placed Order', time: now - 5 * 24 * HOUR, properties: { value: 600 }, source: 'track' },
      { email: 'buyer@example.com', name: 'Placed Order', time: now - 2 * 24 * HOUR, properties: { value: '400.00' }, source: 'track' },
    ]);
    store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('recomputes everyone, prints segment sizes, and reports no changes on a second run', () => {
    const first = segsync(dir, 'segments');
    // One warning per event name no stored event has yet, at its first use.
    expect(
      first.stderr
        .trim()
        .split('\n')
        .map((l) => /event "([^"]+)" has not been seen yet/.exec(l)?.[1]),
    ).toEqual(['Viewed Product', 'Clicked Email', 'Opened Email']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^cart_abandoner\s+flag\s+1\s+\+1\s+-0/m);
    expect(first.stdout).toMatch(/^vip\s+flag\s+1\s+\+1/m);
    expect(first.stdout).toMatch(/^rfm\s+value\s+2\s+\+2\s+-0\s+~0\s+"1\d\d": 1/m);
    expect(first.stdout).toContain('2 contacts, 3 events; 2 contacts changed since the last run');
    const second = segsync(dir, 'segments', '--json');
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout) as { contactsChanged: number; segments: { segment: string; members: number; entered: number }[] };
    expect(summary.contactsChanged).toBe(0);
    expect(summary.segments.find((s) => s.segment === 'lifetime_value')).toMatchObject({ members: 2, entered: 0 });
  });

  it('evaluates one contact with --contact and says when its answers next change', () => {
    const r = segsync(dir, 'segments', '--contact', 'buyer@example.com');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}lifetime_value\s+1000$/m);
    expect(r.stdout).toMatch(/^ {2}vip\s+true$/m);
    expect(r.stdout).toMatch(/^next change by the clock alone: \d{4}-\d\d-\d\dT/m);
  });

  it('explains a segment as a tree with the deciding events', () => {
    const r = segsync(dir, 'explain', 'cart@example.com', 'cart_abandoner');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^cart_abandoner = true/);
    expect(r.stdout).toContain('none_within("Placed Order", 24h, "Added to Cart")  →  true');
    expect(r.stdout).toMatch(/· \S+ {2}Added to Cart {2}\{"product":"boots"\}/);
  });

  it('explains as of another time with --at', () => {
    const at = new Date(Date.now() - 20 * HOUR).toISOString();
    const r = segsync(dir, 'explain', 'cart@example.com', 'cart_abandoner', '--at', at, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ value: false, at });
  });

  it('evaluates several contacts as of an instant, matching explain --at, storing nothing', () => {
    const at = new Date(Date.now() - 20 * HOUR).toISOString();
    const before = segsync(dir, 'segments', '--contact', 'cart@example.com', '--json');
    const file = join(dir, 'emails.txt');
    writeFileSync(file, '# known profiles\nCART@example.com\n\nbuyer@example.com\nnobody@example.com\n');
    const r = segsync(dir, 'segments', '--contacts-file', file, '--as-of', at, '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no contact with email nobody@example.com');
    const out = JSON.parse(r.stdout) as {
      contacts: { email: string; at: string; saved: boolean; segments: { segment: string; value: unknown; nextChangeAt?: string }[] }[];
      missing: string[];
    };
    expect(out.missing).toEqual(['nobody@example.com']);
    expect(out.contacts.map((c) => [c.email, c.at, c.saved])).toEqual([
      ['cart@example.com', at, false],
      ['buyer@example.com', at, false],
    ]);
    for (const c of out.contacts) {
      for (const segment of ['cart_abandoner', 'lifecycle_stage']) {
        const x = JSON.parse(segsync(dir, 'explain', c.email, segment, '--at', at, '--json').stdout) as { value: unknown; nextChangeAt?: string };
        const mine = c.segments.find((s) => s.segment === segment)!;
        expect([c.email, segment, mine.value, mine.nextChangeAt]).toEqual([c.email, segment, x.value, x.nextChangeAt]);
      }
    }
    // 20 h ago the cart was 10 h old: not yet abandoned, and it becomes so 24 h after the cart add.
    const cart = out.contacts[0]!.segments.find((s) => s.segment === 'cart_abandoner')!;
    expect(cart.value).toBe(false);
    const wait = Date.parse(cart.nextChangeAt!) - Date.parse(at);
    expect(wait).toBeLessThanOrEqual(14 * HOUR);
    expect(wait).toBeGreaterThan(14 * HOUR - 5 * 60_000);
    const after = segsync(dir, 'segments', '--contact', 'cart@example.com', '--json');
    expect((JSON.parse(after.stdout) as { changed: unknown[] }).changed).toEqual([]);
    expect((JSON.parse(before.stdout) as { email: string }).email).toBe('cart@example.com');
  });

  it('prints the email as stored (lower-cased), whatever case was typed', () => {
    const r = segsync(dir, 'segments', '--contact', 'Buyer@Example.com', 'cart@example.com');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^buyer@example\.com \(#\d+\) at /m);
    expect(r.stdout).toMatch(/^cart@example\.com \(#\d+\) at /m);
  });

  it('evaluates everyone as of an instant without storing, and refuses --due with --as-of', () => {
    const at = new Date(Date.now() - 20 * HOUR).toISOString();
    const r = segsync(dir, 'segments', '--as-of', at, '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { at: string; segments: { segment: string; members: number }[] };
    expect(summary.at).toBe(at);
    expect(summary.segments.find((s) => s.segment === 'cart_abandoner')!.members).toBe(0);
    expect(segsync(dir, 'segments', '--due', '--as-of', at).code).toBe(2);
    expect(segsync(dir, 'segments', '--as-of', 'yesterday').stderr).toContain('--as-of yesterday is not a time');
  });

  it('exits 2 with a suggestion for an unknown segment or contact', () => {
    const seg = segsync(dir, 'explain', 'cart@example.com', 'cart_abandonr');
    expect(seg.code).toBe(2);
    expect(seg.stderr).toContain('did you mean "cart_abandoner"?');
    expect(segsync(dir, 'explain', 'nobody@example.com', 'vip').code).toBe(2);
  });

  it('exits 2 on a rule error, naming the file, line and column', () => {
    const bad = join(dir, 'bad');
    rmSync(bad, { recursive: true, force: true });
    spawnSync('mkdir', [bad]);
    copyFileSync(join(dir, 'store.db'), join(bad, 'store.db'));
    const yaml = readFileSync(TEMPLATE, 'utf8').replace('rule: count("Placed Order", 180d) >= 2', 'rule: count("Placed Ordre", 180d) >= 2');
    writeFileSync(join(bad, 'segsync.yaml'), yaml);
    const line = yaml.split('\n').findIndex((l) => l.includes('"Placed Ordre"')) + 1;
    const r = segsync(bad, 'segments');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`segsync.yaml:${line}:17: unknown event "Placed Ordre"`);
    expect(r.stderr).toContain('did you mean "Placed Order"?');
  });
});
