import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

function files(dir: string, ending: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' ? [] : files(path, ending);
    return e.name.endsWith(ending) ? [path] : [];
  });
}

describe('pointers to docs', () => {
  it('every relative link in README.md and docs/ leads to a file of the repository', () => {
    const broken: string[] = [];
    for (const file of [join(ROOT, 'README.md'), ...files(join(ROOT, 'docs'), '.md')]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(dirname(file), target))) broken.push(`${relative(ROOT, file)} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every docs/… page that the code names (hints, help, comments) exists', () => {
    const missing = new Set<string>();
    for (const file of [...files(join(ROOT, 'src'), '.ts'), ...files(join(ROOT, 'connectors'), '.ts'), ...files(join(ROOT, 'templates'), '.yaml')]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bdocs\/[\w/.-]+\.md\b/g)) {
        if (!existsSync(join(ROOT, m[0]))) missing.add(`${relative(ROOT, file)} → ${m[0]}`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
