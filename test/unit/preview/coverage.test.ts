import { coverageMatrix } from '../../../src/preview/coverage';
import type { DialectName } from '../../../src/preview/dialects/dialect';
import { renderScenario } from '../../../src/preview/render';
import { emptyScenario } from '../../../src/preview/scenarios';
import type { Scenario } from '../../../src/preview/scenarios';
import { synthesizeScenarios } from '../../../src/preview/synthesize';
import { compileTemplateSource } from '../../../src/preview/template-file';

/** The same nested structure in every dialect: lines 2 (outer if/elif/else), 4 (inner if), 14 (loop + inner if). */
const TEMPLATES: Record<DialectName, { file: string; source: string }> = {
  liquid: {
    file: 'nested.liquid',
    source: `<p>start</p>
{% if vip %}
  VIP
  {% if points > 100 %}
    gold
  {% else %}
    silver
  {% endif %}
{% elsif plan == "pro" %}
  PRO
{% else %}
  STD
{% endif %}
{% for item in items %}{% if item.sale %}S{% endif %}{% endfor %}`,
  },
  klaviyo: {
    file: 'nested.klaviyo.html',
    source: `<p>start</p>
{% if vip %}
  VIP
  {% if points > 100 %}
    gold
  {% else %}
    silver
  {% endif %}
{% elif plan == "pro" %}
  PRO
{% else %}
  STD
{% endif %}
{% for item in items %}{% if item.sale %}S{% endif %}{% endfor %}`,
  },
  handlebars: {
    file: 'nested.hbs',
    source: `<p>start</p>
{{#if vip}}
  VIP
  {{#greaterThan points 100}}
    gold
  {{else}}
    silver
  {{/greaterThan}}
{{else equals plan "pro"}}
  PRO
{{else}}
  STD
{{/if}}
{{#each items}}{{#if sale}}S{{/if}}{{/each}}`,
  },
  hubl: {
    file: 'nested.hubl.html',
    source: `<p>start</p>
{% if vip %}
  VIP
  {% if points > 100 %}
    gold
  {% else %}
    silver
  {% endif %}
{% elif plan == "pro" %}
  PRO
{% else %}
  STD
{% endif %}
{% for item in items %}{% if item.sale %}S{% endif %}{% endfor %}`,
  },
  mailchimp: {
    file: 'nested.mc.html',
    source: `<p>start</p>
*|IF:VIP|*
  VIP
  *|IF:POINTS>100|*
    gold
  *|ELSE:|*
    silver
  *|END:IF|*
*|ELSEIF:PLAN=pro|*
  PRO
*|ELSE:|*
  STD
*|END:IF|*
*|INTERESTED:Topics:Sale|**|IF:VIP|*S*|END:IF|**|END:INTERESTED|*`,
  },
};

function scenario(name: string, context: Record<string, unknown>): Scenario {
  return { ...emptyScenario(), name, origin: 'file', context };
}

const SCENARIOS = (d: DialectName): Scenario[] =>
  d === 'mailchimp'
    ? [
        scenario('vip-gold', { VIP: 'yes', POINTS: '150', groups: { Topics: ['Sale'] } }),
        scenario('pro', { PLAN: 'pro' }),
        scenario('nobody', {}),
        scenario('vip-silver', { VIP: 'yes', POINTS: '50' }),
      ]
    : [
        scenario('vip-gold', { vip: true, points: 150, items: [{ sale: true }, { sale: false }] }),
        scenario('pro', { plan: 'pro' }),
        scenario('nobody', {}),
        scenario('vip-silver', { vip: true, points: 50 }),
      ];

describe.each(Object.keys(TEMPLATES) as DialectName[])('coverage matrix with nested conditionals: %s', (dialect) => {
  const { file, source } = TEMPLATES[dialect];
  const template = compileTemplateSource(source, file);
  const renders = SCENARIOS(dialect).map((s) => renderScenario(template, s));
  const matrix = coverageMatrix(template, renders);
  const byLine = (line: number, nth = 0) => matrix.filter((r) => r.block.line === line)[nth]!;

  it('lists the blocks with the template lines of every branch', () => {
    expect(matrix.map((r) => r.block.line)).toEqual([2, 4, 14, 14]);
    expect(byLine(2).block.branches.map((b) => [b.line, !!b.implicit])).toEqual([
      [2, false],
      [9, false],
      [11, false],
    ]);
    expect(byLine(4).block.branches.map((b) => b.line)).toEqual([4, 6]);
  });

  it('records the branch each scenario rendered, including nested blocks', () => {
    expect(byLine(2).cells.map((c) => c.branches)).toEqual([[0], [1], [2], [0]]);
    expect(byLine(4).cells.map((c) => c.branches)).toEqual([[0], [], [], [1]]);
    expect(renders.map((r) => r.html.replace(/\s+/g, ' ').trim())).toEqual([
      '<p>start</p> VIP gold S',
      '<p>start</p> PRO',
      '<p>start</p> STD',
      '<p>start</p> VIP silver',
    ]);
  });

  it('records loops and blocks inside them per iteration', () => {
    const outer = byLine(14, 0);
    const inner = byLine(14, 1);
    expect(outer.cells.map((c) => c.branches)).toEqual([[0], [1], [1], [1]]);
    if (dialect === 'mailchimp') {
      expect(inner.cells.map((c) => c.branches)).toEqual([[0], [], [], []]);
    } else {
      expect(outer.cells[0]!.iterations).toBe(2);
      expect(inner.cells.map((c) => c.branches)).toEqual([[0, 1], [], [], []]);
    }
    expect(matrix.every((r) => r.block.branches.every((b, i) => b.implicit || r.reached.has(i)))).toBe(true);
  });
});

describe.each(Object.keys(TEMPLATES) as DialectName[])('--cover scenario synthesis: %s', (dialect) => {
  it('finds scenarios that reach every branch of the nested template, implicit ones included', () => {
    const { file, source } = TEMPLATES[dialect];
    const template = compileTemplateSource(source, file);
    const reach = (s: Scenario): Set<string> => new Set([...renderScenario(template, s).branches].flatMap(([id, bs]) => bs.map((b) => `${id}#${b}`)));
    const scenarios = synthesizeScenarios(template.analysis, { reach });
    const reached = new Set(scenarios.flatMap((s) => [...reach(s)]));
    const all = template.blocks.flatMap((b) => b.branches.map((_, i) => `${b.id}#${i}`));
    expect(all.filter((k) => !reached.has(k))).toEqual([]);
    expect(scenarios.length).toBeLessThanOrEqual(all.length);
  });
});
