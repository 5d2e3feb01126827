import { coverageMatrix } from '../../../src/preview/coverage';
import { collectWarnings } from '../../../src/preview/warnings';
import { renderScenario } from '../../../src/preview/render';
import { offline, renderReport } from '../../../src/preview/report';
import { emptyScenario } from '../../../src/preview/scenarios';
import { compileTemplateSource } from '../../../src/preview/template-file';

describe('the static report', () => {
  it('replaces remote images, backgrounds, stylesheets and scripts so it works offline', () => {
    const html = offline(
      '<img src="https://cdn.example.com/a.png" alt=a><td background="http://x/bg.jpg" style="background:url(\'https://x/y.png\')"><link rel=stylesheet href="https://x/s.css"><script>alert(1)</script>',
    );
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('src="data:image/svg+xml,');
    expect(html).not.toContain('<script');
  });

  it('escapes template output into srcdoc and forbids every request with a CSP', () => {
    const t = compileTemplateSource('---\nsubject: "Hi {{ customer.first_name }}"\n---\n<p>{{ customer.first_name }} &amp; "quotes"</p>', 'r.liquid');
    const renders = [renderScenario(t, { ...emptyScenario(), name: '<script>x</script>', origin: 'file', properties: { first_name: '<b>Ada</b>' } })];
    const matrix = coverageMatrix(t, renders);
    const page = renderReport({ template: t, renders, matrix, warnings: collectWarnings(t, renders, matrix), generatedAt: new Date(0) });
    expect(page).toContain("default-src 'none'");
    expect(page).not.toContain('<script>x</script>');
    expect(page).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(page).toMatch(/<iframe sandbox="" title="[^"]*" srcdoc="&lt;p&gt;&lt;b&gt;Ada&lt;\/b&gt; &amp;amp; &quot;quotes&quot;&lt;\/p&gt;"><\/iframe>/);
    expect(page).toContain('<b>Subject:</b> Hi &lt;b&gt;Ada&lt;/b&gt;');
  });
});
