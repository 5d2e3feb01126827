import { coverageMatrix } from '../../../src/preview/coverage';
import { GMAIL_CLIP_BYTES, badLinks, collectWarnings } from '../../../src/preview/warnings';
import type { WarningKind } from '../../../src/preview/warnings';
import { renderScenario } from '../../../src/preview/render';
import { emptyScenario } from '../../../src/preview/scenarios';
import type { Scenario } from '../../../src/preview/scenarios';
import { compileTemplateSource } from '../../../src/preview/template-file';
import { synthesizeScenarios } from '../../../src/preview/synthesize';

const TEMPLATE = `Hi {{ customer.first_name }},
{% if customer.vip %}VIP{% endif %}
{{ customer.profile }} {{ customer.missing }}
{% for i in customer.items %}{{ i }}{% endfor %}
{{ customer.blob }}{{ customer.raw }}`;

function scenario(name: string, properties: Scenario['properties']): Scenario {
  return { ...emptyScenario(), name, origin: 'file', properties };
}

function warningsFor(scenarios: Scenario[]): { kind: WarningKind; scenario?: string; line?: number }[] {
  const t = compileTemplateSource(TEMPLATE, 'w.liquid');
  const renders = scenarios.map((s) => renderScenario(t, s));
  return collectWarnings(t, renders, coverageMatrix(t, renders)).map((w) => ({ kind: w.kind, scenario: w.scenario, line: w.line }));
}

describe('warnings', () => {
  const clean = scenario('clean', { first_name: 'Ada', vip: true, profile: 'p', missing: 'm', items: [1, 2], blob: '', raw: 'unsubscribe' });
  const ws = warningsFor([
    clean,
    scenario('gaps', {
      first_name: '',
      vip: true,
      profile: { a: 1 },
      items: [1],
      blob: 'x'.repeat(GMAIL_CLIP_BYTES),
      raw: '*|FNAME|* {{ x }} total: NaN unsubscribe',
    }),
  ]);
  const kinds = (name?: string): WarningKind[] =>
    ws
      .filter((w) => w.scenario === name)
      .map((w) => w.kind)
      .sort();

  it('flags a personal field printed without a fallback, with its line', () => {
    expect(ws).toContainEqual({ kind: 'no-fallback', scenario: undefined, line: 1 });
  });

  it('flags a condition that never changes and the branch nobody reaches', () => {
    expect(ws).toContainEqual({ kind: 'constant-condition', scenario: undefined, line: 2 });
    expect(ws.filter((w) => w.kind === 'unreached-branch')).toEqual([]);
  });

  it('finds nothing wrong with the clean scenario', () => {
    expect(kinds('clean')).toEqual([]);
  });

  it('flags gaps, leftover tags, [object Object], NaN, undefined variables and the Gmail clip in the bad scenario', () => {
    expect(kinds('gaps')).toEqual(['bad-value', 'gmail-clip', 'greeting-gap', 'leftover-tag', 'object-object', 'undefined-variable']);
    expect(ws).toContainEqual({ kind: 'undefined-variable', scenario: 'gaps', line: 3 });
  });

  it('flags a missing unsubscribe link and a loop never seen with several items', () => {
    const w = warningsFor([scenario('a', { first_name: 'A', vip: true, items: [1] }), scenario('b', { first_name: 'B', vip: false })]);
    expect(w.filter((x) => x.kind === 'no-unsubscribe').map((x) => x.scenario)).toEqual(['a', 'b']);
    expect(w).toContainEqual({ kind: 'thin-loop', scenario: undefined, line: 4 });
  });

  it('flags a branch that no scenario reaches', () => {
    const w = warningsFor([scenario('a', { first_name: 'A', vip: false, raw: 'unsubscribe' })]);
    expect(w).toContainEqual({ kind: 'unreached-branch', scenario: undefined, line: 2 });
  });

  it('suggests the scenario field a misspelt variable probably meant', () => {
    const t = compileTemplateSource('<p>{{ customer.frist_name }}</p>unsubscribe', 'typo.liquid');
    const renders = [renderScenario(t, scenario('typo', { first_name: 'Ada' }))];
    const w = collectWarnings(t, renders, coverageMatrix(t, renders)).filter((x) => x.kind === 'undefined-variable');
    expect(w.map((x) => x.message)).toEqual(['"customer.frist_name" is undefined where it is printed (line 1); did you mean "customer.first_name"?']);
  });

  it('flags a subject that ends in a greeting with no name', () => {
    const t = compileTemplateSource('---\nsubject: "Hello {{ customer.first_name }}"\n---\n<p>x</p>unsubscribe', 's.liquid');
    const renders = [renderScenario(t, scenario('noname', {})), renderScenario(t, scenario('ada', { first_name: 'Ada' }))];
    const w = collectWarnings(t, renders, coverageMatrix(t, renders)).filter((x) => x.kind === 'greeting-gap');
    expect(w.map((x) => x.scenario)).toEqual(['noname']);
  });

  it('flags links that go nowhere', () => {
    expect(
      badLinks(
        '<a href="">a</a><a href="https://">b</a><a href=\'https:///p\'>c</a><a href="https://example.com/x">ok</a><a href="mailto:a@b.c">ok</a><a href="#top">ok</a>',
      ),
    ).toEqual(['', 'https://', 'https:///p']);
  });

  it('does not report undefined variables for the automatic empty profile', () => {
    const w = warningsFor([clean, emptyScenario()]);
    expect(w.filter((x) => x.kind === 'undefined-variable')).toEqual([]);
  });
});

describe("Mailchimp's own template tags", () => {
  // The <title> of every Mailchimp template and the footer Mailchimp's help gives for custom HTML.
  const SOURCE = `---
subject: "*|IF:FNAME|**|FNAME|*, your*|ELSE:|*Your*|END:IF|* picks"
---
<title>*|MC:SUBJECT|*</title><p>Sent *|MC:DATE|*</p>
<p>*|LIST:DESCRIPTION|* <a href="*|UNSUB|*">Unsubscribe</a> *|EMAIL|* from this list.
Our mailing address is: *|HTML:LIST_ADDRESS_HTML|* *|LIST:ADDRESS|* *|LIST:PHONE|* *|LIST:URL|*
Copyright (C) *|CURRENT_YEAR|* *|LIST:COMPANY|* All rights reserved. *|MC:TOC|* *|MC:SHARE|*</p>`;

  it('renders the subject, send date and audience details, and names every tag it leaves unrendered', () => {
    const t = compileTemplateSource(SOURCE, 'footer.mc.html');
    const s: Scenario = { ...emptyScenario('2026-03-04T10:00:00Z'), name: 'ada', origin: 'file', email: 'ada@example.com', properties: { first_name: 'Ada' } };
    const r = renderScenario(t, s);
    expect(r.html).toContain('<title>Ada, your picks</title><p>Sent 03/04/2026</p>');
    expect(r.html).toContain('Our mailing address is: Segsync Demo Store<br>1 Example Street<br>Springfield, 12345<br>United States 1 Example Street');
    expect(r.html).toContain('Copyright (C) 2026 Segsync Demo Store All rights reserved.');
    expect(
      collectWarnings(t, [r], coverageMatrix(t, [r]))
        .filter((w) => w.kind === 'leftover-tag')
        .map((w) => w.message),
    ).toEqual(['template syntax left in the output: "*|MC:TOC|*", "*|MC:SHARE|*"']);
  });

  it('--cover fills a field it tests for and prints with text, not "true"', () => {
    const t = compileTemplateSource(SOURCE, 'footer.mc.html');
    const [first] = synthesizeScenarios(t.analysis, {
      reach: (sc) => new Set([...renderScenario(t, sc).branches].flatMap(([id, bs]) => bs.map((b) => `${id}#${b}`))),
    });
    expect(renderScenario(t, first!).subject).toBe('Sample, your picks');
  });
});
