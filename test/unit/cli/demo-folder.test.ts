import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_MARKER, prepareDemoFolder } from '../../../src/cli/demo-folder';
import { UsageError } from '../../../src/errors';

describe('the demo folder', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'segsync-demo-folder-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("makes a new folder, with parents, and marks it as the demo's", () => {
    const dir = join(root, 'a', 'demo');
    prepareDemoFolder(dir);
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('takes an empty folder', () => {
    const dir = join(root, 'empty');
    mkdirSync(dir);
    prepareDemoFolder(dir);
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('empties a folder an earlier demo made, and marks it again', () => {
    const dir = join(root, 'demo');
    prepareDemoFolder(dir);
    writeFileSync(join(dir, 'segsync.db'), 'x');
    mkdirSync(join(dir, 'preview'));
    writeFileSync(join(dir, 'preview', 'index.html'), 'x');
    prepareDemoFolder(dir);
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('refuses a folder with files a demo did not make, and leaves every file in place', () => {
    const dir = join(root, 'project');
    mkdirSync(dir);
    writeFileSync(join(dir, 'segsync.yaml'), 'version: 1\n');
    writeFileSync(join(dir, 'notes.md'), 'mine');
    let error: unknown;
    try {
      prepareDemoFolder(dir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toContain('notes.md, segsync.yaml');
    expect((error as UsageError).hint).toMatch(/new or empty folder/);
    expect(readdirSync(dir).sort()).toEqual(['notes.md', 'segsync.yaml']);
  });

  it('refuses a file and a link, touching neither', () => {
    const file = join(root, 'file');
    writeFileSync(file, 'mine');
    expect(() => prepareDemoFolder(file)).toThrow(/is not a folder/);
    const target = join(root, 'target');
    prepareDemoFolder(target);
    writeFileSync(join(target, 'kept'), 'x');
    const link = join(root, 'link');
    symlinkSync(target, link);
    expect(() => prepareDemoFolder(link)).toThrow(/is not a folder/);
    expect(existsSync(join(target, 'kept'))).toBe(true);
  });
});
