/** The reproductions of issue 18, through the whole `segsync preview` pipeline (template file, scenarios, report data). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TemplateError } from '../../../src/errors';
import { branchCoverage } from '../../../src/preview/coverage';
import { runPreview } from '../../../src/preview/preview';
import type { PreviewResult } from '../../../src/preview/preview';

const dir = mkdtempSync(join(tmpdir(), 'segsync-repro-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Previews `body` (a template file named `*.ext`) for the given scenarios. */
function preview(ext: string, body: string, scenarios?: object[], includeEmpty = true): PreviewResult {
  n++;
  const template = join(dir, `t${n}${ext}`);
  writeFileSync(template, body);
  const file = join(dir, `t${n}.json`);
  writeFileSync(file, JSON.stringify({ scenarios: scenarios ?? [{ name: 'someone' }] }));
  return runPreview(template, { scenarios: file, includeEmpty });
}

const htmlOf = (r: PreviewResult, i = 0): string => r.renders[i]!.html.replace(/^[\s\S]*?<body[^>]*>|<\/body>[\s\S]*$/g, '').trim();

describe('issue 18 reproductions', () => {
  it('1. HubL default replaces null: "Hi there!"', () => {
    const r = preview('.hubl.html', 'Hi {{ contact.firstname|default("there") }}!', [{ name: 'null name', context: { contact: { firstname: null } } }], false);
    expect(htmlOf(r)).toContain('Hi there!');
  });

  it('2. HubL default(x, true) replaces the string "false"', () => {
    const r = preview('.hubl.html', '[{{ contact.vip|default("no", true) }}]', [{ name: 'vip false', properties: { vip: false } }], false);
    expect(htmlOf(r)).toContain('[no]');
  });

  it('3. HubL "in" on a missing container is false, for every recipient and the empty profile', () => {
    const r = preview('.hubl.html', '{% if "dog" in contact.pets %}dog{% else %}no dog{% endif %} <a href="https://x.test/unsubscribe">unsubscribe</a>', [
      { name: 'no pets' },
    ]);
    expect(r.renders.map((x) => x.errors)).toEqual([[], []]);
    expect(r.renders.map((x) => x.text.split('\n')[0])).toEqual([
      'no dog unsubscribe [https://x.test/unsubscribe]',
      'no dog unsubscribe [https://x.test/unsubscribe]',
    ]);
  });

  it('4. Liquid unless without else is in the matrix: 0/1 with only VIP scenarios, and an unreached-branch warning', () => {
    const r = preview('.liquid', '{% unless customer.vip %}Join VIP{% endunless %}', [{ name: 'vip', properties: { vip: true } }], false);
    expect(branchCoverage(r.matrix)).toEqual({ reached: 0, total: 1 });
    expect(r.warnings.filter((w) => w.kind === 'unreached-branch')).toHaveLength(1);
  });

  it('5. HubL unclosed if: located at the opening tag, in plain words', () => {
    expect(() => preview('.hubl.html', 'one\n  {% if contact.vip %}\nVIP')).toThrow(TemplateError);
    try {
      preview('.hubl.html', 'one\n  {% if contact.vip %}\nVIP');
    } catch (err) {
      const e = err as TemplateError;
      expect(e.location).toMatchObject({ line: 2, column: 3 });
      expect(e.message).not.toMatch(/parseIf|got end of file/);
      expect(e.hint).toMatch(/\{% endif %\}/);
    }
  });

  it('6. Handlebars: an unclosed #if at its opening tag, unknown helpers at compile time', () => {
    const located = (src: string): unknown => {
      try {
        preview('.hbs', src);
      } catch (err) {
        const e = err as TemplateError;
        return { line: e.location?.line, column: e.location?.column, message: e.message };
      }
      return 'no error';
    };
    expect(located('a\n {{#if vip}}\nb')).toMatchObject({ line: 2, column: 2, message: expect.not.stringMatching(/Expecting|OPEN_/) as unknown });
    expect(located('Hi {{shout name}}')).toMatchObject({ line: 1, column: 4, message: expect.stringMatching(/unknown helper "shout"/) as unknown });
    expect(located('Hi {{#frobnicate}}x{{/frobnicate}}')).toMatchObject({ line: 1, column: 4 });
  });

  it('7. Liquid {% if a == %} is an error, not a silent render', () => {
    expect(() => preview('.liquid', 'x\n{% if a == %}A{% endif %}')).toThrow(/needs a value on each side/);
  });

  it('8. Mailchimp: an unknown merge tag stays verbatim', () => {
    const r = preview('.mc.html', 'Hi *|FNAME|* *|NICKNAME|*!', [{ name: 'Ada', properties: { first_name: 'Ada' } }], false);
    expect(htmlOf(r)).toContain('Hi Ada *|NICKNAME|*!');
  });

  it('9. Mandrill title: "Your Text is Neat"', () => {
    const r = preview('.mandrill.html', '{{title "your text is neat"}}', undefined, false);
    expect(htmlOf(r)).toContain('Your Text is Neat');
  });
});
