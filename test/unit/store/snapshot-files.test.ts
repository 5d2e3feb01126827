import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotFilesInMemory, snapshotFilesOnDisk, snapshotFolder } from '../../../src/store/sqlite/snapshot-files';
import type { SnapshotFiles } from '../../../src/store/sqlite/snapshot-files';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'segsync-snapshot-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Parts of several sizes, an empty one among them, with bytes that tell them apart. */
function someParts(): Uint8Array[] {
  return [
    Buffer.from('{"v":1}'),
    new Uint8Array(0),
    Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 255),
    new Float64Array([1.5, -2, NaN]).subarray(1),
  ].map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
}

const kinds: [string, () => SnapshotFiles][] = [
  ['on disk', () => snapshotFilesOnDisk(join(dir, 'store.db'))],
  ['in memory', () => snapshotFilesInMemory()],
];

describe.each(kinds)('snapshot files %s', (_, make) => {
  it('reads back the parts written, in order and byte for byte, and each write is a file of its own', () => {
    const files = make();
    const parts = someParts();
    const a = files.write('events', parts);
    const b = files.write('events', parts.slice(0, 2));
    expect(a).not.toBe(b);
    expect([...files.read(a)!].map((p) => Buffer.from(p).toString('hex'))).toEqual(parts.map((p) => Buffer.from(p).toString('hex')));
    expect([...files.read(b)!]).toHaveLength(2);
  });

  it('keeps what was written when the arrays the parts view change afterwards', () => {
    const files = make();
    const live = new Uint8Array([1, 2, 3]);
    const name = files.write('rules', [live]);
    live[0] = 9;
    expect([...[...files.read(name)!][0]!]).toEqual([1, 2, 3]);
  });

  it('prunes only the kind asked for, keeping the one named', () => {
    const files = make();
    const old = files.write('events', someParts());
    const keep = files.write('events', someParts());
    const rules = files.write('rules', someParts());
    files.prune('events', keep);
    expect(files.read(old)).toBeUndefined();
    expect(files.read(keep)).toBeDefined();
    expect(files.read(rules)).toBeDefined();
  });

  it('reads a name it never wrote as no snapshot', () => {
    expect(make().read('events-0000000000000000.bin')).toBeUndefined();
  });
});

describe('snapshot files on disk', () => {
  const store = (): string => join(dir, 'store.db');

  it('live in a folder beside the store file, made on the first write', () => {
    const files = snapshotFilesOnDisk(store());
    const name = files.write('rules', someParts());
    expect(readdirSync(snapshotFolder(store()))).toEqual([name]);
    expect(statSync(join(snapshotFolder(store()), name)).size).toBe(someParts().reduce((s, p) => s + 4 + p.byteLength, 0));
  });

  it('ends the parts where a file cut short ends, dropping the part cut (the check part then rejects the snapshot)', () => {
    const files = snapshotFilesOnDisk(store());
    const name = files.write('events', someParts());
    truncateSync(join(snapshotFolder(store()), name), 4 + 7 + 4 + 4 + 1000);
    expect([...files.read(name)!].map((p) => p.length)).toEqual([7, 0]);
  });

  it('closes the file when the parts end and when the reader stops early', () => {
    const files = snapshotFilesOnDisk(store());
    const name = files.write('events', someParts());
    const open = (): number => readdirSync('/proc/self/fd').length;
    const before = open();
    expect([...files.read(name)!]).toHaveLength(4);
    expect(open()).toBe(before);
    const it = files.read(name)![Symbol.iterator]();
    it.next();
    expect(open()).toBe(before + 1);
    it.return?.();
    expect(open()).toBe(before);
  });

  it('leaves alone what is not a snapshot of the kind pruned', () => {
    const files = snapshotFilesOnDisk(store());
    files.write('events', someParts());
    writeFileSync(join(snapshotFolder(store()), 'notes.txt'), 'mine');
    writeFileSync(join(snapshotFolder(store()), 'events-notes.txt'), 'mine');
    files.prune('events', 'none');
    expect(readdirSync(snapshotFolder(store())).sort()).toEqual(['events-notes.txt', 'notes.txt']);
  });
});
