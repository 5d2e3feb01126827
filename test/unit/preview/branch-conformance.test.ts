/**
 * Every branch-opening construct of every dialect, with a probe in each branch body: the coverage
 * matrix must list one block with exactly as many branches as the template wrote (plus the implicit
 * "nothing rendered" outcome where there is no else), and in every render the branch the matrix
 * records must be the branch whose probe is in the output. A construct the instrumentation misses
 * (liquidjs's `unless` once did, silently) fails here.
 */
import type { DialectName } from '../../../src/preview/dialects/dialect';
import { DIALECTS } from '../../../src/preview/dialects/index';

interface Construct {
  dialect: DialectName;
  name: string;
  /** `{P0}`, `{P1}`, … mark the branch bodies, in branch order. */
  template: string;
  /** True when the construct has no else/empty, so the matrix adds an implicit outcome. */
  implicit: boolean;
  /** Contexts that, together, reach every branch (the implicit one included). */
  contexts: Record<string, unknown>[];
}

const T = { v: true };
const F = { v: false };
const L3 = { items: [1, 2, 3] };
const L0 = { items: [] };

const CONSTRUCTS: Construct[] = [
  { dialect: 'liquid', name: 'if', template: '{% if v %}{P0}{% endif %}', implicit: true, contexts: [T, F] },
  { dialect: 'liquid', name: 'if/else', template: '{% if v %}{P0}{% else %}{P1}{% endif %}', implicit: false, contexts: [T, F] },
  {
    dialect: 'liquid',
    name: 'if/elsif/else',
    template: '{% if n == 1 %}{P0}{% elsif n == 2 %}{P1}{% else %}{P2}{% endif %}',
    implicit: false,
    contexts: [{ n: 1 }, { n: 2 }, { n: 3 }],
  },
  {
    dialect: 'liquid',
    name: 'if/elsif',
    template: '{% if n == 1 %}{P0}{% elsif n == 2 %}{P1}{% endif %}',
    implicit: true,
    contexts: [{ n: 1 }, { n: 2 }, { n: 3 }],
  },
  { dialect: 'liquid', name: 'unless', template: '{% unless v %}{P0}{% endunless %}', implicit: true, contexts: [T, F] },
  { dialect: 'liquid', name: 'unless/else', template: '{% unless v %}{P0}{% else %}{P1}{% endunless %}', implicit: false, contexts: [T, F] },
  {
    dialect: 'liquid',
    name: 'unless/elsif/else',
    template: '{% unless v %}{P0}{% elsif n == 1 %}{P1}{% else %}{P2}{% endunless %}',
    implicit: false,
    contexts: [F, { v: true, n: 1 }, { v: true, n: 2 }],
  },
  {
    dialect: 'liquid',
    name: 'case/when',
    template: '{% case n %}{% when 1 %}{P0}{% when 2 %}{P1}{% endcase %}',
    implicit: true,
    contexts: [{ n: 1 }, { n: 2 }, { n: 3 }],
  },
  {
    dialect: 'liquid',
    name: 'case/when/else',
    template: '{% case n %}{% when 1 %}{P0}{% else %}{P1}{% endcase %}',
    implicit: false,
    contexts: [{ n: 1 }, { n: 2 }],
  },
  { dialect: 'liquid', name: 'for', template: '{% for i in items %}{P0}{% endfor %}', implicit: true, contexts: [L3, L0] },
  { dialect: 'liquid', name: 'for/else', template: '{% for i in items %}{P0}{% else %}{P1}{% endfor %}', implicit: false, contexts: [L3, L0] },
  { dialect: 'liquid', name: 'tablerow', template: '{% tablerow i in items %}{P0}{% endtablerow %}', implicit: true, contexts: [L3, L0] },

  { dialect: 'klaviyo', name: 'if', template: '{% if v %}{P0}{% endif %}', implicit: true, contexts: [T, F] },
  { dialect: 'klaviyo', name: 'if/else', template: '{% if v %}{P0}{% else %}{P1}{% endif %}', implicit: false, contexts: [T, F] },
  {
    dialect: 'klaviyo',
    name: 'if/elif/else',
    template: '{% if n == 1 %}{P0}{% elif n == 2 %}{P1}{% else %}{P2}{% endif %}',
    implicit: false,
    contexts: [{ n: 1 }, { n: 2 }, { n: 3 }],
  },
  {
    dialect: 'klaviyo',
    name: 'if/elif',
    template: '{% if n == 1 %}{P0}{% elif n == 2 %}{P1}{% endif %}',
    implicit: true,
    contexts: [{ n: 1 }, { n: 2 }, { n: 3 }],
  },
  { dialect: 'klaviyo', name: 'for', template: '{% for i in items %}{P0}{% endfor %}', implicit: true, contexts: [L3, L0] },
  { dialect: 'klaviyo', name: 'for/empty', template: '{% for i in items %}{P0}{% empty %}{P1}{% endfor %}', implicit: false, contexts: [L3, L0] },

  { dialect: 'handlebars', name: '#if', template: '{{#if v}}{P0}{{/if}}', implicit: true, contexts: [T, F] },
  { dialect: 'handlebars', name: '#if/else', template: '{{#if v}}{P0}{{else}}{P1}{{/if}}', implicit: false, contexts: [T, F] },
  {
    dialect: 'handlebars',
    name: '#if/else if/else',
    template: '{{#if a}}{P0}{{else if b}}{P1}{{else}}{P2}{{/if}}',
    implicit: false,
    contexts: [{ a: 1 }, { b: 1 }, {}],
  },
  { dialect: 'handlebars', name: '#if/else if', template: '{{#if a}}{P0}{{else if b}}{P1}{{/if}}', implicit: true, contexts: [{ a: 1 }, { b: 1 }, {}] },
  { dialect: 'handlebars', name: '#unless', template: '{{#unless v}}{P0}{{/unless}}', implicit: true, contexts: [T, F] },
  { dialect: 'handlebars', name: '#unless/else', template: '{{#unless v}}{P0}{{else}}{P1}{{/unless}}', implicit: false, contexts: [T, F] },
  { dialect: 'handlebars', name: '#each', template: '{{#each items}}{P0}{{/each}}', implicit: true, contexts: [L3, L0] },
  { dialect: 'handlebars', name: '#each/else', template: '{{#each items}}{P0}{{else}}{P1}{{/each}}', implicit: false, contexts: [L3, L0] },
  { dialect: 'handlebars', name: '#with/else', template: '{{#with p}}{P0}{{else}}{P1}{{/with}}', implicit: false, contexts: [{ p: { a: 1 } }, {}] },
  { dialect: 'handlebars', name: '#with', template: '{{#with p}}{P0}{{/with}}', implicit: true, contexts: [{ p: { a: 1 } }, {}] },
  { dialect: 'handlebars', name: '#equals/else', template: '{{#equals n 1}}{P0}{{else}}{P1}{{/equals}}', implicit: false, contexts: [{ n: 1 }, { n: 2 }] },
  { dialect: 'handlebars', name: '#notEquals', template: '{{#notEquals n 1}}{P0}{{/notEquals}}', implicit: true, contexts: [{ n: 1 }, { n: 2 }] },
  {
    dialect: 'handlebars',
    name: '#greaterThan/else',
    template: '{{#greaterThan n 1}}{P0}{{else}}{P1}{{/greaterThan}}',
    implicit: false,
    contexts: [{ n: 2 }, { n: 0 }],
  },
  { dialect: 'handlebars', name: '#lessThan', template: '{{#lessThan n 1}}{P0}{{/lessThan}}', implicit: true, contexts: [{ n: 0 }, { n: 2 }] },
  { dialect: 'handlebars', name: '#and/else', template: '{{#and a b}}{P0}{{else}}{P1}{{/and}}', implicit: false, contexts: [{ a: 1, b: 1 }, { a: 1 }] },
  { dialect: 'handlebars', name: '#or', template: '{{#or a b}}{P0}{{/or}}', implicit: true, contexts: [{ a: 1 }, {}] },
  {
    dialect: 'handlebars',
    name: 'Mandrill elseif and backticks',
    template: '{{#if `n > 2`}}{P0}{{elseif `n == 1`}}{P1}{{else}}{P2}{{/if}}',
    implicit: false,
    contexts: [{ n: 3 }, { n: 1 }, { n: 2 }],
  },

  { dialect: 'mailchimp', name: 'IF', template: '*|IF:V|*{P0}*|END:IF|*', implicit: true, contexts: [{ V: 'x' }, {}] },
  { dialect: 'mailchimp', name: 'IF/ELSE', template: '*|IF:V|*{P0}*|ELSE:|*{P1}*|END:IF|*', implicit: false, contexts: [{ V: 'x' }, {}] },
  {
    dialect: 'mailchimp',
    name: 'IF/ELSEIF/ELSE',
    template: '*|IF:N=1|*{P0}*|ELSEIF:N=2|*{P1}*|ELSE:|*{P2}*|END:IF|*',
    implicit: false,
    contexts: [{ N: '1' }, { N: '2' }, { N: '3' }],
  },
  {
    dialect: 'mailchimp',
    name: 'IF/ELSEIF',
    template: '*|IF:N=1|*{P0}*|ELSEIF:N=2|*{P1}*|END:IF|*',
    implicit: true,
    contexts: [{ N: '1' }, { N: '2' }, { N: '3' }],
  },
  { dialect: 'mailchimp', name: 'IFNOT/ELSE', template: '*|IFNOT:V|*{P0}*|ELSE:|*{P1}*|END:IF|*', implicit: false, contexts: [{}, { V: 'x' }] },
  { dialect: 'mailchimp', name: 'IFNOT', template: '*|IFNOT:V|*{P0}*|END:IF|*', implicit: true, contexts: [{}, { V: 'x' }] },
  {
    dialect: 'mailchimp',
    name: 'INTERESTED/ELSE',
    template: '*|INTERESTED:Interests:Dogs|*{P0}*|ELSE:|*{P1}*|END:INTERESTED|*',
    implicit: false,
    contexts: [{ groups: { Interests: ['Dogs'] } }, { groups: {} }],
  },
  {
    dialect: 'mailchimp',
    name: 'INTERESTED',
    template: '*|INTERESTED:Interests:Dogs|*{P0}*|END:INTERESTED|*',
    implicit: true,
    contexts: [{ groups: { Interests: ['Dogs'] } }, { groups: {} }],
  },

  { dialect: 'hubl', name: 'if', template: '{% if v %}{P0}{% endif %}', implicit: true, contexts: [T, F] },
  { dialect: 'hubl', name: 'if/else', template: '{% if v %}{P0}{% else %}{P1}{% endif %}', implicit: false, contexts: [T, F] },
  {
    dialect: 'hubl',
    name: 'if/elif/else',
    template: '{% if n == 1 %}{P0}{% elif n == 2 %}{P1}{% else %}{P2}{% endif %}',
    implicit: false,
    contexts: [{ n: 1 }, { n: 2 }, { n: 3 }],
  },
  {
    dialect: 'hubl',
    name: 'if/elif',
    template: '{% if n == 1 %}{P0}{% elif n == 2 %}{P1}{% endif %}',
    implicit: true,
    contexts: [{ n: 1 }, { n: 2 }, { n: 3 }],
  },
  {
    dialect: 'hubl',
    name: 'if/elseif/else',
    template: '{% if n == 1 %}{P0}{% elseif n == 2 %}{P1}{% else %}{P2}{% endif %}',
    implicit: false,
    contexts: [{ n: 1 }, { n: 2 }, { n: 3 }],
  },
  { dialect: 'hubl', name: 'unless', template: '{% unless v %}{P0}{% endunless %}', implicit: true, contexts: [T, F] },
  { dialect: 'hubl', name: 'unless/else', template: '{% unless v %}{P0}{% else %}{P1}{% endunless %}', implicit: false, contexts: [T, F] },
  { dialect: 'hubl', name: 'for', template: '{% for i in items %}{P0}{% endfor %}', implicit: true, contexts: [L3, L0] },
  { dialect: 'hubl', name: 'for/else', template: '{% for i in items %}{P0}{% else %}{P1}{% endfor %}', implicit: false, contexts: [L3, L0] },
];

const probesIn = (html: string): number[] => [...new Set([...html.matchAll(/\{P(\d+)\}/g)].map((m) => Number(m[1])))].sort();

describe.each(CONSTRUCTS.map((c) => [`${c.dialect} ${c.name}`, c] as const))('%s', (_label, c) => {
  const probes = probesIn(c.template);
  const compiled = DIALECTS[c.dialect].compile(c.template, `conformance.${c.dialect}`);

  it('is one block in the matrix with a branch per probe, plus the implicit outcome when there is no else', () => {
    expect(compiled.analysis.blocks).toHaveLength(1);
    const branches = compiled.analysis.blocks[0]!.branches;
    expect({ explicit: branches.filter((b) => !b.implicit).length, implicit: branches.filter((b) => b.implicit).length }).toEqual({
      explicit: probes.length,
      implicit: c.implicit ? 1 : 0,
    });
  });

  it('records, in every render, exactly the branch whose probe is in the output', () => {
    const block = compiled.analysis.blocks[0]!;
    const implicitIndex = block.branches.findIndex((b) => b.implicit);
    const reached = new Set<number>();
    for (const context of c.contexts) {
      const r = compiled.render(structuredClone(context));
      const recorded = [...new Set(r.branches.get(block.id) ?? [])].sort();
      const seen = probesIn(r.html);
      expect({ context, recorded }).toEqual({ context, recorded: seen.length ? seen : [implicitIndex] });
      for (const i of recorded) reached.add(i);
    }
    expect(reached.size).toBe(block.branches.length);
  });
});
