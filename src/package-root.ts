/**
 * Where segsync's own files (package.json, templates/) are. Found upward from this module rather than
 * at a fixed `../..`, because the same code runs from src/ (TypeScript) and from a compiled build in
 * dist/ (bin/build.js), which sit at different depths.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SegsyncError } from './errors';

let found: string | undefined;

/** The folder holding segsync's package.json. */
export function packageRoot(): string {
  if (found !== undefined) return found;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return (found = dir);
    if (dirname(dir) === dir)
      throw new SegsyncError('E_INSTALL', `no package.json above ${__dirname}`, { hint: 'segsync is installed incompletely: reinstall it (npm ci)' });
  }
}
