import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../../../src/errors';
import { parseScenarios, sampleFromStore } from '../../../src/preview/scenarios';
import { openStore } from '../../../src/store/sqlite/sqlite-store';

describe('scenario files', () => {
  it('reads named scenarios with extends, merging properties and segments', () => {
    const s = parseScenarios(
      `now: 2026-05-01T09:00:00Z
scenarios:
  base:
    properties: { first_name: Ada, plan: free }
    segments: { cart_abandoner: false }
    tags: [a]
  vip:
    extends: base
    properties: { plan: pro }
    segments: { lifecycle_stage: lapsed }
    events:
      - { name: Added to Cart, properties: { total: 12 } }
`,
      's.yaml',
    );
    expect(s.map((x) => x.name)).toEqual(['base', 'vip']);
    expect(s[1]).toMatchObject({
      properties: { first_name: 'Ada', plan: 'pro' },
      segments: { cart_abandoner: false, lifecycle_stage: 'lapsed' },
      tags: ['a'],
      now: '2026-05-01T09:00:00Z',
      origin: 'file',
    });
    expect(s[1]!.events).toEqual([{ name: 'Added to Cart', time: undefined, properties: { total: 12 } }]);
  });

  it('names the line of an unknown field', () => {
    try {
      parseScenarios('scenarios:\n  - name: a\n    propertes: {}\n', 's.yaml');
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).location).toMatchObject({ file: 's.yaml', line: 2 });
      expect((err as ValidationError).message).toMatch(/propertes/);
    }
  });

  it('rejects an extends cycle and an unknown base, and duplicate names', () => {
    expect(() => parseScenarios('scenarios:\n  a: { extends: b }\n  b: { extends: a }\n', 's.yaml')).toThrow(/extends itself/);
    expect(() => parseScenarios('scenarios:\n  a: { extends: nope }\n', 's.yaml')).toThrow(/unknown scenario "nope"/);
    expect(() => parseScenarios('scenarios:\n  - { name: a }\n  - { name: a }\n', 's.yaml')).toThrow(/two scenarios are named "a"/);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(() => parseScenarios('scenarios: [\n', 's.yaml')).toThrow(ValidationError);
  });
});

describe('sampling contacts from the store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'segsync-preview-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('turns stored contacts into scenarios with properties, tags, segments and events', () => {
    const store = openStore(join(dir, 's.db'));
    try {
      const now = Date.parse('2026-05-01T00:00:00Z');
      store.upsertContacts(
        Array.from({ length: 10 }, (_, i) => ({
          email: `c${i}@example.com`,
          properties: { first_name: `C${i}`, points: i * 100 },
          tags: i % 2 ? ['vip'] : [],
          source: 'local' as const,
          time: now,
        })),
      );
      const ada = store.findContactByEmail('c0@example.com')!;
      store.saveEvaluation(ada.id, [{ contactId: ada.id, segment: 'lifecycle_stage', value: 'lapsed', since: now }], undefined);
      store.appendEvents([{ email: 'c0@example.com', name: 'Added to Cart', time: now, properties: { total: 12 }, source: 'track' }]);
      const sample = sampleFromStore(store, 4);
      expect(sample).toHaveLength(4);
      expect(new Set(sample.map((s) => s.name)).size).toBe(4);
      const first = sample.find((s) => s.email === 'c0@example.com')!;
      expect(first).toMatchObject({ origin: 'store', properties: { first_name: 'C0', points: 0 }, segments: { lifecycle_stage: 'lapsed' } });
      expect(first.events).toEqual([{ name: 'Added to Cart', time: '2026-05-01T00:00:00.000Z', properties: { total: 12 } }]);
      expect(sampleFromStore(store, 50)).toHaveLength(10);
    } finally {
      store.close();
    }
  });

  it('says whether an empty segment was never computed or has no members now', () => {
    const store = openStore(join(dir, 's.db'));
    try {
      store.upsertContacts([{ email: 'a@example.com', properties: {}, source: 'local', time: Date.now() }]);
      expect(() => sampleFromStore(store, 3, { segment: 'vip' })).toThrow(
        expect.objectContaining({ message: expect.stringContaining('no segment was computed in it yet'), hint: expect.stringContaining('segsync segments') }),
      );
      store.setAnswersFingerprint('rules-1');
      expect(() => sampleFromStore(store, 3, { segment: 'vip' })).toThrow(
        expect.objectContaining({ message: 'segment "vip" has no members now', hint: expect.stringContaining('leave out --segment') }),
      );
    } finally {
      store.close();
    }
  });
});
