import { prefault } from '../../../src/rules/prefault';

const MiB = 2 ** 20;

/** Writes a pattern of its own into every 256 KiB of each buffer, claiming each range first, as a snapshot read does. */
function fillAll(buffers: SharedArrayBuffer[], claim: (b: number, from: number, to: number) => void): void {
  buffers.forEach((buf, b) => {
    const bytes = new Uint8Array(buf);
    for (let from = 0, k = 0; from < bytes.length; from += 256 * 1024, k++) {
      const to = Math.min(bytes.length, from + 256 * 1024);
      claim(b, from, to);
      bytes.fill(((b * 31 + k) % 255) + 1, from, to);
    }
  });
}

function intact(buffers: SharedArrayBuffer[]): boolean {
  return buffers.every((buf, b) => {
    const bytes = new Uint8Array(buf);
    for (let from = 0, k = 0; from < bytes.length; from += 256 * 1024, k++) {
      const want = ((b * 31 + k) % 255) + 1;
      const to = Math.min(bytes.length, from + 256 * 1024);
      for (let i = from; i < to; i++) if (bytes[i] !== want) return false;
    }
    return true;
  });
}

describe('faulting in shared columns on a helper thread', () => {
  it('never writes over what the main thread wrote, whether it gets there first or the helper does', () => {
    for (const headStartMs of [0, 150]) {
      const buffers = [40 * MiB, 4096, 40 * MiB - 3].map((n) => new SharedArrayBuffer(n));
      const faults = prefault(buffers);
      // A head start lets the helper hold slices the main thread then has to wait for.
      if (headStartMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, headStartMs);
      fillAll(buffers, faults.claim);
      if (headStartMs) expect(faults.helped()).toBeGreaterThan(0);
      expect(intact(buffers)).toBe(true);
    }
  });

  it('starts no helper for small columns', () => {
    const buffers = [MiB, MiB].map((n) => new SharedArrayBuffer(n));
    const faults = prefault(buffers);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    fillAll(buffers, faults.claim);
    expect(faults.helped()).toBe(0);
    expect(intact(buffers)).toBe(true);
  });
});
