/**
 * Reads the files of a POSIX (ustar) tar archive: Mailchimp's batch results come as a gzipped tar of
 * JSON files. Hand-written because no declared dependency reads tar (tar-stream is only a transitive
 * one), and the format needs no more than a 512-byte header per file.
 */

export interface TarFile {
  name: string;
  data: Buffer;
}

const BLOCK = 512;

function text(header: Buffer, offset: number, length: number): string {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

/** The regular files in an uncompressed tar archive, in order. */
export function readTarFiles(archive: Buffer): TarFile[] {
  const files: TarFile[] = [];
  for (let at = 0; at + BLOCK <= archive.length;) {
    const header = archive.subarray(at, at + BLOCK);
    // Two zero blocks end the archive; one is enough to stop.
    if (header.every((b) => b === 0)) break;
    const size = parseInt(text(header, 124, 12).trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0) throw new Error(`tar: unreadable size at byte ${at}`);
    const prefix = text(header, 345, 155);
    const name = prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100);
    const type = String.fromCharCode(header[156] ?? 0);
    const start = at + BLOCK;
    if (type === '0' || type === '\0') files.push({ name, data: archive.subarray(start, start + size) });
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}
