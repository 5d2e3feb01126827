/** The dialect registry and how a template file's name selects its dialect. */
import type { Dialect, DialectName } from './dialect';
import { handlebarsDialect } from './handlebars';
import { hublDialect } from './hubl';
import { klaviyoDialect } from './klaviyo';
import { liquidDialect } from './liquid';
import { mailchimpDialect } from './mailchimp';

export const DIALECTS: Record<DialectName, Dialect> = {
  liquid: liquidDialect,
  klaviyo: klaviyoDialect,
  handlebars: handlebarsDialect,
  mailchimp: mailchimpDialect,
  hubl: hublDialect,
};

/** File-name endings → dialect, longest first (documented in docs/preview.md). */
export const EXTENSIONS: [string, DialectName][] = [
  ['.klaviyo.html', 'klaviyo'],
  ['.sendgrid.html', 'handlebars'],
  ['.mandrill.html', 'handlebars'],
  ['.mailchimp.html', 'mailchimp'],
  ['.hubl.html', 'hubl'],
  ['.liquid.html', 'liquid'],
  ['.mc.html', 'mailchimp'],
  ['.handlebars', 'handlebars'],
  ['.klaviyo', 'klaviyo'],
  ['.liquid', 'liquid'],
  ['.hubl', 'hubl'],
  ['.hbs', 'handlebars'],
];

/** The dialect a file name implies (a trailing `.mjml` is ignored), or undefined. */
export function dialectForFile(file: string): DialectName | undefined {
  const name = file.toLowerCase().replace(/\.mjml$/, '');
  return EXTENSIONS.find(([ext]) => name.endsWith(ext))?.[1];
}

export function isDialectName(s: string): s is DialectName {
  return Object.prototype.hasOwnProperty.call(DIALECTS, s);
}
