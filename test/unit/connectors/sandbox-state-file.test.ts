import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateFile, decodeState, encodeState } from '../../../connectors/sandbox-state-file';
import { UsageError } from '../../../src/errors';

describe('sandbox state file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-state-file-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips Maps and Sets, nested, through readable JSON', () => {
    const snapshot = {
      contacts: new Map([['1001', { id: '1001', properties: new Map([['email', 'a@x.com']]) }]]),
      blocklist: new Set(['b@x.com']),
      nextId: 1002,
    };
    const text = encodeState('hubspot', snapshot, Date.UTC(2026, 0, 1));
    expect(JSON.parse(text)).toMatchObject({ format: 'segsync-sandbox-state', version: 1, esp: 'hubspot', savedAt: '2026-01-01T00:00:00.000Z' });
    expect(decodeState('hubspot', text, 'f.json')).toEqual(snapshot);
  });

  it('refuses text that is not a state file, and a file of another vendor, naming the file', () => {
    expect(() => decodeState('klaviyo', 'not json', '/tmp/s.json')).toThrow(UsageError);
    expect(() => decodeState('klaviyo', '{"format":"other"}', '/tmp/s.json')).toThrow(/\/tmp\/s\.json is not a segsync sandbox state file/);
    expect(() => decodeState('klaviyo', encodeState('mailchimp', {}, 0), '/tmp/s.json')).toThrow(/holds a mailchimp sandbox, not klaviyo/);
  });

  it('writes the empty state at once when the file is new (folder created), then only after changes, atomically', async () => {
    let state = { n: 0 };
    const file = join(dir, 'nested', 'state.json');
    const sf = new StateFile({ esp: 'klaviyo', file, state: { snapshot: () => state, restore: (s) => void (state = s as { n: number }) }, delayMs: 10 });
    expect(sf.load()).toBe(false);
    expect(decodeState('klaviyo', readFileSync(file, 'utf8'), file)).toEqual({ n: 0 });
    state = { n: 1 };
    sf.changed();
    sf.changed();
    await new Promise((r) => setTimeout(r, 50));
    expect(decodeState('klaviyo', readFileSync(file, 'utf8'), file)).toEqual({ n: 1 });
    expect(readdirSync(join(dir, 'nested'))).toEqual(['state.json']);
    state = { n: 2 };
    sf.close();
    const again = new StateFile({ esp: 'klaviyo', file, state: { snapshot: () => state, restore: (s) => void (state = s as { n: number }) } });
    state = { n: -1 };
    expect(again.load()).toBe(true);
    expect(state).toEqual({ n: 2 });
  });

  it('writes after requests that may change something, not after reads', async () => {
    let state = { n: 0 };
    const file = join(dir, 'reads.json');
    const sf = new StateFile({ esp: 'mailchimp', file, state: { snapshot: () => state, restore: () => undefined }, delayMs: 5 });
    sf.load();
    state = { n: 1 };
    sf.afterRequest('GET');
    await new Promise((r) => setTimeout(r, 30));
    expect(decodeState('mailchimp', readFileSync(file, 'utf8'), file)).toEqual({ n: 0 });
    sf.afterRequest('PATCH');
    await new Promise((r) => setTimeout(r, 30));
    expect(decodeState('mailchimp', readFileSync(file, 'utf8'), file)).toEqual({ n: 1 });
  });

  it('refuses a path it cannot write at start, and leaves a foreign file untouched', () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const sf = new StateFile({ esp: 'hubspot', file: join(blocker, 'state.json'), state: { snapshot: () => ({}), restore: () => undefined } });
    expect(() => sf.load()).toThrow(/cannot write the sandbox state file/);
    const notes = new StateFile({ esp: 'hubspot', file: blocker, state: { snapshot: () => ({}), restore: () => undefined } });
    expect(() => notes.load()).toThrow(/is not a sandbox state file/);
    expect(readFileSync(blocker, 'utf8')).toBe('x');
  });
});
