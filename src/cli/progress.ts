import { SingleBar, Presets } from 'cli-progress';
import { formatBytes, formatDuration, formatRate } from '../model/units';

/** A progress bar on stderr when it is a terminal; silent otherwise (pipes, CI, tests). */
export interface Progress {
  update(value: number): void;
  stop(): void;
}

/**
 * Starts a bar over `total` units labelled `label`: bytes shown as KiB/MiB, other units as counts,
 * with the rate and the time left.
 */
export function startProgress(label: string, total: number, unit = ''): Progress {
  if (!process.stderr.isTTY || total <= 0) return { update: () => undefined, stop: () => undefined };
  const bytes = unit === 'bytes';
  const amount = (n: number): string => (bytes ? formatBytes(n) : `${Math.round(n).toLocaleString('en-US')}`);
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {done}/{all}${bytes || !unit ? '' : ` ${unit}`} | {rate} | {left}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  const payload = (v: number): Record<string, string> => {
    const elapsed = Date.now() - started;
    const left = v > 0 && v < total ? `${formatDuration((elapsed / v) * (total - v))} left` : v >= total ? `done in ${formatDuration(elapsed)}` : 'starting';
    return {
      done: amount(v),
      all: amount(total),
      rate: bytes ? `${formatBytes(elapsed > 0 ? (v / elapsed) * 1000 : 0)}/s` : formatRate(v, elapsed, unit || 'items'),
      left,
    };
  };
  bar.start(total, 0, payload(0));
  return { update: (v) => bar.update(Math.min(v, total), payload(Math.min(v, total))), stop: () => bar.stop() };
}
