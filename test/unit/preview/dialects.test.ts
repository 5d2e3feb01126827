import fc from 'fast-check';
import { TemplateError } from '../../../src/errors';
import type { DialectName } from '../../../src/preview/dialects/dialect';
import { DIALECTS, dialectForFile } from '../../../src/preview/dialects/index';
import { hublTruthy } from '../../../src/preview/dialects/hubl';
import { compileTemplateSource } from '../../../src/preview/template-file';

function errorOf(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error('expected a TemplateError');
}

describe('dialect detection', () => {
  it.each([
    ['a.liquid', 'liquid'],
    ['a.liquid.mjml', 'liquid'],
    ['welcome.klaviyo.html', 'klaviyo'],
    ['a.hbs', 'handlebars'],
    ['a.sendgrid.html', 'handlebars'],
    ['a.mc.html', 'mailchimp'],
    ['a.hubl.html', 'hubl'],
  ])('reads the dialect of %s from its name', (file, dialect) => {
    expect(dialectForFile(file)).toBe(dialect);
  });

  it('lets front matter choose the dialect of a plain .html file', () => {
    const t = compileTemplateSource('---\ndialect: mailchimp\n---\nHi *|FNAME|*', 'plain.html');
    expect(t.dialect).toBe('mailchimp');
    expect(t.body.render({ FNAME: 'Ann' }).html).toBe('Hi Ann');
  });

  it('refuses a file whose dialect it cannot tell', () => {
    expect(() => compileTemplateSource('Hi', 'plain.html')).toThrow(/cannot tell the template language/);
  });

  it('refuses an unknown dialect in front matter, naming its line', () => {
    const e = errorOf(() => compileTemplateSource('---\nsubject: x\ndialect: jinja\n---\nHi', 'a.html'));
    expect(e.location).toMatchObject({ file: 'a.html', line: 3 });
  });
});

describe('located template errors', () => {
  const cases: [DialectName, string, string, number][] = [
    ['liquid', 'a.liquid', 'line one\n{% if x %}\nno end', 2],
    ['klaviyo', 'a.klaviyo.html', 'line one\n\n{{ x|nosuch }}', 3],
    ['handlebars', 'a.hbs', 'line one\n{{#if a}}\nx{{/each}}', 3],
    ['mailchimp', 'a.mc.html', 'one\ntwo\n  *|IF:FNAME|*never closed', 3],
    ['hubl', 'a.hubl.html', 'one\n{% endif %}', 2],
  ];
  it.each(cases)('%s: names the file and line', (_dialect, file, source, line) => {
    const e = errorOf(() => compileTemplateSource(source, file));
    expect(e.code).toBe('E_TEMPLATE');
    expect(e.location).toMatchObject({ file, line });
  });

  it('counts lines from the top of the file when there is front matter', () => {
    const e = errorOf(() => compileTemplateSource('---\nsubject: Hi\n---\n<p>\n*|END:IF|*', 'a.mc.html'));
    expect(e.location?.line).toBe(5);
  });

  it('locates an error in the subject at the subject line', () => {
    const e = errorOf(() => compileTemplateSource('---\npreheader: x\nsubject: "{% if a %}x"\n---\nbody', 'a.liquid'));
    expect(e.location?.line).toBe(3);
  });

  it('reports the mailchimp column of the opening tag', () => {
    const e = errorOf(() => compileTemplateSource('ab *|IF:X|*', 'a.mc.html'));
    expect(e.location).toMatchObject({ line: 1, column: 4 });
    expect(e.message).toContain('never closed');
  });
});

describe('undefined variables', () => {
  const sources: Record<DialectName, [string, Record<string, unknown>]> = {
    liquid: ['{% if ghost %}x{% endif %}\nHi {{ who.name }} {{ nick | default: "n" }}', { who: {} }],
    klaviyo: ["{% if ghost %}x{% endif %}\nHi {{ who.name }} {{ nick|default:'n' }}", { who: {} }],
    handlebars: ['{{#if ghost}}x{{/if}}\nHi {{upper who.name}} {{insert nick "default=n"}}', { who: {} }],
    mailchimp: ['*|IF:GHOST|*x*|END:IF|*\nHi *|WHO_NAME|* *|IF:NICK|**|NICK|**|ELSE:|*n*|END:IF|*', {}],
    hubl: ['{% if ghost %}x{% endif %}\nHi {{ who.name|upper }} {{ nick|default("n") }}', { who: {} }],
  };
  it.each(Object.keys(sources) as DialectName[])('%s: reports a printed undefined variable with its line, not tests or fallbacks', (dialect) => {
    const [src, ctx] = sources[dialect];
    const r = DIALECTS[dialect].compile(src, 'x').render(ctx);
    expect(r.undefinedVariables).toEqual([{ path: dialect === 'mailchimp' ? 'WHO_NAME' : 'who.name', line: 2 }]);
  });
});

describe('Braze attribute syntax in the liquid dialect', () => {
  it('reads ${first_name} and custom_attribute.${x} as Braze does', () => {
    const t = compileTemplateSource(
      "Hi {{${first_name} | default: 'there'}}! {% if custom_attribute.${points} > 10 %}{{custom_attribute.${points}}} pts{% endif %}",
      'braze.liquid',
    );
    const ctx = (props: Record<string, number | string>) =>
      DIALECTS.liquid.shapeContext({ properties: props, tags: [], segments: {}, events: [], groups: {}, email: undefined, context: {} });
    expect(t.body.render(ctx({ first_name: 'Ada', points: 40 })).html).toBe('Hi Ada! 40 pts');
    expect(t.body.render(ctx({})).html).toBe('Hi there! ');
    expect(t.blocks.map((b) => b.branches[0]!.label)).toEqual(['if custom_attribute.points > 10']);
  });
});

describe('per-ESP semantics', () => {
  const vip = {
    liquid: '{% if v %}T{% else %}F{% endif %}',
    klaviyo: '{% if v %}T{% else %}F{% endif %}',
    handlebars: '{{#if v}}T{{else}}F{{/if}}',
    hubl: '{% if v %}T{% else %}F{% endif %}',
  } as const;
  const truth = (d: keyof typeof vip, v: unknown): string => DIALECTS[d].compile(vip[d], 'x').render({ v }).html;

  it('applies each ESP truthiness to "", 0, [] and "false" (template-dialects.md §6)', () => {
    const values: unknown[] = ['', 0, [], 'false'];
    expect(values.map((v) => truth('liquid', v)).join('')).toBe('TTTT');
    expect(values.map((v) => truth('klaviyo', v)).join('')).toBe('FFFT');
    expect(values.map((v) => truth('handlebars', v)).join('')).toBe('FFFT');
    expect(values.map((v) => truth('hubl', v)).join('')).toBe('FFFF');
  });

  it('escapes output where the ESP does (Klaviyo, Handlebars, Mailchimp) and not where it does not (Liquid, HubL)', () => {
    const out = (d: DialectName, src: string, ctx: Record<string, unknown>): string => DIALECTS[d].compile(src, 'x').render(ctx).html;
    expect(out('klaviyo', '{{ x }}', { x: 'A & B' })).toBe('A &amp; B');
    expect(out('handlebars', '{{x}}', { x: 'A & B' })).toBe('A &amp; B');
    expect(out('mailchimp', '*|X|*', { X: 'A & B' })).toBe('A &amp; B');
    expect(out('liquid', '{{ x }}', { x: 'A & B' })).toBe('A & B');
    expect(out('hubl', '{{ x }}', { x: 'A & B' })).toBe('A & B');
  });

  it("gives HubL the send time as local_dt, printed and read as jinjava's PyishDate", () => {
    const t = DIALECTS.hubl.compile('{{ local_dt }}|{{ local_dt.year }}|{{ local_dt|datetimeformat("%d.%m.%Y") }}', 'x');
    const base = { properties: {}, tags: [], segments: {}, events: [], groups: {}, email: 'ada@example.com', now: '2026-03-04T10:05:06Z' };
    expect(t.render(DIALECTS.hubl.shapeContext({ ...base, context: {} })).html).toBe('2026-03-04 10:05:06|2026|04.03.2026');
    // A scenario may move it whole, or only some of its parts (what --cover varies).
    expect(t.render(DIALECTS.hubl.shapeContext({ ...base, context: { local_dt: { year: 2020 } } })).html).toBe('2020-03-04 10:05:06|2020|04.03.2020');
    expect(t.render(DIALECTS.hubl.shapeContext({ ...base, context: { local_dt: '2025-12-31' } })).html).toBe('2025-12-31 00:00:00|2025|31.12.2025');
  });

  it("gives HubL the sender's address HubSpot requires in an email's footer", () => {
    const footer = DIALECTS.hubl.compile(
      '{{ site_settings.company_name }}, {{ site_settings.company_street_address_1 }} {{ site_settings.company_street_address_2 }}, {{ site_settings.company_city }}, {{ site_settings.company_state }} {{ site_settings.company_zip }}, {{ site_settings.company_country }} {{ site_settings.company_phone }}',
      'x',
    );
    const s = { properties: { first_name: 'Ada' }, tags: [], segments: {}, events: [], groups: {}, email: 'ada@example.com', context: {} };
    const r = footer.render(DIALECTS.hubl.shapeContext(s));
    expect([r.html, r.undefinedVariables]).toEqual(['Segsync Demo Store, 1 Example Street , Springfield, IL 12345, United States +1 555 0100', []]);
  });

  it("gives Klaviyo the organization's address its footers print", () => {
    const footer = DIALECTS.klaviyo.compile(
      '{{ organization.name }} {{ organization.full_address }} | {{ organization.street_address }} {{ organization.street_address2 }}, {{ organization.city }}, {{ organization.region }} {{ organization.zip_code }}',
      'x',
    );
    const s = { properties: { first_name: 'Ada' }, tags: [], segments: {}, events: [], groups: {}, email: 'ada@example.com', context: {} };
    const r = footer.render(DIALECTS.klaviyo.shapeContext(s));
    expect([r.html, r.undefinedVariables]).toEqual([
      'Segsync Demo Store 1 Example Street, Springfield, IL 12345 | 1 Example Street , Springfield, IL 12345',
      [],
    ]);
  });

  it('treats HubSpot "false" strings as false in any case', () => {
    expect(['false', 'False', 'FALSE', 'true', 'no'].map(hublTruthy)).toEqual([false, false, false, true, true]);
  });

  it('shapes one scenario into each ESP context (aliases, HubSpot boolean strings, Mailchimp merge names)', () => {
    const s = {
      properties: { first_name: 'Ada', plan: 'pro' },
      tags: ['vip'],
      segments: { cart_abandoner: true },
      events: [{ name: 'Added to Cart', properties: { total: 5 } }],
      groups: { Interests: ['Dogs'] },
      email: 'ada@example.com',
      context: {},
    };
    expect(DIALECTS.mailchimp.shapeContext(s)).toMatchObject({
      FNAME: 'Ada',
      PLAN: 'pro',
      EMAIL: 'ada@example.com',
      CART_ABANDONER: true,
      groups: { Interests: ['Dogs'] },
    });
    expect(DIALECTS.hubl.shapeContext(s)).toMatchObject({ contact: { firstname: 'Ada', cart_abandoner: 'true', tags: 'vip' } });
    expect(DIALECTS.klaviyo.shapeContext(s)).toMatchObject({
      first_name: 'Ada',
      person: { first_name: 'Ada', tags: ['vip'] },
      event: { total: 5, extra: { total: 5 } },
    });
    expect(DIALECTS.liquid.shapeContext(s)).toMatchObject({
      customer: { first_name: 'Ada', tags: ['vip'], cart_abandoner: true },
      event: { name: 'Added to Cart', total: 5 },
    });
    expect(DIALECTS.handlebars.shapeContext(s)).toMatchObject({ first_name: 'Ada', segments: { cart_abandoner: true } });
  });
});

describe('plain text passes through every dialect unchanged (property)', () => {
  const noSyntax = fc.string({ maxLength: 200 }).filter((s) => !/[{}%#*|\\`]/.test(s));
  it.each(Object.keys(DIALECTS) as DialectName[])('%s', (dialect) => {
    fc.assert(
      fc.property(noSyntax, (text) => {
        const r = DIALECTS[dialect].compile(text, 'p').render({});
        expect(r.html).toBe(text);
        expect(r.branches.size).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
