/**
 * Where the rules' snapshots keep their bytes: one file each in a folder beside the store file
 * (`<store>-snapshots/`), or memory for an in-memory store. The store's own rows (event_cache,
 * rules_state) name the file a snapshot lives in, so the triggers that drop a row drop the snapshot:
 * a file no row names is never read, and the next write of its kind deletes it.
 *
 * Why files and not blobs: SQLite reads a blob through overflow pages, a read call per 4 KiB page,
 * and a restart's 580 MiB of snapshots cost about 0.5 s more that way than as plain file reads.
 * Files are not synced: a snapshot's check part (see rules/snapshot-parts.ts) rejects one the disk
 * lost or cut short, which costs one slow start and never a wrong one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, rmSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';

/** The two kinds of snapshot (one live file each). */
export type SnapshotKind = 'events' | 'rules';

/** Snapshot bytes by file name. */
export interface SnapshotFiles {
  /** Writes the parts to a new file of this kind; returns its name. */
  write(kind: SnapshotKind, parts: readonly Uint8Array[]): string;
  /** The parts of a file, in order, read as iterated (undefined when it is gone). */
  read(name: string): Iterable<Buffer> | undefined;
  /** Deletes this kind's files other than `keep`. */
  prune(kind: SnapshotKind, keep: string): void;
  /** Drops what an in-memory store holds (files stay on disk). */
  close(): void;
}

/** Bytes of a part's length before it in a file. */
const FRAME = 4;
/** Parts joined per write call. */
const WRITE_BATCH = 64;

const nameOf = (kind: SnapshotKind): string => `${kind}-${randomBytes(8).toString('hex')}.bin`;
const kindOfName = (name: string): string | undefined => /^(events|rules)-[0-9a-f]{16}\.bin$/.exec(name)?.[1];

/** The folder beside a store file that holds its snapshots. */
export function snapshotFolder(storePath: string): string {
  return `${storePath}-snapshots`;
}

/** Snapshot files in the folder beside the store file at `storePath`. */
export function snapshotFilesOnDisk(storePath: string): SnapshotFiles {
  const folder = snapshotFolder(storePath);
  return {
    write(kind, parts) {
      if (!existsSync(folder)) mkdirSync(folder);
      const name = nameOf(kind);
      const path = join(folder, name);
      const fd = openSync(path, 'wx');
      try {
        for (let from = 0; from < parts.length; from += WRITE_BATCH) {
          const batch: Uint8Array[] = [];
          for (const p of parts.slice(from, from + WRITE_BATCH)) {
            const head = Buffer.alloc(FRAME);
            head.writeUInt32LE(p.byteLength);
            batch.push(head, p);
          }
          writeAll(fd, batch);
        }
      } catch (err) {
        closeSync(fd);
        unlinkSync(path);
        throw err;
      }
      closeSync(fd);
      return name;
    },
    read(name) {
      let fd: number;
      try {
        fd = openSync(join(folder, name), 'r');
      } catch {
        // Deleted by a newer snapshot's write since its row was read: as if there were none.
        return undefined;
      }
      return readFrames(fd);
    },
    prune(kind, keep) {
      if (!existsSync(folder)) return;
      for (const name of readdirSync(folder)) if (name !== keep && kindOfName(name) === kind) rmSync(join(folder, name), { force: true });
    },
    close: () => undefined,
  };
}

/** Snapshot "files" held in memory, for a store that is itself in memory. */
export function snapshotFilesInMemory(): SnapshotFiles {
  const files = new Map<string, Buffer[]>();
  return {
    write(kind, parts) {
      const name = nameOf(kind);
      // Copied: the parts are views of arrays that go on changing.
      files.set(
        name,
        parts.map((p) => Buffer.from(p)),
      );
      return name;
    },
    read: (name) => files.get(name),
    prune(kind, keep) {
      for (const name of [...files.keys()]) if (name !== keep && kindOfName(name) === kind) files.delete(name);
    },
    close: () => files.clear(),
  };
}

function writeAll(fd: number, buffers: Uint8Array[]): void {
  let rest = buffers;
  while (rest.length) {
    let written = writevSync(fd, rest);
    // A short write (a signal, a full pipe): go on from the first byte not written.
    let k = 0;
    while (k < rest.length && written >= rest[k]!.byteLength) written -= rest[k++]!.byteLength;
    rest = rest.slice(k);
    if (written && rest.length) rest[0] = rest[0]!.subarray(written);
  }
}

/** The frames of an open file, each in a buffer of its own; the file closes at its end or when the reader stops. */
function* readFrames(fd: number): Generator<Buffer> {
  try {
    const head = Buffer.alloc(FRAME);
    for (;;) {
      if (readFull(fd, head) < FRAME) return;
      const part = Buffer.allocUnsafe(head.readUInt32LE(0));
      // A part cut short ends the parts: the snapshot's check rejects what is missing.
      if (readFull(fd, part) < part.length) return;
      yield part;
    }
  } finally {
    closeSync(fd);
  }
}

function readFull(fd: number, into: Buffer): number {
  let got = 0;
  while (got < into.length) {
    const n = readSync(fd, into, got, into.length - got, null);
    if (n === 0) break;
    got += n;
  }
  return got;
}
