/**
 * The demo's folder. The demo starts from an empty folder every time, so it empties the one it is
 * given, but only a folder that a demo made: one that is new, empty, or carries the marker file a demo
 * leaves. Anything else (a project, a folder of notes, the current directory) is refused untouched.
 */
import { lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors';

/** The file a demo leaves in its folder; its presence is what allows the next demo to empty the folder. */
export const DEMO_MARKER = '.segsync-demo';

const MARKER_TEXT = 'This folder was made by `segsync demo`. The next `segsync demo --dir` here empties it first.\n';

/** Makes `dir` an empty demo folder with its marker, or refuses (UsageError) a folder a demo did not make. */
export function prepareDemoFolder(dir: string): void {
  // lstat, not stat: a link is refused rather than followed to a folder the demo did not make.
  const stat = lstatSync(dir, { throwIfNoEntry: false });
  if (stat) {
    if (!stat.isDirectory()) {
      throw new UsageError(`--dir ${dir} is not a folder`, { hint: 'give --dir a new folder (the default is .segsync/demo)' });
    }
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
      throw new UsageError(
        `--dir ${dir} holds files that a demo did not make (${describeEntries(entries)}); the demo empties its folder, so it leaves this one alone`,
        {
          hint: `give --dir a new or empty folder (the default is .segsync/demo), or delete ${dir} yourself if nothing in it is needed`,
        },
      );
    }
    for (const entry of entries) rmSync(join(dir, entry), { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, DEMO_MARKER), MARKER_TEXT);
}

function describeEntries(entries: string[]): string {
  const shown = [...entries].sort().slice(0, 3).join(', ');
  return entries.length > 3 ? `${shown} and ${entries.length - 3} more` : shown;
}
