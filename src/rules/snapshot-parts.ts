/**
 * The framing of the rules' snapshots in the store: a JSON header, typed arrays' bytes in chunks,
 * then a check part (byte count and CRC-32 of everything before it). A snapshot cut short, missing
 * a part or changed in any byte fails the check and is not read: the caller rebuilds from the data.
 */
import { crc32 } from 'node:zlib';

/** Bytes per stored part: SQLite blobs are read and written whole, so a part bounds what one step holds. */
const CHUNK = 64 * 2 ** 20;

interface Check {
  bytes: number;
  crc: number;
}

type Typed = Uint8Array | Int32Array | Float64Array;

function checkOf(parts: Uint8Array[]): Check {
  let crc = 0;
  let bytes = 0;
  for (const p of parts) {
    crc = crc32(p, crc);
    bytes += p.length;
  }
  return { bytes, crc };
}

function parseJson(b: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as unknown;
  } catch {
    // Not JSON: not a part this code wrote; the caller rebuilds from the data.
    return undefined;
  }
}

/** A header and arrays as parts for the store, ending with the check part. */
export function packParts(header: unknown, arrays: readonly Typed[]): Uint8Array[] {
  const parts: Uint8Array[] = [Buffer.from(JSON.stringify(header), 'utf8')];
  for (const a of arrays) {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let from = 0; from < bytes.length; from += CHUNK) parts.push(bytes.subarray(from, Math.min(bytes.length, from + CHUNK)));
  }
  parts.push(Buffer.from(JSON.stringify(checkOf(parts)), 'utf8'));
  return parts;
}

/** Reads arrays back in the order they were packed. */
export interface PartsReader {
  header: unknown;
  /** Bytes after the header (for a size check before reading). */
  bodyBytes: number;
  /** The next `count` elements, copied into a fresh array (shared memory when `shared`). */
  take<T extends Typed>(Ctor: { new (b: ArrayBuffer | SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, count: number, shared?: boolean): T;
}

/** A reader over stored parts, or undefined when they are not a whole, intact snapshot. */
export function unpackParts(parts: readonly Uint8Array[]): PartsReader | undefined {
  if (parts.length < 2) return undefined;
  const check = parseJson(parts[parts.length - 1]!) as Check | undefined;
  const body = parts.slice(0, -1);
  const actual = checkOf(body);
  if (!check || check.bytes !== actual.bytes || check.crc !== actual.crc) return undefined;
  const header = parseJson(body[0]!);
  if (header === undefined) return undefined;
  let part = 1;
  let at = 0;
  return {
    header,
    bodyBytes: actual.bytes - body[0]!.length,
    take(Ctor, count, shared = false) {
      const bytes = count * Ctor.BYTES_PER_ELEMENT;
      // Copied into a buffer of its own: a stored part's offset need not suit a Float64Array.
      const out = new Ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
      const dest = new Uint8Array(out.buffer);
      for (let filled = 0; filled < dest.length; ) {
        const src = body[part];
        if (!src) throw new RangeError('snapshot parts end before their arrays');
        const len = Math.min(src.length - at, dest.length - filled);
        dest.set(src.subarray(at, at + len), filled);
        filled += len;
        at += len;
        if (at === src.length) {
          part++;
          at = 0;
        }
      }
      return out;
    },
  };
}
