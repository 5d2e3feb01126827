/**
 * Whether this process's malloc gets transparent huge pages, which halve the rules engine's load at
 * a start (bin/segsync.js asks glibc for them; a daemon started as `node bin/segsync.js` does not).
 */
import { readFileSync } from 'node:fs';

export type HugePages = 'on' | 'off' | 'unavailable';

/** What the answer depends on (the real process by default; tests pass their own). */
export interface HugePagesProbe {
  platform: NodeJS.Platform;
  /** glibc's version, undefined under musl or elsewhere (GLIBC_TUNABLES means nothing there). */
  glibc: string | undefined;
  tunables: string | undefined;
  /** The kernel's THP mode file, or undefined when it cannot be read. */
  thpMode: () => string | undefined;
}

function processProbe(): HugePagesProbe {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return {
    platform: process.platform,
    glibc: report?.header?.glibcVersionRuntime,
    tunables: process.env.GLIBC_TUNABLES,
    thpMode: () => {
      try {
        return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

/** 'on': huge pages are used; 'off': the kernel grants them but this process does not ask; else 'unavailable'. */
export function hugePages(probe: HugePagesProbe = processProbe()): HugePages {
  if (probe.platform !== 'linux' || !probe.glibc) return 'unavailable';
  const mode = /\[(\w+)\]/.exec(probe.thpMode() ?? '')?.[1];
  if (mode === 'always') return 'on';
  if (mode !== 'madvise') return 'unavailable';
  return /(^|:)glibc\.malloc\.hugetlb=[12](:|$)/.test(probe.tunables ?? '') ? 'on' : 'off';
}
