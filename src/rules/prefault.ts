/**
 * Fresh memory costs a page fault per 4 KiB on its first write, and on these machines that is most
 * of a restart's event load (462 MiB of columns: 1.3 s of faults against 0.2 s of copying). A helper
 * thread can take the faults of part of the columns while the main thread fills the rest: it claims
 * 8 MiB slices from the end, writes one byte per page into each, and marks it ready; the main thread
 * claims slices from the start and, meeting one the helper holds, waits for it. No library does
 * this (it needs SharedArrayBuffers and Atomics); a failed helper leaves every slice to the main thread.
 */
import { Worker } from 'node:worker_threads';

const SLICE = 8 * 2 ** 20;
const PAGE = 4096;
const FREE = 0;
const HELPER = 1;
const READY = 2;
const MAIN = 3;
/** Below this, starting a thread costs more than the faults it would take. */
const MIN_BYTES = 64 * 2 ** 20;

// Plain JavaScript evaluated in the thread: it needs no module of ours (nor tsx).
const HELPER_CODE = `
const { workerData } = require('node:worker_threads');
const { buffers, states, slices } = workerData;
const st = new Int32Array(states);
for (let j = slices.length - 1; j >= 0; j--) {
  if (Atomics.compareExchange(st, j, ${FREE}, ${HELPER}) !== ${FREE}) break;
  const [b, from, to] = slices[j];
  const bytes = new Uint8Array(buffers[b], from, to - from);
  for (let i = 0; i < bytes.length; i += ${PAGE}) bytes[i] = 0;
  Atomics.store(st, j, ${READY});
  Atomics.notify(st, j);
}
`;

/** Claims the byte ranges of shared buffers the main thread is about to write. */
export interface Prefault {
  /** Call before writing bytes [from, to) of buffer `b`: returns once the helper no longer touches them. */
  claim(b: number, from: number, to: number): void;
  /** How many slices the helper faulted in so far (benchmarks and tests). */
  helped(): number;
}

/** Starts a helper faulting in the ends of these buffers (none for small ones: claims then return at once). */
export function prefault(buffers: SharedArrayBuffer[]): Prefault {
  const total = buffers.reduce((s, b) => s + b.byteLength, 0);
  if (total < MIN_BYTES) return { claim: () => undefined, helped: () => 0 };
  const slices: [number, number, number][] = [];
  const first: number[] = [];
  buffers.forEach((buf, b) => {
    first.push(slices.length);
    for (let from = 0; from < buf.byteLength; from += SLICE) slices.push([b, from, Math.min(buf.byteLength, from + SLICE)]);
  });
  const states = new SharedArrayBuffer(slices.length * 4);
  const st = new Int32Array(states);
  try {
    new Worker(HELPER_CODE, { eval: true, workerData: { buffers, states, slices } }).unref();
  } catch {
    // No thread to be had: the main thread takes every fault itself, as without a helper.
  }
  return {
    claim(b, from, to) {
      if (to <= from) return;
      const lo = first[b]! + Math.floor(from / SLICE);
      const hi = first[b]! + Math.floor((to - 1) / SLICE);
      for (let j = lo; j <= hi; j++) {
        const was = Atomics.compareExchange(st, j, FREE, MAIN);
        if (was === HELPER) Atomics.wait(st, j, HELPER);
      }
    },
    helped: () => st.filter((s) => s === READY).length,
  };
}
