import { SingleBar, Presets } from 'cli-progress';

/** A progress bar on stderr when it is a terminal; silent otherwise (pipes, CI, tests). */
export interface Progress {
  update(value: number): void;
  stop(): void;
}

/** Starts a bar over `total` units (bytes, contacts) labelled `label`. */
export function startProgress(label: string, total: number, unit = ''): Progress {
  if (!process.stderr.isTTY || total <= 0) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total}${unit} | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 50 },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (v) => bar.update(Math.min(v, total)), stop: () => bar.stop() };
}
