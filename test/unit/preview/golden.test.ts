import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DialectName } from '../../../src/preview/dialects/dialect';
import { DIALECTS } from '../../../src/preview/dialects/index';
import { runGoldenCase } from '../../support/preview-corpora';
import type { GoldenCase } from '../../support/preview-corpora';

const ROOT = join(__dirname, '..', '..', 'golden');

describe.each(Object.keys(DIALECTS) as DialectName[])('golden corpus: %s', (dialect) => {
  const files = readdirSync(join(ROOT, dialect)).filter((f) => f.endsWith('.json'));
  const cases = files.flatMap((f) => {
    const doc = JSON.parse(readFileSync(join(ROOT, dialect, f), 'utf8')) as { dialect: string; tests: GoldenCase[] };
    expect(doc.dialect).toBe(dialect);
    return doc.tests;
  });

  it('has at least 30 cases, some of them expected errors', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(cases.some((c) => c.invalid)).toBe(true);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = runGoldenCase(DIALECTS[dialect], c);
    expect({ ok: r.ok, got: r.got }).toEqual({ ok: true, got: r.ok ? r.got : c.result });
  });
});
