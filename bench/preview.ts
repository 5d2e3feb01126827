/**
 * Preview benchmark: renders per second per dialect on a ~10 KB marketing email (5 conditionals and a
 * 5-item product list, as in template-dialects.md §10; target ≥ 5,000/s each), and the time to build
 * a 100-scenario report (render + CSS inlining + plain text + report HTML) per dialect.
 * Run: `node bin/run-ts.js bench/preview.ts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import type { DialectName } from '../src/preview/dialects/dialect';
import { DIALECTS } from '../src/preview/dialects/index';
import { runPreview, writeReport } from '../src/preview/preview';
import { emptyScenario } from '../src/preview/scenarios';
import type { Scenario } from '../src/preview/scenarios';
import { compileTemplateSource } from '../src/preview/template-file';
import { machineLine } from './machine';

const EXT: Record<DialectName, string> = { liquid: '.liquid', klaviyo: '.klaviyo.html', handlebars: '.hbs', mailchimp: '.mc.html', hubl: '.hubl.html' };

/** Per-dialect spelling of the few constructs the benchmark email uses. */
const SYNTAX: Record<
  DialectName,
  {
    v: (p: string) => string;
    vd: (p: string, d: string) => string;
    ifEq: (p: string, x: string) => string;
    ifVar: (p: string) => string;
    ifGt: (p: string, n: number) => string;
    els: string;
    end: string;
    loop: (body: string) => string;
  }
> = {
  liquid: {
    v: (p) => `{{ customer.${p} }}`,
    vd: (p, d) => `{{ customer.${p} | default: "${d}" }}`,
    ifEq: (p, x) => `{% if customer.${p} == "${x}" %}`,
    ifVar: (p) => `{% if customer.${p} %}`,
    ifGt: (p, n) => `{% if customer.${p} > ${n} %}`,
    els: '{% else %}',
    end: '{% endif %}',
    loop: (b) => `{% for item in event.items %}${b.replace(/ITEM\.(\w+)/g, '{{ item.$1 }}')}{% endfor %}`,
  },
  klaviyo: {
    v: (p) => `{{ person.${p} }}`,
    vd: (p, d) => `{{ person.${p}|default:'${d}' }}`,
    ifEq: (p, x) => `{% if person.${p} == '${x}' %}`,
    ifVar: (p) => `{% if person.${p} %}`,
    ifGt: (p, n) => `{% if person.${p} > ${n} %}`,
    els: '{% else %}',
    end: '{% endif %}',
    loop: (b) => `{% for item in event.items %}${b.replace(/ITEM\.(\w+)/g, '{{ item.$1 }}')}{% endfor %}`,
  },
  handlebars: {
    v: (p) => `{{${p}}}`,
    vd: (p, d) => `{{insert ${p} "default=${d}"}}`,
    ifEq: (p, x) => `{{#equals ${p} "${x}"}}`,
    ifVar: (p) => `{{#if ${p}}}`,
    ifGt: (p, n) => `{{#greaterThan ${p} ${n}}}`,
    els: '{{else}}',
    end: '',
    loop: (b) => `{{#each event.items}}${b.replace(/ITEM\.(\w+)/g, '{{$1}}')}{{/each}}`,
  },
  mailchimp: {
    v: (p) => `*|${p.toUpperCase()}|*`,
    vd: (p) => `*|${p.toUpperCase()}|*`,
    ifEq: (p, x) => `*|IF:${p.toUpperCase()}=${x}|*`,
    ifVar: (p) => `*|IF:${p.toUpperCase()}|*`,
    ifGt: (p, n) => `*|IF:${p.toUpperCase()}>${n}|*`,
    els: '*|ELSE:|*',
    end: '*|END:IF|*',
    loop: (b) => [1, 2, 3, 4, 5].map((i) => b.replace(/ITEM\.(\w+)/g, (_m, f: string) => `*|ITEM${i}_${f.toUpperCase()}|*`)).join(''),
  },
  hubl: {
    v: (p) => `{{ contact.${p} }}`,
    vd: (p, d) => `{{ contact.${p}|default('${d}') }}`,
    ifEq: (p, x) => `{% if contact.${p} == '${x}' %}`,
    ifVar: (p) => `{% if contact.${p} %}`,
    ifGt: (p, n) => `{% if contact.${p} > ${n} %}`,
    els: '{% else %}',
    end: '{% endif %}',
    loop: (b) => `{% for item in contact.items %}${b.replace(/ITEM\.(\w+)/g, '{{ item.$1 }}')}{% endfor %}`,
  },
};

/** A table-layout marketing email of about 10 KB in `dialect`. */
export function benchTemplate(dialect: DialectName): string {
  const s = SYNTAX[dialect];
  const close = (tag: string): string => (dialect === 'handlebars' ? `{{/${tag}}}` : s.end);
  const row = (text: string): string =>
    `<tr><td style="padding:12px 24px;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:22px;color:#333333">${text}</td></tr>\n`;
  const filler = Array.from({ length: 25 }, (_, i) =>
    row(
      `Paragraph ${i + 1}: our spring collection brings lightweight layers, trail-ready footwear and accessories picked by our team for long days outside. Free returns within 30 days on every order.`,
    ),
  ).join('');
  const body = [
    row(`Hi ${s.vd('first_name', 'there')},`),
    row(
      `${s.ifEq('segment', 'vip')}As a VIP you get early access and free express shipping.${s.els}Join our rewards programme to get early access.${close('equals')}`,
    ),
    row(`${s.ifVar('coupon')}Use code <b>${s.v('coupon')}</b> at checkout.${s.els}No code needed: prices are already reduced.${close('if')}`),
    row(`${s.ifGt('cart_count', 0)}You still have items in your cart.${s.els}Your cart is empty.${close('greaterThan')}`),
    `<tr><td><table role="presentation" width="100%">${s.loop('<tr><td style="padding:6px 24px">ITEM.name</td><td style="padding:6px 24px;text-align:right">$ITEM.price</td></tr>')}</table></td></tr>\n`,
    row(`${s.ifEq('country', 'US')}Ships from our Denver warehouse.${s.els}Ships from our Rotterdam warehouse.${close('equals')}`),
    row(`${s.ifVar('new_subscriber')}Welcome! Here is what to expect from us.${s.els}Thanks for being with us.${close('if')}`),
    filler,
    row('<a href="https://example.com/unsubscribe" style="color:#999999">Unsubscribe</a>'),
  ].join('');
  return `<!doctype html><html><head><meta charset="utf-8"><style>a{color:#1d2733}</style></head><body style="margin:0;background:#f4f6f8"><table role="presentation" width="600" align="center" style="background:#ffffff">\n${body}</table></body></html>`;
}

function benchScenario(i: number): Scenario {
  const items = Array.from({ length: 5 }, (_, k) => ({ name: `Product ${k + 1}`, price: 10 + k * 5 }));
  const properties: Scenario['properties'] = {
    first_name: i % 7 ? `Name${i}` : '',
    segment: i % 3 ? 'regular' : 'vip',
    coupon: i % 2 ? `SAVE${i}` : '',
    cart_count: i % 4,
    country: i % 5 ? 'US' : 'NL',
    new_subscriber: i % 6 === 0,
    items,
  };
  items.forEach((it, k) => {
    properties[`item${k + 1}_name`] = it.name;
    properties[`item${k + 1}_price`] = it.price;
  });
  return {
    ...emptyScenario('2026-05-01T09:00:00Z'),
    name: `scenario ${i}`,
    origin: 'file',
    email: `c${i}@example.com`,
    properties,
    events: [{ name: 'Added to Cart', properties: { items } }],
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Renders per second for one dialect: pre-compiled, 200 warm-up renders, median of 3 timed runs. */
function rendersPerSecond(dialect: DialectName): { bytes: number; perSecond: number } {
  const source = benchTemplate(dialect);
  const compiled = compileTemplateSource(source, `bench${EXT[dialect]}`).body;
  const contexts = Array.from({ length: 16 }, (_, i) => DIALECTS[dialect].shapeContext(benchScenario(i)));
  for (let i = 0; i < 200; i++) compiled.render(contexts[i % contexts.length]!);
  const runs: number[] = [];
  const n = 5000;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) compiled.render(contexts[i % contexts.length]!);
    runs.push(n / ((performance.now() - t0) / 1000));
  }
  return { bytes: Buffer.byteLength(source), perSecond: median(runs) };
}

/** Milliseconds to build and write a 100-scenario report for one dialect. */
function reportTime(dialect: DialectName, dir: string): number {
  const template = join(dir, `report${EXT[dialect]}`);
  writeFileSync(template, benchTemplate(dialect));
  const scenarios = join(dir, `report-${dialect}.yaml`);
  writeFileSync(
    scenarios,
    stringify({
      scenarios: Array.from({ length: 100 }, (_, i) => {
        const { origin: _o, context: _c, groups: _g, tags: _t, segments: _s, ...s } = benchScenario(i);
        return s;
      }),
    }),
  );
  const t0 = performance.now();
  const result = runPreview(template, { scenarios, includeEmpty: false });
  writeReport(result, join(dir, `out-${dialect}`));
  return performance.now() - t0;
}

/** Runs the benchmark and prints its figures with the machine they were measured on. */
export async function run(): Promise<void> {
  process.stdout.write(`preview benchmark\n${machineLine()}\n\n`);
  process.stdout.write('dialect      template   renders/s   µs/render   target ≥ 5000/s\n');
  for (const d of Object.keys(DIALECTS) as DialectName[]) {
    const r = rendersPerSecond(d);
    process.stdout.write(
      `${d.padEnd(12)} ${(r.bytes / 1024).toFixed(1).padStart(5)} KB ${Math.round(r.perSecond).toString().padStart(11)} ${(1e6 / r.perSecond).toFixed(1).padStart(11)}   ${r.perSecond >= 5000 ? 'ok' : 'BELOW TARGET'}\n`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'segsync-bench-preview-'));
  try {
    process.stdout.write('\n100-scenario report (render, juice, text, report HTML, files; after one untimed warm-up)\n');
    reportTime('liquid', dir);
    for (const d of Object.keys(DIALECTS) as DialectName[]) process.stdout.write(`${d.padEnd(12)} ${reportTime(d, dir).toFixed(0).padStart(6)} ms\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exitCode = 1;
  });
}
