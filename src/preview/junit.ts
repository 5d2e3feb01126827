/**
 * JUnit XML for CI systems that show test reports: one test suite per template, one test case for
 * the template as a whole (coverage, fallbacks) and one per scenario; each warning is a failure.
 */
import type { Warning } from './warnings';
import type { PreviewResult } from './preview';

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function testCase(classname: string, name: string, warnings: Warning[]): string {
  const failures = warnings
    .map((w) => `<failure type="${xml(w.kind)}" message="${xml(w.message)}">${xml(`${w.kind}${w.line ? ` (line ${w.line})` : ''}: ${w.message}`)}</failure>`)
    .join('');
  return `<testcase classname="${xml(classname)}" name="${xml(name)}">${failures}</testcase>`;
}

/** The XML document for previews of one or more templates; `errors` are templates that did not parse. */
export function junitXml(results: { file: string; result: PreviewResult | undefined; error?: string }[]): string {
  const suites = results.map(({ file, result, error }) => {
    if (!result)
      return `<testsuite name="${xml(file)}" tests="1" failures="1"><testcase classname="${xml(file)}" name="template parses"><failure type="template-error" message="${xml(error ?? 'failed')}">${xml(error ?? 'failed')}</failure></testcase></testsuite>`;
    const cases = [
      testCase(
        file,
        'template',
        result.warnings.filter((w) => w.scenario === undefined),
      ),
    ];
    for (const r of result.renders)
      cases.push(
        testCase(
          file,
          `scenario: ${r.scenario.name}`,
          result.warnings.filter((w) => w.scenario === r.scenario.name),
        ),
      );
    const failures = result.warnings.length ? cases.filter((c) => c.includes('<failure')).length : 0;
    return `<testsuite name="${xml(file)}" tests="${cases.length}" failures="${failures}">${cases.join('')}</testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="segsync preview">${suites.join('')}</testsuites>\n`;
}
