import { TemplateError } from '../../../src/errors';
import type { DialectName } from '../../../src/preview/dialects/dialect';
import { DIALECTS } from '../../../src/preview/dialects/index';

/** The error a compile (or, when `context` is given, a render) throws. */
function errorOf(dialect: DialectName, source: string, context?: Record<string, unknown>): TemplateError {
  try {
    const t = DIALECTS[dialect].compile(source, `t.${dialect}`);
    if (context) t.render(context);
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    return err as TemplateError;
  }
  throw new Error(`no error for ${JSON.stringify(source)}`);
}

/** Words that only make sense to someone who has read the parser's source. */
const INTERNALS =
  /parseIf|parse[A-Z]\w*:|Expecting '|OPEN_|CLOSE_|got 'EOF'|Jison|Template render error|^Error:|\[Line \d|-{4,}\^|undefined filter:|not found$/m;

type Case = [DialectName, string, string, number, number, RegExp];

/** dialect, what is wrong, source, line, column of the construct that is wrong, message. */
const COMPILE: Case[] = [
  ['hubl', 'an unclosed if, at its opening tag', 'Hi\n  {% if contact.vip %}\nVIP', 2, 3, /\{% if contact\.vip %\} opened here is never closed/],
  ['hubl', 'an if closed by an outer endfor, at the if', '{% for i in items %}\n {% if i %}x\n{% endfor %}', 2, 2, /\{% if i %\} opened here is never closed/],
  ['hubl', 'a stray endif', 'one\n{% endif %}', 2, 1, /closes a block that was never opened/],
  ['hubl', 'an else outside a block', 'one\n  {% else %}', 2, 3, /outside any block/],
  ['hubl', 'an unknown filter', 'a\n{{ x|shout }}', 2, 6, /unknown filter "shout"/],
  ['hubl', 'an unknown tag', 'a\n{% shout %}', 2, 4, /unknown tag \{% shout %\}/],
  ['hubl', 'an unknown function', 'a\n  {{ shout(contact.firstname) }}', 2, 6, /unknown function shout\(\)/],
  ['hubl', 'an unknown test', '{% if x is shouting %}y{% endif %}', 1, 12, /unknown test "shouting"/],
  ['handlebars', 'an unclosed #if, at its opening tag', 'a\n  {{#if x}}\nb', 2, 3, /\{\{#if x\}\} opened here is never closed/],
  [
    'handlebars',
    'a close that matches no open block',
    'a\n {{#if x}}\nb{{/unless}}',
    3,
    2,
    /\{\{\/unless\}\} does not match \{\{#if x\}\} opened at line 2, column 2/,
  ],
  [
    'handlebars',
    'an #if closed by the outer /each, at the #if',
    '{{#each items}}\n  {{#if this}}x\n{{/each}}',
    2,
    3,
    /\{\{#if this\}\} opened here is never closed/,
  ],
  ['handlebars', 'an unknown helper', 'Hi\n {{shout name}}', 2, 2, /unknown helper "shout"/],
  ['handlebars', 'an unknown block helper', 'Hi {{#frobnicate}}x{{/frobnicate}}', 1, 4, /unknown helper "frobnicate"/],
  ['handlebars', 'an unknown helper in a sub-expression', '{{#if (shout x)}}y{{/if}}', 1, 7, /unknown helper "shout"/],
  ['handlebars', 'an #if without a value', 'a\n{{#if}}x{{/if}}', 2, 1, /takes exactly one value/],
  ['handlebars', 'a tag never closed with }}', 'a\n {{name\nb', 2, 2, /never closed with \}\}/],
  ['handlebars', 'an unbalanced parenthesis', 'x\n  {{ foo ) }}', 2, 10, /unexpected "\)" here/],
  ['handlebars', 'a partial', 'a {{> footer}}', 1, 3, /partials/],
  ['liquid', 'an unclosed if, at its opening tag', 'a\n {% if a %}X', 2, 2, /\{% if a %\} opened here is never closed/],
  ['liquid', 'an incomplete comparison', 'a\n{% if customer.tier == %}Gold{% endif %}', 2, 1, /"==" needs a value on each side/],
  ['liquid', 'an incomplete comparison in elsif', '{% if a %}\n{% elsif b != %}x{% endif %}', 2, 1, /"!=" needs a value on each side/],
  ['liquid', 'two values without an operator', '{% unless a b %}x{% endunless %}', 1, 1, /two values without an operator/],
  ['liquid', 'an unknown filter', 'a\n  {{ x | shout }}', 2, 3, /unknown filter "shout"/],
  ['liquid', 'an unknown tag', '{% shout %}', 1, 1, /unknown tag \{% shout %\}/],
  ['klaviyo', 'an unclosed if', 'a\n {% if x %}b', 2, 2, /never closed/],
  ['klaviyo', 'an unknown filter', 'a\n\n{{ x|shout }}', 3, 6, /shout/],
  ['mailchimp', 'an unclosed IF', 'one\ntwo\n  *|IF:FNAME|*never closed', 3, 3, /never closed/],
  ['mailchimp', 'a stray END:IF', 'one *|END:IF|*', 1, 5, /END:IF/],
];

describe('every template error is located at the construct that is wrong, in plain words', () => {
  it.each(COMPILE)('%s: %s', (dialect, _what, source, line, column, message) => {
    const e = errorOf(dialect, source);
    expect({ line: e.location?.line, column: e.location?.column, file: e.location?.file }).toEqual({ line, column, file: `t.${dialect}` });
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(INTERNALS);
    expect(e.hint).toBeTruthy();
  });
});

describe('render-time errors carry the line of the tag that failed', () => {
  it('hubl: a call on an undefined value, on line 3', () => {
    const e = errorOf('hubl', 'one\ntwo\n  {{ contact.x.y() }}', { contact: {} });
    expect(e.location?.line).toBe(3);
    expect(e.message).not.toMatch(INTERNALS);
  });

  it('hubl: a failing call on the first line', () => {
    const e = errorOf('hubl', '{{ contact.x.y() }}', { contact: {} });
    expect(e.location?.line).toBe(1);
  });

  it('liquid: a division by zero, at its output', () => {
    const e = errorOf('liquid', 'one\n  {{ 10 | divided_by: 0 }}', {});
    expect({ line: e.location?.line, column: e.location?.column }).toEqual({ line: 2, column: 3 });
  });
});

describe('unclosed delimiters and stray closes', () => {
  it.each([
    ['hubl', 'one\n  {{ contact.firstname', 2, 3, /never closed with \}\}/],
    ['hubl', 'one {% if x', 1, 5, /never closed with %\}/],
    ['liquid', 'one\n{% endif %}', 2, 1, /closes a block that was never opened/],
    ['klaviyo', '{{ x', 1, 1, /unclosed/],
  ] as [DialectName, string, number, number, RegExp][])('%s: %j', (dialect, source, line, column, message) => {
    const e = errorOf(dialect, source);
    expect({ line: e.location?.line, column: e.location?.column }).toEqual({ line, column });
    expect(e.message).toMatch(message);
  });
});
