/**
 * Streams a text file through a splitter that cuts it into records across chunk boundaries (what it
 * cannot finish in one chunk it carries to the next): the CSV and JSON-array readers share it.
 */
import { createReadStream } from 'node:fs';

/** Cuts text into records; `last` says the file ends with this chunk. */
export interface Splitter<T> {
  push(chunk: string, last: boolean): T[];
}

/** The file's records, a batch per chunk read (`chunkBytes`: small ones are for tests). */
export async function* splitFile<T>(file: string, splitter: Splitter<T>, onBytes?: (n: number) => void, chunkBytes = 1 << 20): AsyncGenerator<T[]> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: chunkBytes });
  for await (const chunk of stream as AsyncIterable<string>) {
    onBytes?.(Buffer.byteLength(chunk));
    const records = splitter.push(chunk, false);
    if (records.length) yield records;
  }
  const rest = splitter.push('', true);
  if (rest.length) yield rest;
}
