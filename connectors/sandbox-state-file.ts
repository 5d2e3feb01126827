/**
 * A sandbox's state on disk (`segsync sandbox VENDOR --state FILE`): read once at start, written
 * atomically (temporary file, fsync, rename) shortly after each change and once more on shutdown, so
 * a restarted sandbox keeps its contacts, ids and lists and a store that synced with it stays valid.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../src/errors';
import type { EspName } from '../src/model/types';

/** What a sandbox gives and takes to be kept on disk. */
export interface PersistentState {
  /** Everything the sandbox holds, as plain data (Maps and Sets allowed). */
  snapshot(): unknown;
  /** Replaces everything the sandbox holds with a snapshot read back. */
  restore(snapshot: unknown): void;
}

const FORMAT = 'segsync-sandbox-state';
const VERSION = 1;

const envelope = z.object({
  format: z.literal(FORMAT),
  version: z.literal(VERSION),
  esp: z.enum(['hubspot', 'mailchimp', 'klaviyo']),
  savedAt: z.string(),
  state: z.record(z.string(), z.unknown()),
});

/*
 * JSON keeps the file readable and diffable; Maps and Sets (the sandboxes' natural shapes) are tagged
 * on the way out and rebuilt on the way in. Plain JSON.stringify would turn both into `{}`.
 */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return { $map: [...value.entries()] };
  if (value instanceof Set) return { $set: [...value.values()] };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as { $map?: unknown; $set?: unknown };
    if (Array.isArray(v.$map) && Object.keys(v).length === 1) return new Map(v.$map as [unknown, unknown][]);
    if (Array.isArray(v.$set) && Object.keys(v).length === 1) return new Set(v.$set);
  }
  return value;
}

/** Replaces a live map's entries with a restored snapshot's (the sandboxes hold their maps as readonly fields). */
export function replaceEntries<K, V>(target: Map<K, V>, source: Map<K, V>): void {
  target.clear();
  for (const [k, v] of source) target.set(k, v);
}

/** Serialises a snapshot as the state file's text. */
export function encodeState(esp: EspName, snapshot: unknown, now: number): string {
  return `${JSON.stringify({ format: FORMAT, version: VERSION, esp, savedAt: new Date(now).toISOString(), state: snapshot }, replacer, 1)}\n`;
}

/** Parses a state file's text; refuses, naming the file and what to do, anything it cannot use. */
export function decodeState(esp: EspName, text: string, file: string): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text, reviver);
  } catch (err) {
    throw new UsageError(`${file} is not a sandbox state file: ${(err as Error).message}`, {
      location: { file },
      hint: 'give --state a new file name (the sandbox creates it), or move this file away; it was left untouched',
    });
  }
  const parsed = envelope.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(`${file} is not a segsync sandbox state file (format ${FORMAT}, version ${VERSION})`, {
      location: { file },
      hint: 'give --state a new file name (the sandbox creates it), or move this file away; it was left untouched',
    });
  }
  if (parsed.data.esp !== esp) {
    throw new UsageError(`${file} holds a ${parsed.data.esp} sandbox, not ${esp}`, {
      location: { file },
      hint: `start it with \`segsync sandbox ${parsed.data.esp} --state ${file}\`, or give the ${esp} sandbox its own state file`,
    });
  }
  return parsed.data.state;
}

/** Writes `text` to `file` so that a reader (or a crash) only ever sees the old or the new whole file. */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  syncFolder(dirname(file));
}

/** Makes the rename itself durable; platforms that cannot fsync a folder (Windows) skip it. */
function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort: the file itself was fsynced before the rename.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface StateFileOptions {
  esp: EspName;
  file: string;
  state: PersistentState;
  /** Wall-clock time, for `savedAt`. */
  now?: () => number;
  /** How long after a change the file is written (changes in between share one write). Default 200 ms. */
  delayMs?: number;
  /** Told about a failed background write (the next change or shutdown tries again); default: a line on stderr. */
  onError?: (err: Error, file: string) => void;
}

function warn(err: Error, file: string): void {
  process.stderr.write(`segsync sandbox: could not write the state file ${file} (${err.message}); trying again on the next change and on exit\n`);
}

/** A sandbox's state file: `load()` at start, `changed()` after each change, `close()` on shutdown. */
export class StateFile {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private readonly delayMs: number;

  constructor(private readonly options: StateFileOptions) {
    this.delayMs = options.delayMs ?? 200;
  }

  /**
   * Restores the sandbox from the file when there is one (true), else writes the empty state at once
   * (false), so that a path that cannot be written is refused at start, not at the first change.
   */
  load(): boolean {
    const { file, esp, state } = this.options;
    if (!existsSync(file)) {
      this.dirty = true;
      try {
        this.flush();
      } catch (err) {
        throw new UsageError(`cannot write the sandbox state file ${file}: ${(err as Error).message}`, {
          location: { file },
          hint: 'check the path and its permissions, or give --state another file',
        });
      }
      return false;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the sandbox state file ${file}: ${(err as Error).message}`, {
        location: { file },
        hint: 'check the path and its permissions',
      });
    }
    state.restore(decodeState(esp, text, file));
    return true;
  }

  /** Schedules a write; several changes in quick succession share one. */
  changed(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.flush();
      } catch (err) {
        this.dirty = true;
        (this.options.onError ?? warn)(err as Error, this.options.file);
      }
    }, this.delayMs);
    this.timer.unref();
  }

  /**
   * Schedules a write after a request that may have changed something. Reads are skipped: none changes
   * what a restart needs (a Klaviyo job a read settles is kept unsettled and settles again after a restart).
   */
  afterRequest(method: string): void {
    if (method !== 'GET' && method !== 'HEAD') this.changed();
  }

  /** Writes now if anything changed since the last write. */
  flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const { esp, file, state } = this.options;
    writeFileAtomic(file, encodeState(esp, state.snapshot(), (this.options.now ?? Date.now)()));
  }

  /** Cancels a pending write and writes the final state (always: changes made in-process count too). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = true;
    this.flush();
  }
}
