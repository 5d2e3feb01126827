import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runPreview } from '../../../src/preview/preview';
import { loadTemplateFile } from '../../../src/preview/template-file';

const ROOT = join(__dirname, '..', '..', '..', 'templates');
const CAMPAIGNS = ['cart-abandonment', 'browse-abandonment', 'vip', 'win-back', 'welcome'];
const templates = CAMPAIGNS.flatMap((c) =>
  readdirSync(join(ROOT, c))
    .filter((f) => f !== 'scenarios.yaml' && statSync(join(ROOT, c, f)).isFile())
    .map((f) => join(c, f)),
);

const unreached = (r: ReturnType<typeof runPreview>): string[] =>
  r.matrix.flatMap((row) => row.block.branches.filter((b, i) => !b.implicit && !row.reached.has(i)).map((b) => `${b.label}@${b.line}`));

describe('example templates', () => {
  it('exist for every seed campaign in every dialect', () => {
    for (const c of CAMPAIGNS) {
      const dialects = templates.filter((t) => t.startsWith(`${c}/`)).map((t) => loadTemplateFile(join(ROOT, t)).dialect);
      expect(new Set(dialects)).toEqual(new Set(['liquid', 'klaviyo', 'handlebars', 'mailchimp', 'hubl']));
    }
  });

  it.each(templates)('%s passes --check with its scenario file: every branch reached, no warnings', (t) => {
    const r = runPreview(join(ROOT, t));
    expect(r.scenarioSource).toMatch(/scenarios\.yaml$/);
    expect(r.warnings).toEqual([]);
    expect(unreached(r)).toEqual([]);
  });

  it.each(templates)('%s: --cover generates scenarios that reach every branch', (t) => {
    const r = runPreview(join(ROOT, t), { cover: true, includeEmpty: false });
    expect(unreached(r)).toEqual([]);
    expect(r.renders.every((x) => x.scenario.origin === 'cover')).toBe(true);
  });
});
